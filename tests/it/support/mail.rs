//! E-mails as they were sent: parsed from the SMTP server's Maildir or from the operator's
//! outbox directory, and counted where delivery happens, per Message-ID and per kind, rather
//! than in the status the operator writes about them (a second send of the same Message-ID
//! is invisible in the status).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use conferencing_operator::api::{ConferencingUser, NotificationKind};
use mail_parser::{MessageParser, MimeHeaders};

/// One message received (or written to the outbox).
#[derive(Clone, Debug)]
pub struct Mail {
    pub raw: Vec<u8>,
    /// With its angle brackets, as the status records it.
    pub message_id: String,
    /// The kind the Message-ID names (`<kind-slug.cause.uid@domain>`).
    pub kind: NotificationKind,
    /// The UID of the user the Message-ID names.
    pub uid: String,
    /// The first `To:` address.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// Parses a message of this operator; fails on one whose Message-ID names no kind.
    pub fn parse(raw: &[u8]) -> Mail {
        let m = MessageParser::default().parse(raw).expect("a MIME message");
        let message_id = format!("<{}>", m.message_id().expect("a Message-ID"));
        let local = message_id.trim_start_matches('<').split('@').next().unwrap_or_default();
        let slug = local.split('.').next().unwrap_or_default();
        let kind = NotificationKind::from_slug(slug).unwrap_or_else(|| panic!("no notification kind in {message_id}"));
        let uid = local.rsplit('.').next().unwrap_or_default().to_string();
        Mail {
            raw: raw.to_vec(),
            message_id,
            kind,
            uid,
            to: m.to().and_then(|t| t.first()).and_then(|a| a.address()).unwrap_or_default().to_string(),
            subject: m.subject().unwrap_or_default().to_string(),
            text: m.body_text(0).map(|c| c.into_owned()).unwrap_or_default(),
            html: m.body_html(0).map(|c| c.into_owned()).unwrap_or_default(),
        }
    }

    /// The parsed message, for headers the fields above do not hold.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default().parse(&self.raw).expect("a MIME message")
    }

    /// Whether the subject, the text or the HTML part contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.subject.contains(needle) || self.text.contains(needle) || self.html.contains(needle)
    }

    /// Whether it is `multipart/alternative` with one text and one HTML part.
    pub fn is_multipart_alternative(&self) -> bool {
        let m = self.parsed();
        let ct = m.content_type().expect("Content-Type");
        ct.ctype() == "multipart"
            && ct.subtype() == Some("alternative")
            && m.text_body.len() == 1
            && m.html_body.len() == 1
    }
}

/// The `.eml` files of an outbox directory, in name order.
pub fn outbox(dir: &Path) -> Vec<Mail> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| Mail::parse(&std::fs::read(p).expect("read eml"))).collect()
}

/// How many messages carry each Message-ID.
pub fn count_by_message_id(mails: &[Mail]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in mails {
        *counts.entry(m.message_id.clone()).or_default() += 1;
    }
    counts
}

/// The messages sent to the user with `uid`, of `kind`.
pub fn of<'a>(mails: &'a [Mail], uid: &str, kind: NotificationKind) -> Vec<&'a Mail> {
    mails.iter().filter(|m| m.uid == uid && m.kind == kind).collect()
}

/// Asserts that `mails` are exactly one message for each expected (Message-ID, kind), and
/// nothing else: no Message-ID twice, none unexpected, none missing.
pub fn assert_exactly_once(mails: &[Mail], expected: &[(String, NotificationKind)]) {
    let counts = count_by_message_id(mails);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "Message-IDs sent more than once: {twice:?}");
    let want: HashMap<&str, NotificationKind> = expected.iter().map(|(id, k)| (id.as_str(), *k)).collect();
    assert_eq!(want.len(), expected.len(), "the expected Message-IDs are distinct: {expected:?}");
    let unexpected: Vec<_> =
        mails.iter().filter(|m| !want.contains_key(m.message_id.as_str())).map(|m| &m.message_id).collect();
    assert!(unexpected.is_empty(), "messages sent that were not expected: {unexpected:?}; expected {expected:?}");
    for (id, kind) in expected {
        let m = mails.iter().find(|m| &m.message_id == id).unwrap_or_else(|| {
            panic!("no message {id} ({kind:?}) was sent; sent: {:?}", counts.keys().collect::<Vec<_>>())
        });
        assert_eq!(m.kind, *kind, "{id} is of the kind expected");
    }
}

/// Asserts that a message that carries a PIN carries `pin`, and one that does not, does not.
pub fn assert_pin(mail: &Mail, pin: &str) {
    if mail.kind.carries_pin() {
        assert!(mail.text.contains(pin), "{} ({:?}) carries the PIN in the Secret", mail.message_id, mail.kind);
    } else {
        assert!(!mail.contains(pin), "{} ({:?}) must not carry the PIN", mail.message_id, mail.kind);
    }
}

/// The Message-IDs and kinds a user's status records as delivered or owed.
pub fn recorded(u: &ConferencingUser) -> Vec<(String, NotificationKind)> {
    u.status.as_ref().map_or_else(Vec::new, |s| {
        s.notifications
            .delivered
            .iter()
            .map(|d| (d.message_id.clone(), d.kind))
            .chain(s.notifications.pending.iter().map(|p| (p.message_id.clone(), p.kind)))
            .collect()
    })
}
