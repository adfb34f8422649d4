//! The delivery ledger: per user, the e-mails queued or sent whose result the user's record
//! does not show yet. Pure (the caller passes the time), tested without a mail server.
//!
//! Its one job is that a message is never handed to the mail server again while a record of
//! it is on its way: a record write that fails (forbidden, conflict, API down) must not make
//! the next reconcile send the e-mail again. So a delivery is remembered until the stored
//! record shows it delivered, and only a restart in that window can send a message twice
//! (with the same Message-ID).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;

use crate::api::NotificationRecord;
use crate::planning::outbox::Attempt;

/// How long a failed attempt is remembered at most when no record write recorded it (the
/// record cannot be written): forgetting it means only that the e-mail is tried again.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(600);

/// How many delivered e-mails are remembered per user while the cache does not show them.
/// Forgetting a delivery would send it again, so deliveries are not forgotten with age (a
/// record that cannot be written for an hour must not mean six copies); this bounds the
/// memory instead. A user is owed a handful of e-mails at most at a time.
pub(crate) const MAX_DELIVERED_PER_USER: usize = 32;

/// What became of an e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Queued or being sent.
    InFlight,
    /// Done with this result, at this time.
    Done {
        /// The result.
        attempt: Attempt,
        /// When.
        at: Timestamp,
    },
}

#[derive(Debug)]
struct Entry {
    progress: Progress,
    since: Instant,
}

/// Users are keyed by (namespace, UID): a user re-created with the same name is another user.
type Key = (String, String);

/// The ledger.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    users: HashMap<Key, HashMap<String, Entry>>,
    /// E-mails put in flight, oldest first, to tell cheaply how long the oldest has waited
    /// (entries finished since are skipped lazily).
    queued: VecDeque<(Instant, Key, String)>,
}

impl Ledger {
    /// Records what became of `message_id`.
    pub(crate) fn set(&mut self, user: &Key, message_id: &str, progress: Progress, now: Instant) {
        if progress == Progress::InFlight {
            self.queued.push_back((now, user.clone(), message_id.to_string()));
        }
        let delivered = matches!(progress, Progress::Done { attempt: Attempt::Delivered, .. });
        let m = self.users.entry(user.clone()).or_default();
        m.insert(message_id.to_string(), Entry { progress, since: now });
        if delivered {
            let mut ds: Vec<(Instant, String)> = m
                .iter()
                .filter(|(_, e)| matches!(e.progress, Progress::Done { attempt: Attempt::Delivered, .. }))
                .map(|(id, e)| (e.since, id.clone()))
                .collect();
            if ds.len() > MAX_DELIVERED_PER_USER {
                ds.sort();
                for (_, id) in &ds[..ds.len() - MAX_DELIVERED_PER_USER] {
                    m.remove(id);
                }
            }
        }
    }

    /// Records the result of an e-mail that is in flight; nothing if the ledger no longer
    /// holds it (its user was deleted meanwhile: the entry would never be forgotten).
    pub(crate) fn finish(&mut self, user: &Key, message_id: &str, progress: Progress, now: Instant) {
        let in_flight = self.users.get(user).and_then(|m| m.get(message_id)).is_some();
        if in_flight {
            self.set(user, message_id, progress, now);
        }
    }

    /// What is known of `message_id`.
    pub(crate) fn progress(&self, user: &Key, message_id: &str) -> Option<Progress> {
        self.users.get(user)?.get(message_id).map(|e| e.progress.clone())
    }

    /// Whether the oldest e-mail in flight has waited longer than `after`. Amortised O(1):
    /// it runs on every reconcile that queues an e-mail.
    pub(crate) fn stuck(&mut self, after: Duration, now: Instant) -> bool {
        while let Some((since, user, id)) = self.queued.front() {
            let still = self
                .users
                .get(user)
                .and_then(|m| m.get(id))
                .is_some_and(|e| e.progress == Progress::InFlight && e.since == *since);
            if still {
                return now.saturating_duration_since(*since) > after;
            }
            self.queued.pop_front();
        }
        false
    }

    fn retain(&mut self, user: &Key, mut keep: impl FnMut(&str, &Entry) -> bool) {
        if let Some(m) = self.users.get_mut(user) {
            m.retain(|id, e| keep(id, e));
            if m.is_empty() {
                self.users.remove(user);
            }
        }
    }

    /// After a record write that recorded `recorded` and left `pending` owed: forgets the
    /// failed attempts it recorded and the results of e-mails no longer owed. Deliveries are
    /// kept until the cache shows them ([`Ledger::observe`]).
    pub(crate) fn written(&mut self, user: &Key, recorded: &[String], pending: &[String]) {
        self.retain(user, |id, e| match &e.progress {
            Progress::InFlight | Progress::Done { attempt: Attempt::Delivered, .. } => true,
            Progress::Done { .. } => !recorded.iter().any(|r| r == id) && pending.iter().any(|p| p == id),
        });
    }

    /// The user's record as stored: deliveries it lists as delivered are forgotten, and
    /// failed attempts finished more than [`FORGET_AFTER`] ago.
    pub(crate) fn observe(&mut self, user: &Key, record: Option<&NotificationRecord>, now: Instant) {
        let shown = |id: &str| record.is_some_and(|s| s.delivered.iter().any(|d| d.message_id == id));
        self.retain(user, |id, e| match &e.progress {
            Progress::InFlight => true,
            Progress::Done { attempt: Attempt::Delivered, .. } => !shown(id),
            Progress::Done { .. } => now.saturating_duration_since(e.since) < FORGET_AFTER,
        });
    }

