//! Text as it leaves rendering: a one-line subject, tidy plain text, error messages with no
//! PIN in them.

use handlebars::{RenderError, RenderErrorReason};

use crate::api::PIN_MASK;
use crate::provisioning::pin::Pin;

pub(super) fn describe(error: &RenderError) -> String {
    match error.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => format!("no variable named `{path}`"),
        RenderErrorReason::MissingVariable(None) => "it uses a variable that does not exist".to_owned(),
        other => other.to_string(),
    }
}

/// Keeps the PIN out of an error message even if handlebars quoted a value.
pub(super) fn scrub(message: String, pin: Option<&Pin>) -> String {
    match pin.map(Pin::expose) {
        Some(digits) if !digits.is_empty() => message.replace(digits, PIN_MASK),
        _ => message,
    }
}

pub(super) fn single_line(subject: &str) -> String {
    subject.replace('\r', "\n").lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Conditional sections leave blank lines behind when they render nothing; collapse them so
/// the text reads as written whichever values are present.
pub(super) fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_blank = true;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            if previous_blank {
                continue;
            }
            previous_blank = true;
        } else {
            previous_blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}
