//! What can stop an import, each naming the file (and line) to look at.

use crate::config_repo::load::LoadError;

/// An import that could not be done: nothing was written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    /// An export or a file of the tree could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An export is not the CSV or JSON the cmdlets write.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The line, from 1.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A JSON export or a file of the existing tree is not well-formed.
    #[error(transparent)]
    Load(Box<LoadError>),
    /// A command-line value is wrong.
    #[error("{flag}: {message}")]
    Usage {
        /// The flag, e.g. `--map`.
        flag: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The tenant the exports describe is not one `validate` would accept.
    #[error("the tenant: {0}")]
    Tenant(String),
    /// Rows could not be imported (without `--skip-invalid`); each names its line.
    #[error("{} row(s) cannot be imported; nothing was written", .0.len())]
    Rows(Vec<RowProblem>),
    /// The tree could not be written.
    #[error("{file}: cannot write: {source}")]
    Write {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A row that cannot be imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RowProblem {
    /// The export.
    pub(crate) file: String,
    /// The row's line, from 1.
    pub(crate) line: u64,
    /// Why, and what to change.
    pub(crate) reason: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}
