//! The error type of tufkit-repo: each variant says what failed, where, and what to do.

use std::path::PathBuf;

/// Result alias used throughout tufkit-repo.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a repository operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// Metadata (published, staged or given on the command line) is invalid.
    #[error("{file}: {cause}")]
    Metadata {
        /// File the metadata came from.
        file: String,
        /// What tufkit-core said.
        cause: tufkit_core::Error,
    },
    /// `tufkit.toml` is invalid.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A key file cannot be used.
    #[error("key {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another tufkit process holds the workspace lock.
    #[error("{}: another tufkit process is working on this repository (pid {pid}); wait for it to finish, or delete the lock file if that process is gone", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Process id recorded in the lock file.
        pid: String,
    },
    /// A role cannot be signed by a threshold of its keys.
    #[error("{role}: {have} of {need} required signature(s); still needed from: {}", missing.join(", "))]
    ThresholdNotMet {
        /// The role.
        role: String,
        /// Valid signatures present.
        have: u64,
        /// Threshold.
        need: u64,
        /// Keyids that could still sign.
        missing: Vec<String>,
    },
    /// A published file would be overwritten with different content.
    #[error("repository/{path}: already published with different content; tufkit never overwrites a published versioned file (is another tool writing to this repository?)")]
    WouldOverwrite {
        /// Path inside the repository.
        path: String,
    },
    /// The request cannot be carried out; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    /// A metadata error for `file`.
    pub fn metadata(file: impl Into<String>, source: tufkit_core::Error) -> Error {
        Error::Metadata {
            file: file.into(),
            cause: source,
        }
    }
}

/// Shorthand for [`Error::Invalid`].
pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}
