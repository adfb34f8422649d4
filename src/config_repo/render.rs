//! Plans for people: plain text for a terminal and Markdown for a pull-request comment. The
//! JSON form is the serde form of [`PlanReport`].

use std::fmt::Write as _;

use super::findings::{self, Severity};
use super::plan::{PlanReport, UserPlan, thousands};

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
    format!(
        "{} of {} users change, {} e-mail{} ({}); {} blocked, {} removed, {} automatic e-mail{} suppressed",
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
pub fn text(p: &PlanReport) -> String {
    let mut out = String::new();
    if !p.findings.is_empty() {
        out.push_str(&findings::text(&p.findings));
        let (e, w) = findings::counts(&p.findings);
        let _ = writeln!(out, "{e} error(s), {w} warning(s) in the --to tree\n");
    }
    for u in &p.users {
        let _ = writeln!(out, "{}/{}", u.namespace, u.name);
        if let Some(b) = &u.blocked {
            let _ = writeln!(out, "  blocked ({}): {}", b.reason, b.message);
        }
        for a in &u.actions {
            let _ = writeln!(out, "  {:?}: {}", a.kind, a.description);
        }
        for e in &u.emails {
            let _ = writeln!(out, "  e-mail {} to {} ({})", e.kind, e.recipient, e.locale);
        }
        for e in &u.suppressed_emails {
            let _ = writeln!(out, "  not e-mailed (automatic e-mails are off): {}", e.kind);
        }
        for n in &u.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    if !p.users.is_empty() {
        out.push('\n');
    }
    for f in &p.summary.fan_out {
        let _ = writeln!(out, "{}", f.sentence);
    }
    let _ = writeln!(out, "Plan ({}): {}", p.mode, headline(p));
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn md_user(out: &mut String, u: &UserPlan) {
    if let Some(b) = &u.blocked {
        let _ = writeln!(out, "- **blocked** ({}): {}", b.reason, md_escape(&b.message));
    }
    for a in &u.actions {
        let _ = writeln!(out, "- {:?}: {}", a.kind, md_escape(&a.description));
    }
    for e in &u.emails {
        let _ = writeln!(out, "- e-mail **{}** to `{}` ({})", e.kind, e.recipient.replace('`', ""), e.locale);
    }
    for e in &u.suppressed_emails {
        let _ = writeln!(out, "- not e-mailed (automatic e-mails are off): {}", e.kind);
    }
    for n in &u.notes {
        let _ = writeln!(out, "- note: {}", md_escape(n));
    }
}

/// A plan as a pull-request comment.
pub fn markdown(p: &PlanReport) -> String {
    let mut out = String::from("### Conferencing plan\n\n");
    let _ = writeln!(out, "**{}**\n", headline(p));
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
                "- `{}:{}:{}` {sev} {}: {}",
                f.file.replace('`', ""),
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
            let _ = writeln!(out, "| {k} | {} |", thousands(*n));
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
            u.namespace,
            u.name,
            u.actions.len(),
            if u.actions.len() == 1 { "" } else { "s" },
            u.emails.len(),
            if u.emails.len() == 1 { "" } else { "s" },
            if u.blocked.is_some() { ", blocked" } else { "" }
        );
        if collapse {
            let _ = writeln!(out, "<details><summary>{}</summary>\n", md_escape(&title));
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
