//! Reading a config repository: every YAML document under the given files and directories,
//! as a tree that remembers the line and column of each key and value, so that a finding
//! about `spec.serviceNumbers[2].number` can point at that line.
//!
//! serde_yaml does not expose positions, so documents are built from `yaml-rust2`'s event
//! parser, which reports a marker for every event. Building the tree ourselves also lets us
//! see what a deserialiser silently drops: a key written twice in one mapping.

mod error;
mod parse;
mod tree;

pub use error::LoadError;
pub use parse::{MAX_ALIAS_NODES, MAX_DEPTH, parse_str};
pub use tree::*;

use std::io::Read;
use std::path::{Path, PathBuf};

use super::kustomize;

/// What was read: the documents, and how many files held them.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every non-empty document, in file order (files sorted by path within a directory).
    pub documents: Vec<Document>,
    /// Files read.
    pub files: usize,
}

/// Reads every YAML document under `paths`: files, directories (recursively, `*.yaml` and
/// `*.yml`, skipping hidden directories such as `.git` and `.github`), or `-` for standard
/// input.
///
/// A directory holding a kustomization file is read as kustomize builds it (see
/// [`super::kustomize`]): its files are read only as the kustomization lists them, and a
/// kustomization directory another one lists as a resource is read only through it. A
/// Kustomization anywhere else (on standard input, in a file of another name) is refused, so
/// that no Kustomization is ever read as an ignored document.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if std::mem::replace(&mut stdin_read, true) {
                continue;
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| LoadError::Read { file: "<stdin>".into(), source })?;
            let documents = parse_str("<stdin>", &text)?;
            refuse_kustomizations(&documents)?;
            loaded.documents.extend(documents);
            loaded.files += 1;
            continue;
        }
        if !path.exists() {
            return Err(LoadError::Missing { file: path.display().to_string() });
        }
        if path.is_file() {
            let is_kustomization = path.file_name().is_some_and(|n| kustomize::FILE_NAMES.iter().any(|k| n == *k));
            match path.parent() {
                Some(dir) if is_kustomization => {
                    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                    load_kustomization(dir, &kustomize::repository_root(dir)?, &mut loaded)?;
                }
                _ => load_file(path, &mut loaded)?,
            }
            continue;
        }
        load_dir(path, &mut loaded)?;
    }
    Ok(loaded)
}

/// What a directory walk found, in walk order.
enum Found {
    File(PathBuf),
    Kustomization(PathBuf),
}

fn load_dir(path: &Path, loaded: &mut Loaded) -> Result<(), LoadError> {
    let root = kustomize::repository_root(path)?;
    let mut found = Vec::new();
    let mut kustomization_dirs: Vec<PathBuf> = Vec::new();
    let walker = walkdir::WalkDir::new(path)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|source| LoadError::Walk { file: path.display().to_string(), source })?;
        let p = entry.path();
        if entry.file_type().is_dir() {
            if kustomize::kustomization_file(p)?.is_some() {
                kustomization_dirs.push(p.to_path_buf());
                found.push(Found::Kustomization(p.to_path_buf()));
            }
            continue;
        }
        // A kustomization's files are what it lists, not what its directory holds (patches,
        // for one, are not objects).
        if kustomization_dirs.iter().any(|d| p.starts_with(d)) {
            continue;
        }
        let yaml = p.extension().is_some_and(|x| x == "yaml" || x == "yml");
        if entry.file_type().is_file() && yaml {
            found.push(Found::File(p.to_path_buf()));
        }
    }
    let mut rendered = Vec::new();
    let mut bases = std::collections::BTreeSet::new();
    for f in &found {
        if let Found::Kustomization(dir) = f {
            let r = kustomize::render(dir, &root)?;
            bases.extend(r.bases.iter().cloned());
            let canonical =
                dir.canonicalize().map_err(|source| LoadError::Read { file: dir.display().to_string(), source })?;
            rendered.push((canonical, r));
        }
    }
    let mut rendered = rendered.into_iter();
    for f in found {
        match f {
            Found::File(p) => load_file(&p, loaded)?,
            Found::Kustomization(_) => {
                let Some((canonical, r)) = rendered.next() else { continue };
                // A base is read through the overlays that list it, not a second time.
                if !bases.contains(&canonical) {
                    loaded.files += r.files.len();
                    loaded.documents.extend(r.documents);
                }
            }
        }
    }
    Ok(())
}

