//! Reading a status that someone other than the operator wrote.
//!
//! The API server checks a status against the CRD's schema, but the schema admits values the
//! operator's types do not: a count past `u32`, a time with twelve fractional digits. kube
//! decodes a list as a whole, so one such object would make every list and watch of its kind
//! fail: every user of the namespace (or, cluster-wide, of the cluster) would stall. A status
//! is the operator's output, so instead the fields that cannot be read are dropped (the
//! innermost value that fails, then its container if that still fails), the rest is kept,
//! and the operator rewrites the whole status on its next write.

use serde::Deserializer;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::{Segment, Track};

/// More than any status has fields; a bound so that a pathological value cannot loop.
const MAX_DROPS: usize = 64;

/// Decodes `value` with `strict`, dropping what it cannot read. Returns the value and the
/// paths dropped (empty when all of it was readable).
pub fn salvage<T: Default>(
    mut value: Value,
    strict: impl for<'a, 'b, 'c> Fn(serde_path_to_error::Deserializer<'a, 'b, &'c Value>) -> Result<T, serde_json::Error>,
) -> (T, Vec<String>) {
    let mut dropped = Vec::new();
    for _ in 0..MAX_DROPS {
        let mut track = Track::new();
        // Read from a borrowed value: a copy per attempt doubled the garbage every list and
        // watch event of thousands of users left behind.
        let result = strict(serde_path_to_error::Deserializer::new(&value, &mut track));
        match result {
            Ok(t) => return (t, dropped),
            Err(_) => {
                let path = track.path();
                let segments: Vec<&Segment> = path.iter().collect();
                if segments.is_empty() || !remove(&mut value, &segments) {
                    break;
                }
                dropped.push(printable(&path.to_string()));
            }
        }
    }
    dropped.push("(all of it)".into());
    (T::default(), dropped)
}

/// Deserializes via [`salvage`] for a `Deserialize` impl; `strict` is the derived decoder.
pub fn deserialize<'de, D, T>(
    d: D,
    strict: impl for<'a, 'b, 'c> Fn(serde_path_to_error::Deserializer<'a, 'b, &'c Value>) -> Result<T, serde_json::Error>,
) -> Result<(T, Vec<String>), D::Error>
where
    D: Deserializer<'de>,
    T: Default + DeserializeOwned,
{
    let value = <Value as serde::Deserialize>::deserialize(d)?;
    Ok(salvage(value, strict))
}

/// Removes the value at `path`; false if there is none.
fn remove(value: &mut Value, path: &[&Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut at = value;
    for seg in parents {
        at = match (seg, at) {
            (Segment::Map { key }, Value::Object(m)) => match m.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, Value::Array(a)) => match a.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, at) {
        (Segment::Map { key }, Value::Object(m)) => m.remove(key).is_some(),
        (Segment::Seq { index }, Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// Paths name fields of the operator's types, but map keys come from the object: shown
/// without control characters, and short.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !crate::domain::is_forbidden(*c)).take(120).collect()
}

#[cfg(test)]
mod tests {
    use crate::api::ConferencingUserStatus;
    use serde_json::json;

    #[test]
    fn unreadable_fields_are_dropped_and_the_rest_kept() {
        let s: ConferencingUserStatus = serde_json::from_value(json!({
            "conferenceId": "1234567",
            "pinLastResetTime": "2026-11-24T10:00:00.123456789123Z",
            "notifications": {"pending": [
                {"kind": "PinReset", "messageId": "<a>", "recipient": "a@b.c", "attempts": 99_999_999_999_u64},
                {"kind": "NoSuchKind", "messageId": "<b>", "recipient": "a@b.c"},
                {"kind": "PinReset", "messageId": "<c>", "recipient": "a@b.c", "attempts": 2}
            ]}
        }))
        .expect("never fails");
        assert_eq!(s.conference_id.as_deref(), Some("1234567"));
        assert_eq!(s.pin_last_reset_time, None);
        let ids: Vec<_> = s.notifications.pending.iter().map(|n| (n.message_id.as_str(), n.attempts)).collect();
        assert_eq!(ids, vec![("<a>", 0), ("<c>", 2)]);
        let mut dropped = s.unreadable.clone();
        dropped.sort();
        assert_eq!(
            dropped,
            vec![
                "notifications.pending[0].attempts",
                "notifications.pending[1]",
                "notifications.pending[1].kind",
                "pinLastResetTime"
            ]
        );
    }

    #[test]
    fn a_readable_status_is_read_as_it_is() {
        let s: ConferencingUserStatus = serde_json::from_value(json!({"conferenceId": "1234567"})).expect("ok");
        assert!(s.unreadable.is_empty());
        let none: ConferencingUserStatus = serde_json::from_value(json!("not an object")).expect("ok");
        assert_eq!(none.unreadable, vec!["(all of it)"]);
        assert_eq!(none.conference_id, None);
    }
}
