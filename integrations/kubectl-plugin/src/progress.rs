//! Telling the person at the terminal that the plugin is waiting: a spinner on a terminal
//! (indicatif, which redraws in place and clears itself), plain lines when stderr is a pipe or
//! a log, where redrawing would leave control characters behind. The messages quote the user's
//! conditions, so both are escaped like all of the plugin's output (see [`super::terminal`]).

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::terminal::{self, Terminal};
use conferencing_operator::domain::escape_for_terminal;

/// A waiting indicator on stderr.
pub(crate) struct Progress {
    spinner: Option<ProgressBar>,
    plain: Terminal<Box<dyn Write>>,
    last: String,
}

impl Progress {
    /// Starts waiting with `message`: a spinner when stderr is a terminal, else plain lines.
    pub(crate) fn start(message: &str) -> Progress {
        let spinner = terminal::stderr_is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress::with(spinner, Terminal::stderr().boxed(), message)
    }

    /// Starts waiting with `message`, as plain lines to `out`.
    #[cfg(test)]
    pub fn plain(out: impl Write + 'static, message: &str) -> Progress {
        Progress::with(None, Terminal::new(out).boxed(), message)
    }

    fn with(spinner: Option<ProgressBar>, plain: Terminal<Box<dyn Write>>, message: &str) -> Progress {
        let mut p = Progress { spinner, plain, last: String::new() };
        p.update(message);
        p
    }

    /// Shows a new state; a plain line only when it changed.
    pub(crate) fn update(&mut self, message: &str) {
        if message == self.last {
            return;
        }
        message.clone_into(&mut self.last);
        match &self.spinner {
            Some(bar) => bar.set_message(escape_for_terminal(message).into_owned()),
            // Waiting goes on if stderr is gone; the result still goes to stdout.
            None => {
                let _ = self.plain.line(message);
            }
        }
    }

    /// Stops the indicator (the spinner is cleared; its result is printed by the caller).
    pub(crate) fn finish(self) {
        if let Some(bar) = self.spinner {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::terminal::testing::*;
    use super::*;

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn progress_lines_are_escaped_and_not_repeated() {
        let sink = Shared::default();
        let mut p = Progress::plain(sink.clone(), "Waiting for the operator");
        let line = format!("Waiting for the operator (InternalError: {})", hostile("boom"));
        p.update(&line);
        p.update(&line);
        p.finish();
        let out = text(sink.0.lock().expect("lock").clone());
        assert_shown_safely(&out);
        assert_eq!(out.lines().count(), 2, "{out}");
    }
}
