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

/// A conference ID: 4 to 12 ASCII digits, no leading zero.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConferenceId(String);

impl ConferenceId {
    /// Accepts 4 to 12 ASCII digits, the first not `0`. Phone systems strip leading zeros
    /// from what a caller keys in, so `08885844` and `8885844` reach the same meeting: with
    /// leading zeros allowed, two users could each hold "their own" spelling of one dialled ID.
    /// One canonical spelling per ID keeps uniqueness in the tenant a property of the strings.
    pub fn parse(s: &str) -> Option<Self> {
        ((4..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0'))
            .then(|| Self(s.to_string()))
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

/// An e-mail address in the one grammar every mail relay reads the same way: a dot-atom
/// local part and a host name, nothing else.
///
/// Refused, beyond what could break a header: `%` and `!` (Postfix's `allow_percent_hack` and
/// `swap_bangpath`, on by default, deliver `attacker%evil.example@corp.example` and
/// `evil.example!attacker@corp.example` to evil.example, past any check of the domain after
/// the `@`), quoted local parts, source routes (`@relay:user@host`), address literals
/// (`user@[192.0.2.1]`) and IP-address domains. The domain is compared in its normalised form
/// (IDNA to ASCII, lower case), so `bücher.example` and `BÜCHER.example` are one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress {
    address: lettre::Address,
    /// The domain as DNS and relays see it: IDNA ASCII, lower case.
    domain: String,
}

/// The same grammar as a JSON-schema `pattern`, for the CRDs (Go RE2 and Rust `regex` both
/// accept it). The domain part is looser here than in [`EmailAddress::parse`] (IDNA cannot be
/// written as a pattern); every character the pattern lets through in it is one a domain may
/// hold before normalisation.
pub const EMAIL_PATTERN: &str = r#"^[A-Za-z0-9#$&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*@[^\x00-\x20\x7F-\x9F\x{2028}\x{2029}\x{202A}-\x{202E}\x{2066}-\x{2069}@%!:;,<>()\[\]\\"]+$"#;

/// Why a string is not an [`EmailAddress`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not `local@domain` with exactly one `@`.
    #[error("is not an address of the form name@domain.example")]
    Shape,
    /// A character no relay may read as routing or a header break.
    #[error(
        "contains {}, which an address cannot hold (mail relays route on % and !; spaces, control and bidirectional characters break or spoof headers)",
        describe(*.0)
    )]
    Forbidden(char),
    /// Quoted local part, empty label or a dot at either end.
    #[error(
        "has a local part (before the @) that is not dot-separated letters, digits and !#$&'*+/=?^_`{{|}}~- (no quotes)"
    )]
    LocalPart,
    /// Not a host name: an address literal, an IP address, or not a valid (international)
    /// domain.
    #[error(
        "has a domain that is not a host name such as acme.example (address literals and IP addresses are not allowed)"
    )]
    Domain,
    /// Longer than SMTP allows.
    #[error("is longer than SMTP allows (64 characters before the @, 254 in all)")]
    TooLong,
}

fn is_atext(c: char) -> bool {
    // RFC 5322 atext without `%` and `!`.
    c.is_ascii_alphanumeric() || "#$&'*+/=?^_`{|}~-".contains(c)
}

impl EmailAddress {
    /// Parses an address in the strict grammar.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        if let Some(c) = s.chars().find(|&c| is_forbidden(c) || c == '%' || c == '!' || c.is_whitespace()) {
            return Err(AddressError::Forbidden(c));
        }
        let (local, domain) = s.split_once('@').ok_or(AddressError::Shape)?;
        if domain.contains('@') || local.is_empty() || domain.is_empty() {
            return Err(AddressError::Shape);
        }
        if local.len() > 64 || s.len() > 254 {
            return Err(AddressError::TooLong);
        }
        if !local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_atext)) {
            return Err(AddressError::LocalPart);
        }
        let ascii = normalise_domain(domain).ok_or(AddressError::Domain)?;
        let address = format!("{local}@{domain}").parse::<lettre::Address>().map_err(|_| AddressError::Shape)?;
        Ok(Self { address, domain: ascii })
    }
    /// The parsed address.
    pub fn address(&self) -> &lettre::Address {
        &self.address
    }
    /// The domain as relays see it: IDNA ASCII, lower case.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

