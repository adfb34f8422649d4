//! Plans for people: plain text for a terminal and Markdown for a pull-request comment. The
//! JSON form is the serde form of [`PlanReport`].

use std::fmt::Write as _;

use super::findings::{self, Severity};
use super::plan::{DayDue, PlanReport, UserPlan, thousands};

/// Above this many listed users, each user's details are collapsed in Markdown.
const COLLAPSE_ABOVE: usize = 10;
/// Users listed in Markdown at most: a GitHub comment holds 65,536 characters.
const MARKDOWN_USERS: usize = 200;

fn headline(p: &PlanReport) -> String {
    let s = &p.summary;
    let mut kinds: Vec<String> = s.emails_by_kind.iter().map(|(k, n)| format!("{} {k}", thousands(*n))).collect();
    if kinds.is_empty() {
        kinds.push("none".into());
    }
    let held = match s.held_emails {
        0 => String::new(),
        n => format!("; {} e-mail{} held (notifications.hold)", thousands(n), if n == 1 { "" } else { "s" }),
    };
    format!(
        "{} of {} users change, {} e-mail{} ({}); {} blocked, {} removed, {} automatic e-mail{} suppressed{held}",
        thousands(s.users_changed),
        thousands(s.users),
        thousands(s.emails),
        if s.emails == 1 { "" } else { "s" },
        kinds.join(", "),
        thousands(s.users_blocked),
        thousands(s.users_removed),
        thousands(s.suppressed_emails),
        if s.suppressed_emails == 1 { "" } else { "s" },
    )
}

/// A plan as plain text.
pub(crate) fn text(p: &PlanReport) -> String {
    let mut out = String::new();
    if !p.findings.is_empty() {
        out.push_str(&findings::text(&p.findings));
        let (e, w) = findings::counts(&p.findings);
        let _ = writeln!(out, "{e} error(s), {w} warning(s) in the --to tree\n");
    }
    for u in &p.users {
        let _ = writeln!(out, "{}/{}", term(&u.namespace), term(&u.name));
        if let Some(b) = &u.blocked {
            let _ = writeln!(out, "  blocked ({}): {}", b.reason, term(&b.message));
        }
        for a in &u.actions {
            let _ = writeln!(out, "  {:?}: {}", a.kind, term(&a.description));
        }
        for e in &u.emails {
            let _ = writeln!(out, "  e-mail {} to {} ({})", e.kind, term(&e.recipient), term(&e.locale));
        }
        for e in &u.suppressed_emails {
            let _ = writeln!(out, "  not e-mailed (automatic e-mails are off): {}", e.kind);
        }
        for e in &u.held {
            let _ = writeln!(out, "  held (notifications.hold): e-mail {} to {}", e.kind, term(&e.recipient));
        }
        for n in &u.notes {
            let _ = writeln!(out, "  note: {}", term(n));
        }
    }
    if !p.users.is_empty() {
        out.push('\n');
    }
    for f in &p.summary.fan_out {
        let _ = writeln!(out, "{}", term(&f.sentence));
    }
    let due: Vec<&DayDue> = p.horizon.iter().filter(|d| d.rotations > 0 || d.emails > 0).collect();
    if !p.horizon.is_empty() {
        let _ = writeln!(out, "PIN rotations and e-mails due per day (UTC), over {} day(s):", p.horizon.len());
        if due.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for d in due {
            let _ = writeln!(out, "  {}: {} rotation(s), {} e-mail(s)", d.date, d.rotations, d.emails);
        }
    }
    let _ = writeln!(out, "Plan ({}): {}", p.mode, term(&headline(p)));
    out
}

