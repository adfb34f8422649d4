//! `metadata`, which the CRD's schema leaves open: names and namespaces as the API server
//! checks them, and label and annotation values.

use super::*;

/// Object names and namespaces as the API server checks them, and label and annotation
/// values, which must be strings (`version: 1` is a common slip).
pub(super) fn check_metadata(n: &Node, out: &mut Vec<Issue>) {
    const KNOWN: [&str; 15] = [
        "name",
        "namespace",
        "labels",
        "annotations",
        "generateName",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "ownerReferences",
        "finalizers",
        "managedFields",
        "selfLink",
    ];
    let NodeKind::Map(entries) = &n.kind else {
        out.push(Issue {
            code: Code::WrongType,
            path: "metadata".into(),
            pos: n.pos,
            message: format!("metadata must be a mapping, not {}", describe(n)),
        });
        return;
    };
    for e in entries {
        let path = format!("metadata.{}", e.key);
        match e.key.as_str() {
            "name" | "namespace" => {
                let Some(v) = e.value.as_str() else {
                    out.push(Issue {
                        code: Code::WrongType,
                        path: path.clone(),
                        pos: e.value.pos,
                        message: format!("{path} must be a string, not {}", describe(&e.value)),
                    });
                    continue;
                };
                let (ok, rule) = if e.key == "name" {
                    (is_dns_subdomain(v), "a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'; at most 253 characters)")
                } else {
                    (is_dns_label(v), "a lowercase RFC 1123 label (a-z, 0-9, '-'; at most 63 characters)")
                };
                if !ok {
                    out.push(Issue {
                        code: Code::InvalidName,
                        path: path.clone(),
                        pos: e.value.pos,
                        message: format!("{path} {v:?} must be {rule}"),
                    });
                }
            }
            "labels" | "annotations" => {
                if let NodeKind::Map(kv) = &e.value.kind {
                    for x in kv {
                        if let NodeKind::Scalar { value, .. } = &x.value.kind
                            && !value.is_string()
                        {
                            out.push(Issue {
                                code: Code::WrongType,
                                path: format!("{path}.{}", x.key),
                                pos: x.value.pos,
                                message: format!(
                                    "{path}.{} must be a string, not {}; quote it: \"{}\"",
                                    x.key,
                                    describe(&x.value),
                                    scalar_text(value)
                                ),
                            });
                        }
                    }
                }
            }
            k if KNOWN.contains(&k) => {}
            k => {
                let hint = suggest(k, &KNOWN).map(|s| format!("; did you mean {s}?")).unwrap_or_default();
                out.push(Issue {
                    code: Code::UnknownField,
                    path: path.clone(),
                    pos: e.key_pos,
                    message: format!("{path} is not a field of object metadata{hint}"),
                });
            }
        }
    }
    if !entries.iter().any(|e| e.key == "name") {
        out.push(Issue {
            code: Code::InvalidName,
            path: "metadata.name".into(),
            pos: n.pos,
            message: "metadata.name is required: every object in a config repository needs a name".into(),
        });
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}