/// `domain` as DNS sees it (IDNA to ASCII, lower case), if it is a host name: LDH labels of 1
/// to 63 characters, 253 in all, not an IP address.
pub fn normalise_domain(domain: &str) -> Option<String> {
    if domain.starts_with('[') {
        return None;
    }
    let ascii = match url::Host::parse(domain).ok()? {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => return None,
    };
    let is_host = ascii.len() <= 253
        && ascii.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    is_host.then_some(ascii)
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.address.fmt(f)
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
        ' ' => "a space (U+0020)".into(),
        '%' | '!' => format!("{c:?}"),
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
    #[cfg(test)]
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
    fn a_conference_id_has_one_spelling() {
        assert!(ConferenceId::parse("8885844").is_some());
        for bad in ["08885844", "0888", "0", "123", "1234567890123", "12a4", "+1234", " 1234", "１２３４"] {
            assert!(ConferenceId::parse(bad).is_none(), "{bad}");
        }
    }

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
        assert!(EmailAddress::parse("alice@acme.example").is_ok());
        assert!(EmailAddress::parse("alice@acme.example\r\nBcc: x@evil.example").is_err());
        assert!(EmailAddress::parse("ali\u{202E}ce@acme.example").is_err());
        assert_eq!(EmailAddress::parse("a@ACME.Example").map(|a| a.domain().to_string()), Ok("acme.example".into()));
    }

    /// Each spelling here reaches another domain than the one after the last `@` on some relay
    /// (percent hack, bang path, source route), or cannot be compared by domain at all.
    const ROUTED_AROUND: [&str; 12] = [
        "attacker%evil.example@corp.example",
        "evil.example!attacker@corp.example",
        "\"attacker@evil.example\"@corp.example",
        "\"a b\"@corp.example",
        "@corp.example:attacker@evil.example",
        "attacker@[192.0.2.1]",
        "attacker@192.0.2.1",
        "attacker@[IPv6:2001:db8::1]",
        "a..b@corp.example",
        ".a@corp.example",
        "a@corp.example@evil.example",
        "a b@corp.example",
    ];

    #[test]
    fn addresses_have_one_grammar_that_no_relay_routes_around() {
        for bad in ROUTED_AROUND {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        for good in ["first.last+tag@corp.example", "o'brien@sub.corp.example", "x_y-z=1@corp.example"] {
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
        assert!(matches!(EmailAddress::parse("a%b@corp.example"), Err(AddressError::Forbidden('%'))));
    }

    #[test]
    fn domains_compare_after_idna_and_case() {
        let a = EmailAddress::parse("anna@BÜCHER.example").expect("international domain");
        let b = EmailAddress::parse("anna@xn--bcher-kva.example").expect("its ASCII form");
        assert_eq!(a.domain(), b.domain());
        assert_eq!(a.domain(), "xn--bcher-kva.example");
        assert!(EmailAddress::parse("anna@-bad.example").is_err());
    }

    #[test]
    fn the_address_pattern_refuses_what_the_type_refuses() {
        let re = regex::Regex::new(EMAIL_PATTERN).expect("pattern compiles");
        for bad in ROUTED_AROUND.iter().filter(|b| !b.ends_with("@192.0.2.1") && **b != "anna@-bad.example") {
            assert!(!re.is_match(bad), "the CRD pattern lets {bad} through");
        }
        for good in ["first.last+tag@corp.example", "anna@bücher.example", "o'brien@sub.corp.example"] {
            assert!(re.is_match(good), "{good}");
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
        for c in (0u32..0x3000).filter_map(char::from_u32).filter(|&c| is_forbidden(c)) {
            assert!(!re.is_match(&format!("a@b{c}.example")), "U+{:04X}", u32::from(c));
        }
    }
}