/// Escapes text from a tree (file names, object names, addresses, messages: anything a pull
/// request's author controls) for Markdown text in a comment. Line breaks and other control
/// characters become visible `\u{..}` escapes first (a line break could end a table or a
/// list item, or start a block such as `<!--` that hides the rest of the comment); HTML's
/// `<`, `>` and `&` become entities, which are read as text both in Markdown and inside the
/// HTML (`<summary>`) of a collapsed user; every other character Markdown gives a meaning is
/// escaped with a backslash.
pub(crate) fn md_escape(s: &str) -> String {
    let visible = crate::domain::escape_for_terminal(s);
    let mut out = String::with_capacity(visible.len());
    for c in visible.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // `@` would mention (and notify) a GitHub user or team; the rest is Markdown's.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' | '$' | '@' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for the inside of an HTML element (the `<summary>` of a collapsed user),
/// where Markdown's backslash escapes are not read: entities only, control characters as
/// visible escapes.
pub(crate) fn html_escape(s: &str) -> String {
    let visible = crate::domain::escape_for_terminal(s);
    let mut out = String::with_capacity(visible.len());
    for c in visible.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Text for a terminal: control characters, separators and bidi overrides made visible.
fn term(s: &str) -> std::borrow::Cow<'_, str> {
    crate::domain::escape_for_terminal(s)
}

fn md_user(out: &mut String, u: &UserPlan) {
    if let Some(b) = &u.blocked {
        let _ = writeln!(out, "- **blocked** ({}): {}", b.reason, md_escape(&b.message));
    }
    for a in &u.actions {
        let _ = writeln!(out, "- {:?}: {}", a.kind, md_escape(&a.description));
    }
    for e in &u.emails {
        let _ = writeln!(
            out,
            "- e-mail **{}** to {} ({})",
            md_escape(&e.kind.to_string()),
            md_escape(&e.recipient),
            md_escape(&e.locale)
        );
    }
    for e in &u.suppressed_emails {
        let _ = writeln!(out, "- not e-mailed (automatic e-mails are off): {}", md_escape(&e.kind.to_string()));
    }
    for e in &u.held {
        let _ = writeln!(
            out,
            "- held (notifications.hold): e-mail **{}** to {}",
            md_escape(&e.kind.to_string()),
            md_escape(&e.recipient)
        );
    }
    for n in &u.notes {
        let _ = writeln!(out, "- note: {}", md_escape(n));
    }
}

/// A plan as a pull-request comment.
pub(crate) fn markdown(p: &PlanReport) -> String {
    let mut out = String::from("### Conferencing plan\n\n");
    let _ = writeln!(out, "**{}**\n", md_escape(&headline(p)));
    let source = if p.mode == "live" { "the cluster's current state" } else { "the `--from` tree, converged" };
    let _ = writeln!(out, "Compared with {source}, by the operator's own planner.\n");
    for f in &p.summary.fan_out {
        let _ = writeln!(out, "> **{}**\n", md_escape(&f.sentence));
    }
    if !p.findings.is_empty() {
        let (e, w) = findings::counts(&p.findings);
        let _ = writeln!(
            out,
            "#### {} error(s), {} warning(s){}\n",
            e,
            w,
            if p.valid { "" } else { ": the tree does not validate" }
        );
        for f in &p.findings {
            let sev = if f.severity == Severity::Error { "error" } else { "warning" };
            let _ = writeln!(
                out,
                "- {}:{}:{} {sev} {}: {}",
                md_escape(&f.file),
                f.line,
                f.column,
                f.code.id(),
                md_escape(&f.message)
            );
        }
        out.push('\n');
    }
    if !p.summary.emails_by_kind.is_empty() {
        out.push_str("| E-mail | Count |\n| --- | ---: |\n");
        for (k, n) in &p.summary.emails_by_kind {
            let _ = writeln!(out, "| {} | {} |", md_escape(&k.to_string()), thousands(*n));
        }
        out.push('\n');
    }
    if p.users.is_empty() {
        out.push_str("No user changes.\n");
        return out;
    }
    let collapse = p.users.len() > COLLAPSE_ABOVE;
    for u in p.users.iter().take(MARKDOWN_USERS) {
        let title = format!(
            "{}/{}: {} action{}, {} e-mail{}{}",
            u.namespace.as_str(),
            u.name.as_str(),
            u.actions.len(),
            if u.actions.len() == 1 { "" } else { "s" },
            u.emails.len(),
            if u.emails.len() == 1 { "" } else { "s" },
            if u.blocked.is_some() { ", blocked" } else { "" }
        );
        if collapse {
            let _ = writeln!(out, "<details><summary>{}</summary>\n", html_escape(&title));
            md_user(&mut out, u);
            out.push_str("\n</details>\n");
        } else {
            let _ = writeln!(out, "**{}**\n", md_escape(&title));
            md_user(&mut out, u);
            out.push('\n');
        }
    }
    if p.users.len() > MARKDOWN_USERS {
        let _ = writeln!(
            out,
            "\n...and {} more users; run `conferencing-operator plan --output json` for the full list.",
            thousands(p.users.len() - MARKDOWN_USERS)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escape_leaves_no_markup_and_no_line_break() {
        let hostile = "x\n\n<!-- a -->`code`|cell|*b* _i_ [l](http://e) \\ &amp; #h ~s~ !img @team\r\u{2028}";
        let out = md_escape(hostile);
        assert!(!out.contains('\n') && !out.contains('\r') && !out.contains('\u{2028}'), "{out}");
        assert!(!out.contains('<') && !out.contains('>'), "{out}");
        assert_eq!(
            out,
            "x\\\\u{a}\\\\u{a}&lt;\\!-- a --&gt;\\`code\\`\\|cell\\|\\*b\\* \\_i\\_ \\[l\\](http://e) \\\\\\\\ &amp;amp; \\#h \\~s\\~ \\!img \\@team\\\\u{d}\\\\u{2028}"
        );
        // Every special character is preceded by a backslash that is not itself escaped.
        assert_eq!(md_escape("plain text, 1,200 users"), "plain text, 1,200 users");
    }

    #[test]
    fn html_escape_is_entities_only() {
        assert_eq!(html_escape("a<b>&\"'\n"), "a&lt;b&gt;&amp;&quot;&#39;\\u{a}");
        assert_eq!(html_escape("acme/u0000: 1 action"), "acme/u0000: 1 action");
    }
}