fn load_kustomization(dir: &Path, root: &Path, loaded: &mut Loaded) -> Result<(), LoadError> {
    let r = kustomize::render(dir, root)?;
    loaded.files += r.files.len();
    loaded.documents.extend(r.documents);
    Ok(())
}

/// A Kustomization outside a kustomization file cannot be rendered (its paths are relative to
/// a directory this input does not have) and must not be ignored either.
fn refuse_kustomizations(documents: &[Document]) -> Result<(), LoadError> {
    match documents.iter().find(|d| kustomize::is_kustomize_kind(&d.root)) {
        None => Ok(()),
        Some(d) => Err(LoadError::Kustomize {
            file: d.file.to_string(),
            pos: d.root.locate("apiVersion"),
            field: "apiVersion".into(),
            message: "refused: a kustomize Kustomization here is neither rendered nor ignored (only a directory's kustomization.yaml, kustomization.yml or Kustomization is rendered): pass its directory, or pipe `kustomize build DIR` output".into(),
        }),
    }
}

fn load_file(path: &Path, loaded: &mut Loaded) -> Result<(), LoadError> {
    // `validate .` walks `./acme/...`; annotations must name `acme/...`, as the repository does.
    let file = path.strip_prefix(".").unwrap_or(path).display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { file: file.clone(), source })?;
    let documents = parse_str(&file, &text)?;
    refuse_kustomizations(&documents)?;
    loaded.documents.extend(documents);
    loaded.files += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn one(text: &str) -> Document {
        let mut d = parse_str("t.yaml", text).expect("parses");
        assert_eq!(d.len(), 1);
        d.remove(0)
    }

    #[test]
    fn positions_are_one_based_and_point_at_values() {
        let d = one("a: 1\nspec:\n  serviceNumbers:\n    - number: \"+1425\"\n    - number: x\n");
        assert_eq!(d.root.locate("a"), Pos { line: 1, col: 4 });
        assert_eq!(d.root.locate("spec.serviceNumbers[1].number"), Pos { line: 5, col: 15 });
        assert_eq!(d.root.locate("spec.serviceNumbers"), Pos { line: 3, col: 3 });
        // A path that goes past what exists falls back to the deepest node found.
        assert_eq!(d.root.locate("spec.serviceNumbers[7].city"), Pos { line: 3, col: 3 });
    }

    #[test]
    fn core_schema_scalars() {
        let d = one("a: +14255550100\nb: \"+14255550100\"\nc: 2026-11-20\nd: 6\ne: true\nf: ~\ng: 1.5\nh: NO\n");
        let j = d.root.to_json();
        assert_eq!(j["a"], Value::from(14_255_550_100_i64));
        assert_eq!(j["b"], "+14255550100");
        assert_eq!(j["c"], "2026-11-20");
        assert_eq!(j["d"], 6);
        assert_eq!(j["e"], true);
        assert!(j["f"].is_null());
        assert_eq!(j["g"], 1.5);
        assert_eq!(j["h"], "NO");
        assert_eq!(d.yaml11_booleans.len(), 1);
        assert_eq!(d.yaml11_booleans[0].path, "h");
    }

    #[test]
    fn duplicate_keys_are_recorded_and_the_last_wins() {
        let d = one("spec:\n  requests:\n    resetPin: a\n    resetPin: b\n");
        assert_eq!(d.root.to_json()["spec"]["requests"]["resetPin"], "b");
        assert_eq!(d.duplicate_keys.len(), 1);
        let k = &d.duplicate_keys[0];
        assert_eq!(k.path, "spec.requests.resetPin");
        assert_eq!((k.first.line, k.pos.line), (3, 4));
    }

    #[test]
    fn anchors_merge_keys_and_multiple_documents() {
        let docs = parse_str("t.yaml", "---\nx: &d {a: 1, b: 2}\ny:\n  <<: *d\n  b: 3\n---\n---\nz: 1\n").expect("ok");
        assert_eq!(docs.len(), 2, "the empty document is dropped");
        let j = docs[0].root.to_json();
        assert_eq!(j["y"]["a"], 1);
        assert_eq!(j["y"]["b"], 3);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_str("bad.yaml", "a: 1\nb: [1, 2\nc: 3\n").expect_err("invalid");
        let LoadError::Syntax { pos, .. } = &err else { panic!("{err}") };
        assert!(pos.line >= 2, "{err}");
        assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
    }

    /// Nine levels of ten aliases each: a billion leaves if expanded.
    pub(crate) fn billion_laughs() -> String {
        let mut text = String::from("a0: &a0 [\"lol\"]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn an_alias_bomb_is_refused_at_its_line() {
        let text = billion_laughs();
        assert!(text.len() < 800, "{}", text.len());
        let err = parse_str("bomb.yaml", &text).expect_err("refused");
        let LoadError::TooComplex { pos, message, .. } = &err else { panic!("{err}") };
        // a0..a3 expand to 1 + 10 + 100 + 1,000 + 10 x 1,111 nodes: the budget runs out in a4.
        assert_eq!(pos.line, 5, "{err}");
        assert!(message.contains("alias"), "{err}");
        assert!(err.to_string().starts_with("bomb.yaml:5:"), "{err}");
    }

    #[test]
    fn small_aliases_are_still_read() {
        let docs = parse_str("t.yaml", "d: &d {a: 1, b: [1, 2]}\nx: [*d, *d, *d]\n").expect("ok");
        assert_eq!(docs[0].root.to_json()["x"][2]["b"][1], 2);
        // The budget is per document.
        let each = format!("a: &a [{}]\nb: [{}]\n", vec!["1"; 1000].join(","), ["*a"; 9].join(","));
        let two = format!("{each}---\n{each}");
        assert_eq!(parse_str("t.yaml", &two).expect("within budget").len(), 2);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let block = "- ".repeat(20_000) + "x\n";
        let err = parse_str("deep.yaml", &block).expect_err("refused");
        assert!(matches!(err, LoadError::TooComplex { pos: Pos { line: 1, .. }, .. }), "{err}");
        assert!(err.to_string().contains("deeper than 64 levels"), "{err}");
        // yaml-rust2's scanner refuses flow collections nested past 256 levels itself.
        let flow = "[".repeat(20_000);
        assert!(parse_str("deep.yaml", &flow).is_err());
        let map = (0..20_000).map(|i| format!("{}k:\n", "  ".repeat(i))).collect::<String>();
        assert!(matches!(parse_str("deep.yaml", &map), Err(LoadError::TooComplex { .. })));
        // 64 levels are fine.
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_str("ok.yaml", &ok).is_ok());
        let over = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse_str("over.yaml", &over).is_err());
    }

    #[test]
    fn an_alias_cannot_nest_deeper_than_the_bound() {
        let inner = "[".repeat(40) + &"]".repeat(40);
        let text = format!("a: &a {inner}\nb: {}*a{}\n", "[".repeat(30), "]".repeat(30));
        let err = parse_str("t.yaml", &text).expect_err("refused");
        assert!(matches!(err, LoadError::TooComplex { pos: Pos { line: 2, .. }, .. }), "{err}");
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("spec.serviceNumbers[2].number"),
            vec![
                Segment::Key("spec".into()),
                Segment::Key("serviceNumbers".into()),
                Segment::Index(2),
                Segment::Key("number".into())
            ]
        );
    }
}
