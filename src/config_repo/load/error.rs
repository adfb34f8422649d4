//! What can go wrong reading a config repository.

use super::Pos;

/// Input that could not be read or parsed: exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A directory could not be walked.
    #[error("{file}: cannot list: {source}")]
    Walk {
        /// The directory.
        file: String,
        /// The cause.
        #[source]
        source: walkdir::Error,
    },
    /// A file is not YAML.
    #[error("{file}:{pos}: invalid YAML: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// Where the parser stopped.
        pos: Pos,
        /// What it expected.
        message: String,
    },
    /// A path does not exist.
    #[error("{file}: no such file or directory")]
    Missing {
        /// The path.
        file: String,
    },
    /// A file exceeds a bound that keeps a hostile file from exhausting memory or the stack
    /// (an alias bomb, or thousands of nested collections).
    #[error("{file}:{pos}: refused: {message}")]
    TooComplex {
        /// The file.
        file: String,
        /// Where the bound was crossed.
        pos: Pos,
        /// Which bound.
        message: String,
    },
    /// A Kustomization that cannot be rendered exactly as kustomize renders it (a field not
    /// rendered in-process, a path leaving the repository, a patch kustomize would fail on).
    #[error("{file}:{pos}: {field}: {message}")]
    Kustomize {
        /// The kustomization (or patch) file.
        file: String,
        /// Where the field is written.
        pos: Pos,
        /// The field, e.g. `configMapGenerator` or `patches[0].target`.
        field: String,
        /// Why, and what to do instead.
        message: String,
    },
}