    /// Forgets one e-mail (not sent after all: the next reconcile decides again).
    pub(crate) fn drop_message(&mut self, user: &Key, message_id: &str) {
        self.retain(user, |id, _| id != message_id);
    }

    /// Forgets a deleted user (its queued entries are skipped by [`Ledger::stuck`]).
    pub(crate) fn forget_user(&mut self, user: &Key) {
        self.users.remove(user);
    }

    /// E-mails remembered, across users.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.users.values().map(HashMap::len).sum()
    }

    /// Whether nothing is remembered.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DeliveredNotification, NotificationKind};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn key() -> Key {
        ("ns".into(), "uid-alice".into())
    }

    fn done(attempt: Attempt) -> Progress {
        Progress::Done { attempt, at: Timestamp::from_second(1_800_000_000).expect("t") }
    }

    fn delivered(id: &str) -> NotificationRecord {
        let mut st = NotificationRecord::default();
        st.delivered.push(DeliveredNotification {
            kind: NotificationKind::LicenseAssigned,
            message_id: id.into(),
            recipient: "a@b.example".into(),
            time: Time(Timestamp::from_second(1_800_000_000).expect("t")),
        });
        st
    }

    #[test]
    fn a_delivery_is_remembered_until_the_cache_shows_it() {
        let (mut l, t0) = (Ledger::default(), Instant::now());
        l.set(&key(), "<m>", done(Attempt::Delivered), t0);
        // The record write that recorded it has not succeeded yet (the e-mail looks owed).
        l.written(&key(), &["<m>".into()], &[]);
        l.observe(&key(), Some(&NotificationRecord::default()), t0);
        assert_eq!(l.progress(&key(), "<m>"), Some(done(Attempt::Delivered)), "not forgotten: it would be sent again");
        l.observe(&key(), Some(&delivered("<m>")), t0);
        assert!(l.is_empty());
    }

    #[test]
    fn failed_attempts_are_forgotten_once_recorded_and_everything_after_a_while() {
        let (mut l, t0) = (Ledger::default(), Instant::now());
        l.set(&key(), "<t>", done(Attempt::Transient("451".into())), t0);
        l.set(&key(), "<gone>", done(Attempt::Permanent("550".into())), t0);
        l.set(&key(), "<f>", Progress::InFlight, t0);
        l.written(&key(), &["<t>".into()], &["<t>".into(), "<f>".into()]);
        assert_eq!(l.progress(&key(), "<t>"), None, "recorded");
        assert_eq!(l.progress(&key(), "<gone>"), None, "no longer owed");
        assert_eq!(l.progress(&key(), "<f>"), Some(Progress::InFlight), "still sending");
        l.set(&key(), "<d>", done(Attempt::Delivered), t0);
        l.set(&key(), "<t2>", done(Attempt::Transient("451".into())), t0);
        l.observe(&key(), None, t0 + FORGET_AFTER);
        assert_eq!(l.progress(&key(), "<t2>"), None, "a failed attempt is forgotten after a while");
        assert_eq!(l.len(), 2, "what is in flight, and the delivery the cache does not show, stay");
        assert!(l.stuck(Duration::from_secs(1), t0 + Duration::from_secs(2)));
        l.set(&key(), "<f>", done(Attempt::Delivered), t0 + Duration::from_secs(2));
        assert!(!l.stuck(Duration::from_secs(1), t0 + Duration::from_secs(3)), "nothing in flight any more");
    }

    #[test]
    fn a_delivery_is_not_forgotten_with_age_only_beyond_a_bound_per_user() {
        let (mut l, t0) = (Ledger::default(), Instant::now());
        l.set(&key(), "<m>", done(Attempt::Delivered), t0);
        // The record cannot be written for an hour.
        l.observe(&key(), Some(&NotificationRecord::default()), t0 + Duration::from_secs(3600));
        assert_eq!(l.progress(&key(), "<m>"), Some(done(Attempt::Delivered)), "would be sent again");
        for i in 0..MAX_DELIVERED_PER_USER {
            l.set(&key(), &format!("<n{i}>"), done(Attempt::Delivered), t0 + Duration::from_secs(1 + i as u64));
        }
        assert_eq!(l.len(), MAX_DELIVERED_PER_USER);
        assert_eq!(l.progress(&key(), "<m>"), None, "the oldest goes first");
    }

    #[test]
    fn a_result_for_a_forgotten_user_is_not_recorded() {
        let (mut l, t0) = (Ledger::default(), Instant::now());
        l.set(&key(), "<m>", Progress::InFlight, t0);
        l.forget_user(&key());
        l.finish(&key(), "<m>", done(Attempt::Delivered), t0);
        assert!(l.is_empty(), "the deleted user's entry is not recreated");
        l.set(&key(), "<n>", Progress::InFlight, t0);
        l.finish(&key(), "<n>", done(Attempt::Delivered), t0);
        assert_eq!(l.progress(&key(), "<n>"), Some(done(Attempt::Delivered)));
    }

    #[test]
    fn users_are_keyed_by_namespace_and_uid() {
        let (mut l, t0) = (Ledger::default(), Instant::now());
        l.set(&key(), "<m>", Progress::InFlight, t0);
        assert_eq!(l.progress(&("other".into(), "uid-alice".into()), "<m>"), None);
        l.forget_user(&key());
        assert!(l.is_empty());
    }
}
