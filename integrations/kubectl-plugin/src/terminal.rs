//! The only way the plugin prints. Nearly everything it shows comes from an object or the API
//! server, and whoever may write the object chooses it: an ESC in a tenant name or a condition
//! message would reach the administrator's terminal as an escape sequence (an OSC 52 clipboard
//! write, cursor movement that hides a line), and a line break in one would forge a line of
//! the plugin's output.
//!
//! So the views do not get a `Write`: they get a [`Terminal`], which takes whole lines and
//! writes each through [`escape_for_terminal`]. The plugin's own text goes through it too,
//! which changes nothing (it holds no control character and no backslash); a value's line
//! break or ESC becomes a visible `\u{..}`, and the only line breaks written are the ones
//! [`Terminal::line`] adds. A table's cells are escaped one by one, so that the tabs between
//! them stay column separators (the tab writer turns them into spaces). A new print path cannot
//! forget the escaping: there is no other way to print (a test checks the module's sources for
//! print macros and raw writes).

use std::io::{self, IsTerminal, Write};

use tabwriter::TabWriter;

use conferencing_operator::domain::escape_for_terminal;

/// Lines to a terminal (or a pipe, or a buffer in tests), each escaped.
pub struct Terminal<W: Write> {
    out: W,
}

impl Terminal<io::Stdout> {
    /// Standard output.
    pub fn stdout() -> Self {
        Terminal::new(io::stdout())
    }
}

impl Terminal<io::Stderr> {
    /// Standard error. Unlocked: indicatif's spinner thread writes to it too.
    pub fn stderr() -> Self {
        Terminal::new(io::stderr())
    }
}

/// Whether standard error is a terminal (where a spinner may redraw in place).
pub(crate) fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

impl<W: Write> Terminal<W> {
    /// Lines to `out`.
    pub fn new(out: W) -> Self {
        Terminal { out }
    }

    /// Writes `line`, escaped, and a line break.
    pub fn line(&mut self, line: impl AsRef<str>) -> io::Result<()> {
        let mut text = escape_for_terminal(line.as_ref()).into_owned();
        text.push('\n');
        self.out.write_all(text.as_bytes())
    }

    /// Writes an empty line.
    pub fn blank(&mut self) -> io::Result<()> {
        self.out.write_all(b"\n")
    }

    /// Writes every line of `text`, each escaped (for a block the plugin rendered, such as the
    /// YAML to commit).
    pub fn lines(&mut self, text: &str) -> io::Result<()> {
        text.lines().try_for_each(|l| self.line(l))
    }

    /// Writes what `f` writes, its rows aligned in columns (two spaces apart).
    pub fn aligned(&mut self, f: impl FnOnce(&mut Terminal<TabWriter<Vec<u8>>>) -> io::Result<()>) -> io::Result<()> {
        let mut table = Terminal::new(TabWriter::new(Vec::new()).padding(2));
        f(&mut table)?;
        let bytes = table.out.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
        self.out.write_all(&bytes)
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The same, writing through a trait object.
    pub fn boxed(self) -> Terminal<Box<dyn Write>>
    where
        W: 'static,
    {
        Terminal::new(Box::new(self.out))
    }

    /// The output (for tests: the bytes written).
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Terminal<TabWriter<W>> {
    /// Writes one row of a table: each cell escaped, tab-separated.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> io::Result<()> {
        let mut text = cells.iter().map(|c| escape_for_terminal(c.as_ref())).collect::<Vec<_>>().join("\t");
        text.push('\n');
        self.out.write_all(text.as_bytes())
    }
}

/// Test helpers: hostile values, and the check that output carries none of them raw.
#[cfg(test)]
pub(crate) mod testing {
    use conferencing_operator::domain::is_forbidden;

    /// An OSC 52 clipboard write followed by cursor movement (two lines up, clear the line).
    pub const OSC52: &str = "\u{1b}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u{7}\u{1b}[2A\u{1b}[2K";
    /// A right-to-left override.
    pub const BIDI: &str = "\u{202e}txt.exe";
    /// A line break that would forge a line of output, and a C1 control.
    pub const FORGED_LINE: &str = "\nReady: everything is fine\u{9b}0m";

    /// `s` with every kind of hostile character in it.
    pub fn hostile(s: &str) -> String {
        format!("{s}{OSC52}{BIDI}{FORGED_LINE}")
    }

    /// Fails unless `text` holds no control, separator or bidi character but line breaks, and
    /// shows the hostile values as visible escapes.
    pub fn assert_shown_safely(text: &str) {
        if let Some(c) = text.chars().find(|&c| c != '\n' && is_forbidden(c)) {
            panic!("U+{:04X} reaches the terminal raw in:\n{text}", u32::from(c));
        }
        assert!(text.contains("\\u{1b}]52;c;"), "the OSC 52 sequence is not shown escaped:\n{text}");
        assert!(!text.lines().any(|l| l.starts_with("Ready: everything is fine")), "a value forged a line:\n{text}");
    }

    /// The output as text.
    pub fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("utf8")
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn a_line_is_escaped_and_ends_where_the_plugin_ends_it() {
        let mut t = Terminal::new(Vec::new());
        t.line(format!("Tenant {}:", hostile("acme"))).expect("line");
        t.blank().expect("blank");
        t.line("plain text stays as it is").expect("line");
        let out = text(t.into_inner());
        assert_shown_safely(&out);
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(out.ends_with("\n\nplain text stays as it is\n"), "{out}");
        assert!(out.contains("\\u{202e}txt.exe") && out.contains("\\u{a}Ready: everything"), "{out}");
    }

    #[test]
    fn table_cells_are_escaped_one_by_one_and_aligned() {
        let mut t = Terminal::new(Vec::new());
        t.aligned(|tw| {
            tw.row(&["NAME", "MESSAGE"])?;
            tw.row(&[hostile("bob").as_str(), "x\ty"])
        })
        .expect("table");
        let out = text(t.into_inner());
        assert_shown_safely(&out);
        assert!(out.starts_with("NAME  "), "{out}");
        // A tab inside a value is shown, not taken for a column separator.
        assert!(out.contains("x\\u{9}y"), "{out}");
        let header = out.lines().next().unwrap_or_default();
        let row = out.lines().nth(1).unwrap_or_default();
        assert_eq!(header.find("MESSAGE"), row.find("x\\u{9}y"), "columns line up:\n{out}");
    }

    /// The guarantee rests on there being no other way to print: no print macro, no raw write
    /// and no direct use of stdout or stderr anywhere in the plugin but here.
    #[test]
    fn the_plugin_prints_only_through_terminal() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let forbidden = [
            "print!(",
            "println!(",
            "eprint!(",
            "eprintln!(",
            "write!(",
            "writeln!(",
            "write_all(",
            "write_fmt(",
            "io::stdout",
            "io::stderr",
            "Stdout",
            "Stderr",
            "dbg!(",
        ];
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("the plugin's src") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "rs") || path.file_name().is_some_and(|n| n == "terminal.rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("source");
            for (i, line) in source.lines().enumerate() {
                if let Some(f) = forbidden.iter().find(|f| line.contains(*f)) {
                    panic!("{}:{}: `{f}` prints around Terminal: {line}", path.display(), i + 1);
                }
            }
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} files checked");
    }
}
