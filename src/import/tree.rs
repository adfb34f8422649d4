//! The config repository tree an import writes: `tenant.yaml`, `users/<name>.yaml` and a
//! `kustomization.yaml` listing them. Files are written only where their content changes, so
//! that an import re-run over its own tree changes only what the new export changed, and a
//! user the tree has but the new export lacks is left in place (and reported) unless
//! `--prune` is given: removing a user is a decision, not a side effect of an export.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::error::ImportError;
use crate::config_repo::load;

/// The annotation that keeps the sign-in address a user was imported from, so that a later
/// import finds it (and keeps its name) whatever its `spec.email` became.
pub(crate) const SIGN_IN_ANNOTATION: &str = "conferencing.io/sign-in-address";

/// The first lines of every file the import writes.
const HEADER: &str = "# Written by `conferencing-operator import`; an import re-run over this tree rewrites it.\n# Change what the export says, or patch it from a kustomize overlay.\n";

/// What the tree holds before the import writes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Existing {
    /// Sign-in address -> user name, of the users the tree has.
    pub(crate) names: BTreeMap<String, String>,
    /// The names of every user file (`users/<name>.yaml`).
    pub(crate) files: BTreeSet<String>,
}

/// Reads the users an earlier import wrote into `out` (none when it does not exist).
pub(crate) fn existing(out: &Path) -> Result<Existing, ImportError> {
    let dir = out.join("users");
    let mut found = Existing::default();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(source) => return Err(ImportError::Read { file: dir.display().to_string(), source }),
    };
    for entry in entries {
        let path = entry.map_err(|source| ImportError::Read { file: dir.display().to_string(), source })?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".yaml")) else {
            continue;
        };
        found.files.insert(name.to_string());
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| ImportError::Read { file: file.clone(), source })?;
        for doc in load::parse_str(&file, &text).map_err(|e| ImportError::Load(Box::new(e)))? {
            let sign_in =
                doc.root.get("metadata").and_then(|m| m.get("annotations")).and_then(|a| a.get(SIGN_IN_ANNOTATION));
            if let Some(address) = sign_in.and_then(load::Node::as_str) {
                found.names.insert(address.to_string(), name.to_string());
            }
        }
    }
    Ok(found)
}

/// One file to write, relative to the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) text: String,
}

impl File {
    /// A YAML document, with the header.
    pub(crate) fn yaml(path: String, doc: &Value) -> File {
        // A tree of plain values serializes.
        let body = serde_yaml::to_string(doc).unwrap_or_default();
        File { path, text: format!("{HEADER}{body}") }
    }
}

/// What writing the tree did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) created: usize,
    pub(crate) changed: usize,
    pub(crate) unchanged: usize,
    /// User files the export no longer has: left in place, or with `--prune` removed.
    pub(crate) stale: Vec<String>,
    pub(crate) pruned: bool,
}

/// Writes `files` under `out`, and the kustomization listing them and the stale user files
/// kept (`users` are the names written).
pub(crate) fn write(
    out: &Path,
    namespace: &str,
    mut files: Vec<File>,
    users: &BTreeSet<String>,
    existing: &Existing,
    prune: bool,
) -> Result<Written, ImportError> {
    let stale: Vec<String> = existing.files.iter().filter(|f| !users.contains(*f)).cloned().collect();
    let mut resources: Vec<String> = vec!["tenant.yaml".into()];
    let kept: BTreeSet<&String> = if prune { BTreeSet::new() } else { stale.iter().collect() };
    resources.extend(users.iter().chain(kept).map(|n| format!("users/{n}.yaml")));
    resources.sort_by(|a, b| (a != "tenant.yaml", a).cmp(&(b != "tenant.yaml", b)));
    let mut k = Mapping::new();
    k.insert("apiVersion".into(), "kustomize.config.k8s.io/v1beta1".into());
    k.insert("kind".into(), "Kustomization".into());
    k.insert("namespace".into(), namespace.into());
    k.insert("resources".into(), Value::Sequence(resources.into_iter().map(Value::from).collect()));
    files.push(File::yaml("kustomization.yaml".into(), &Value::Mapping(k)));

    let mut written = Written { stale: stale.clone(), pruned: prune, ..Written::default() };
    for f in &files {
        let path = out.join(&f.path);
        match std::fs::read_to_string(&path) {
            Ok(old) if old == f.text => {
                written.unchanged += 1;
                continue;
            }
            Ok(_) => written.changed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => written.created += 1,
            Err(source) => return Err(ImportError::Read { file: path.display().to_string(), source }),
        }
        write_file(&path, &f.text)?;
    }
    if prune {
        for name in &stale {
            let path = out.join("users").join(format!("{name}.yaml"));
            std::fs::remove_file(&path)
                .map_err(|source| ImportError::Write { file: path.display().to_string(), source })?;
        }
    }
    Ok(written)
}

/// Writes `text` to `path` through a temporary file and a rename, so that an interrupted
/// import leaves each file whole (old or new).
fn write_file(path: &Path, text: &str) -> Result<(), ImportError> {
    let error = |source| ImportError::Write { file: path.display().to_string(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    let tmp: PathBuf = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).map_err(error)?;
    std::fs::rename(&tmp, path).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_file(name: &str, address: &str) -> File {
        let mut meta = Mapping::new();
        meta.insert("name".into(), name.into());
        let mut ann = Mapping::new();
        ann.insert(SIGN_IN_ANNOTATION.into(), address.into());
        meta.insert("annotations".into(), Value::Mapping(ann));
        let mut doc = Mapping::new();
        doc.insert("metadata".into(), Value::Mapping(meta));
        File::yaml(format!("users/{name}.yaml"), &Value::Mapping(doc))
    }

    #[test]
    fn a_rerun_writes_only_what_changed_and_keeps_users_the_export_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tenant = File { path: "tenant.yaml".into(), text: "kind: ConferencingTenant\n".into() };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let first = write(
            dir.path(),
            "acme",
            vec![tenant.clone(), user_file("a", "a@x.example"), user_file("b", "b@x.example")],
            &names(&["a", "b"]),
            &existing(dir.path()).expect("none"),
            false,
        )
        .expect("written");
        assert_eq!((first.created, first.changed, first.unchanged), (4, 0, 0));
        let before = existing(dir.path()).expect("read");
        assert_eq!(before.names.get("b@x.example").map(String::as_str), Some("b"));

        let second = write(
            dir.path(),
            "acme",
            vec![tenant.clone(), user_file("a", "a@x.example")],
            &names(&["a"]),
            &before,
            false,
        )
        .expect("written");
        assert_eq!((second.created, second.changed, second.unchanged), (0, 0, 3), "{second:?}");
        assert_eq!(second.stale, ["b"]);
        let k = std::fs::read_to_string(dir.path().join("kustomization.yaml")).expect("kustomization");
        assert!(k.contains("- users/b.yaml"), "a user the export lost stays listed:\n{k}");

        let third =
            write(dir.path(), "acme", vec![tenant, user_file("a", "a@x.example")], &names(&["a"]), &before, true)
                .expect("written");
        assert!(third.pruned);
        assert!(!dir.path().join("users/b.yaml").exists());
        let k = std::fs::read_to_string(dir.path().join("kustomization.yaml")).expect("kustomization");
        assert!(!k.contains("users/b.yaml"), "{k}");
    }
}
