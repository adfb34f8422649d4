//! Telling the person at the terminal that the plugin is waiting: a spinner on a terminal
//! (indicatif, which redraws in place and clears itself), plain lines when stderr is a pipe or
//! a log, where redrawing would leave control characters behind.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A waiting indicator on stderr.
pub struct Progress {
    spinner: Option<ProgressBar>,
    last: String,
}

impl Progress {
    /// Starts waiting with `message`.
    pub fn start(message: &str) -> Progress {
        let spinner = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        let mut p = Progress { spinner, last: String::new() };
        p.update(message);
        p
    }

    /// Shows a new state; a plain line only when it changed.
    pub fn update(&mut self, message: &str) {
        if message == self.last {
            return;
        }
        message.clone_into(&mut self.last);
        match &self.spinner {
            Some(bar) => bar.set_message(message.to_string()),
            None => eprintln!("{message}"),
        }
    }

    /// Stops the indicator (the spinner is cleared; its result is printed by the caller).
    pub fn finish(self) {
        if let Some(bar) = self.spinner {
            bar.finish_and_clear();
        }
    }
}
