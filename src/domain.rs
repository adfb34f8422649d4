//! The small value types every concern shares: validation builds them, provisioning and
//! notification consume them. Each can only hold a valid value, so a function that takes one
//! needs no checks of its own.

use std::fmt;

/// Digits of a PIN, 4 to 12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinLength(u8);

impl PinLength {
    /// Accepts 4..=12.
    pub fn new(n: u8) -> Option<Self> {
        (4..=12).contains(&n).then_some(Self(n))
    }
    /// The number of digits.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

/// Digits of an allocated conference ID, 6 to 12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdLength(u8);

impl IdLength {
    /// Accepts 6..=12.
    pub fn new(n: u8) -> Option<Self> {
        (6..=12).contains(&n).then_some(Self(n))
    }
    /// The number of digits.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

/// A conference ID: 4 to 12 ASCII digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConferenceId(String);

impl ConferenceId {
    /// Accepts 4 to 12 ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        ((4..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())).then(|| Self(s.to_string()))
    }
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A syntactically valid e-mail address (RFC 5321 mailbox, as lettre parses it) with no
/// character that could spoof or break an e-mail header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(lettre::Address);

impl EmailAddress {
    /// Parses an address.
    pub fn parse(s: &str) -> Option<Self> {
        if s.chars().any(is_forbidden) {
            return None;
        }
        s.parse::<lettre::Address>().ok().map(Self)
    }
    /// The parsed address.
    pub fn address(&self) -> &lettre::Address {
        &self.0
    }
    /// The domain part, lower-cased (domains are case-insensitive).
    pub fn domain(&self) -> String {
        self.0.domain().to_ascii_lowercase()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Text shown to people in an e-mail (a display name, a provider's name, a city): any
/// printable Unicode, but no character that could break a header or make the text read
/// differently from what it is.
///
/// Refused: C0 and C1 control characters and DEL (a line break in a display name injects a
/// header, and made lettre's header formatting fail), the line and paragraph separators
/// U+2028 and U+2029, and the bidirectional embedding, override and isolate characters
/// U+202A..U+202E and U+2066..U+2069 (they make "Acme IT" render as something else, the
/// classic spoofing trick in mail clients).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DisplayText(String);

/// The same rule as a JSON-schema `pattern`, for the CRDs, so that API servers refuse such
/// values at admission. Written with `\x{...}` escapes, which both the API server's Go RE2
/// and Rust's `regex` accept.
pub const DISPLAY_TEXT_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F\x{2028}\x{2029}\x{202A}-\x{202E}\x{2066}-\x{2069}]*$";

/// Whether `c` may not appear in a [`DisplayText`] or an [`EmailAddress`].
pub fn is_forbidden(c: char) -> bool {
    // `is_control` is Unicode category Cc: exactly C0, DEL and C1.
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` as it may be printed to a terminal or a log line: every character [`is_forbidden`]
/// refuses (control characters, which carry ESC sequences such as OSC 52 clipboard writes and
/// cursor movement, line separators and bidirectional overrides) is written as a visible
/// `\u{...}` escape, and so is a backslash, so that an escaped value cannot be mistaken for
/// a different one. Values from objects and files are hostile: print them only through this.
pub fn escape_for_terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || is_forbidden(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_forbidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Why a string is not a [`DisplayText`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DisplayTextError {
    /// Empty or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// Holds a refused character.
    #[error(
        "contains {} at character {position}; control characters, line or paragraph separators and bidirectional override or isolate characters are not allowed",
        describe(*.character)
    )]
    Forbidden {
        /// The first refused character.
        character: char,
        /// Its position, counted in characters from 1.
        position: usize,
    },
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a line feed (U+000A)".into(),
        '\r' => "a carriage return (U+000D)".into(),
        '\t' => "a tab (U+0009)".into(),
        c => format!("U+{:04X}", u32::from(c)),
    }
}

impl DisplayText {
    /// Accepts non-empty text with no refused character.
    pub fn parse(s: &str) -> Result<Self, DisplayTextError> {
        if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| is_forbidden(*c)) {
            return Err(DisplayTextError::Forbidden { character: c, position: i + 1 });
        }
        if s.trim().is_empty() {
            return Err(DisplayTextError::Empty);
        }
        Ok(Self(s.to_string()))
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escaping_leaves_no_control_character_and_is_unambiguous() {
        let osc52 = "team\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2A";
        let shown = escape_for_terminal(osc52);
        assert!(!shown.chars().any(is_forbidden), "{shown:?}");
        assert_eq!(shown, "team\\u{1b}]52;c;ZXZpbA==\\u{7}\\u{1b}[2A");
        // A literal backslash-u in the input cannot pass for an escaped control character.
        assert_eq!(escape_for_terminal("a\\u{1b}"), "a\\\\u{1b}");
        assert_eq!(escape_for_terminal("rlo\u{202E}x"), "rlo\\u{202e}x");
        assert!(matches!(escape_for_terminal("plain café"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn display_text_refuses_what_spoofs_or_breaks_headers() {
        for bad in [
            "Acme\nBcc: x@evil.example",
            "Acme\r",
            "tab\there",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
            "ls\u{2028}",
            "ps\u{2029}",
            "rlo\u{202E}moc.elpmaxe",
            "lre\u{202A}",
            "rli\u{2067}x\u{2069}",
        ] {
            assert!(matches!(DisplayText::parse(bad), Err(DisplayTextError::Forbidden { .. })), "{bad:?} was accepted");
        }
        for good in ["Alice Martin", "Chén Wěi", "Zoë d'Arc-Müller", "محمد", "שלום", "IT 🎧"] {
            assert_eq!(DisplayText::parse(good).map(|t| t.0), Ok(good.to_string()));
        }
        assert_eq!(DisplayText::parse("  "), Err(DisplayTextError::Empty));
    }

    #[test]
    fn the_error_names_the_character_and_where() {
        let e = DisplayText::parse("Acme\nIT").expect_err("refused");
        assert_eq!(e.to_string().split(';').next(), Some("contains a line feed (U+000A) at character 5"));
    }

    #[test]
    fn the_crd_pattern_agrees_with_the_type() {
        let re = regex::Regex::new(DISPLAY_TEXT_PATTERN).expect("pattern compiles");
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            assert_eq!(re.is_match(&s), !is_forbidden(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn addresses_refuse_header_breaking_characters() {
        assert!(EmailAddress::parse("alice@acme.example").is_some());
        assert!(EmailAddress::parse("alice@acme.example\r\nBcc: x@evil.example").is_none());
        assert!(EmailAddress::parse("ali\u{202E}ce@acme.example").is_none());
        assert_eq!(EmailAddress::parse("a@ACME.Example").map(|a| a.domain()), Some("acme.example".into()));
    }
}
