//! The error type of the updater: every error names the role or target, the URL or file,
//! and the rule that failed.

use std::path::PathBuf;

use crate::transport::TransportError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn spec(e: &tufkit_core::Error) -> String {
    e.spec_section()
        .map(|s| format!(" [TUF spec {s}]"))
        .unwrap_or_default()
}

fn from(url: &Option<String>) -> String {
    url.as_ref().map(|u| format!(" ({u})")).unwrap_or_default()
}

fn list_failures(failures: &[(String, String)]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = failures
        .iter()
        .map(|(role, why)| format!("{role}: {why}"))
        .collect();
    format!("; delegated roles skipped: {}", parts.join("; "))
}

/// Everything that can go wrong during an update or a target download.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Metadata was refused by a rule of the client workflow.
    #[error("{role} metadata{} rejected: {source}{}", from(url), spec(source))]
    Metadata {
        /// The role whose metadata was refused.
        role: String,
        /// Where it came from (None: the local trusted copy or the bootstrap root).
        url: Option<String>,
        /// The rule that failed.
        #[source]
        source: Box<tufkit_core::Error>,
    },
    /// A file could not be fetched.
    #[error("{what}: download failed: {source}")]
    Transport {
        /// The role or target being fetched.
        what: String,
        /// What the transport reported (it names the URL).
        #[source]
        source: TransportError,
    },
    /// Reading or writing the local metadata store failed.
    #[error("metadata store: cannot {action} {}: {source}", path.display())]
    Store {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A delegated role name maps to a file name the store cannot use safely.
    #[error("delegated role {role:?}: its file name {file:?} would clash with a top-level role file; refusing to store it")]
    UnsafeRoleName {
        /// The role name.
        role: String,
        /// The file name it would get.
        file: String,
    },
    /// No role on the delegation search path lists the target (spec 5.6.7).
    #[error(
        "target {path:?}: not listed by any trusted targets role on its search path{}",
        list_failures(failures)
    )]
    TargetNotFound {
        /// The target path.
        path: String,
        /// Delegated roles that could not be loaded, with the reason.
        failures: Vec<(String, String)>,
    },
    /// A target path that could leave the destination directory.
    #[error("target {path:?}: refusing to store it: {reason}")]
    UnsafeTargetPath {
        /// The target path.
        path: String,
        /// Why it is unsafe.
        reason: &'static str,
    },
    /// A downloaded target failed verification (length, hashes) (spec 5.7.3).
    #[error("target {path:?}{} rejected: {source}{}", from(url), spec(source))]
    TargetVerification {
        /// The target path.
        path: String,
        /// Where it came from.
        url: Option<String>,
        /// The check that failed.
        #[source]
        source: Box<tufkit_core::Error>,
    },
    /// Writing or reading a target file failed.
    #[error("target {path:?}: cannot {action} {}: {source}", file.display())]
    TargetIo {
        /// The target path.
        path: String,
        /// What was being done.
        action: &'static str,
        /// The local file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A target download was asked of an updater built without a targets base URL.
    #[error("target {path:?}: no targets base URL was configured (UpdaterBuilder::targets_url)")]
    MissingTargetsUrl {
        /// The target path.
        path: String,
    },
    /// An operation that needs trusted metadata ran before a successful refresh.
    #[error("no trusted metadata: call refresh() first (the last refresh failed or none ran)")]
    NotRefreshed,
    /// The transport could not be set up.
    #[error("cannot set up the transport: {0}")]
    TransportSetup(#[source] TransportError),
}

impl Error {
    pub(crate) fn metadata(role: &str, url: Option<&str>, source: tufkit_core::Error) -> Error {
        Error::Metadata {
            role: role.to_string(),
            url: url.map(str::to_string),
            source: Box::new(source),
        }
    }

    pub(crate) fn transport(what: &str, source: TransportError) -> Error {
        Error::Transport {
            what: what.to_string(),
            source,
        }
    }

    /// True when the error is a metadata file or target that the repository does not have.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Transport { source, .. } => source.is_not_found(),
            Error::TargetNotFound { .. } => true,
            _ => false,
        }
    }
}
