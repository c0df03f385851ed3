//! The error type of tufkit-core: every variant names the role (or file) and the rule.

use chrono::{DateTime, Utc};

/// Result alias used throughout tufkit-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while parsing or trusting metadata.
///
/// Each variant that enforces a client-workflow rule reports the spec section through
/// [`Error::spec_section`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not JSON, or not the JSON shape TUF metadata has.
    #[error("{role}: not valid JSON metadata: {reason}")]
    Json {
        /// Role the bytes were expected to hold.
        role: String,
        /// What the parser said.
        reason: String,
    },
    /// A field is missing, has the wrong type or an invalid value.
    #[error("{role}: invalid field `{field}`: {reason}")]
    InvalidField {
        /// Role whose metadata is invalid.
        role: String,
        /// Dotted path of the offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `_type` names another role.
    #[error("{role}: `_type` is {found:?}, expected {expected:?} (spec 5.3.4/5.4.1: wrong metadata type)")]
    WrongType {
        /// Role being loaded.
        role: String,
        /// Type required here.
        expected: String,
        /// Type found in the metadata.
        found: String,
    },
    /// `spec_version` has a major version other than 1.
    #[error("{role}: spec_version {found:?} is not supported (only 1.x is)")]
    UnsupportedSpecVersion {
        /// Role being loaded.
        role: String,
        /// Version found.
        found: String,
    },
    /// Fewer than `threshold` authorised keys produced valid signatures.
    #[error("{role}: signature threshold not met: {valid} valid signature(s) from authorised keys, {threshold} required{by}")]
    ThresholdNotMet {
        /// Role whose signatures were checked.
        role: String,
        /// Distinct authorised keys whose signatures verified.
        valid: u64,
        /// Threshold required.
        threshold: u64,
        /// Which key set was used (e.g. " (keys of the trusted root v3)").
        by: String,
    },
    /// The same keyid appears twice among the signatures.
    #[error("{role}: keyid {keyid} signs twice; metadata with duplicate signatures is rejected")]
    DuplicateSignature {
        /// Role being loaded.
        role: String,
        /// The repeated keyid.
        keyid: String,
    },
    /// A version lower than the trusted one: a rollback attack.
    #[error(
        "{role}: version {found} is lower than the trusted version {trusted} (rollback attack)"
    )]
    Rollback {
        /// Role rolled back.
        role: String,
        /// Trusted version.
        trusted: u64,
        /// Version offered.
        found: u64,
    },
    /// A version other than the one required (root N+1, snapshot meta, ...).
    #[error("{role}: version {found} does not match the expected version {expected} ({rule})")]
    WrongVersion {
        /// Role being loaded.
        role: String,
        /// Required version.
        expected: u64,
        /// Version found.
        found: u64,
        /// Which rule fixes the version.
        rule: &'static str,
    },
    /// Metadata expired at the reference time: a freeze attack or a stale repository.
    #[error("{role}: expired at {expires} (reference time {reference_time}): freeze attack or stale repository")]
    Expired {
        /// Expired role.
        role: String,
        /// Its expiry.
        expires: DateTime<Utc>,
        /// The update's reference time.
        reference_time: DateTime<Utc>,
    },
    /// Length differs from what the delegating metadata lists.
    #[error("{what}: length {found} does not match the listed length {expected}")]
    LengthMismatch {
        /// File or role checked.
        what: String,
        /// Listed length.
        expected: u64,
        /// Actual length (or a lower bound when reading stopped early).
        found: u64,
    },
    /// A hash differs from what the delegating metadata lists.
    #[error("{what}: {algorithm} hash mismatch (mix-and-match or tampered file)")]
    HashMismatch {
        /// File or role checked.
        what: String,
        /// Hash algorithm.
        algorithm: String,
    },
    /// A hash algorithm tufkit cannot compute.
    #[error(
        "{what}: unsupported hash algorithm {algorithm:?} (supported: sha256, sha384, sha512)"
    )]
    UnsupportedHashAlgorithm {
        /// File or role checked.
        what: String,
        /// The algorithm named.
        algorithm: String,
    },
    /// A role required from snapshot meta is not listed there.
    #[error("{role}: not listed in the trusted snapshot (spec 5.6.1)")]
    MissingFromSnapshot {
        /// The role.
        role: String,
    },
    /// A role listed in the trusted snapshot vanished from the new one.
    #[error("snapshot: {role} was listed in the trusted snapshot and is missing from the new one (spec 5.5.5)")]
    RoleDisappeared {
        /// The role that disappeared.
        role: String,
    },
    /// The delegator does not delegate to this role.
    #[error("{role}: not delegated by {delegator}")]
    NotDelegated {
        /// The role.
        role: String,
        /// The supposed delegator.
        delegator: String,
    },
    /// A call out of the workflow's order (e.g. snapshot before timestamp).
    #[error("{role}: cannot be loaded now: {reason}")]
    OutOfOrder {
        /// Role being loaded.
        role: String,
        /// Which ordering rule was broken.
        reason: &'static str,
    },
    /// Local metadata that must be discarded because its role's keys were rotated.
    #[error("{role}: local copy discarded because the {role} keys changed in the new root (spec 5.3.11, fast-forward attack recovery)")]
    KeysRotated {
        /// The role.
        role: String,
    },
    /// A role's metadata could not be obtained (download or storage failure); used to
    /// record a failed branch of a target search.
    #[error("{role}: could not be loaded: {reason}")]
    Unavailable {
        /// The role.
        role: String,
        /// What went wrong, as reported by the updater.
        reason: String,
    },
    /// A value cannot be encoded as canonical JSON.
    #[error("canonical JSON: {0}")]
    Canonical(String),
    /// A key cannot be parsed or used.
    #[error("key: {0}")]
    Key(String),
}

impl Error {
    /// The TUF specification section of the client workflow that this error enforces,
    /// when there is one.
    pub fn spec_section(&self) -> Option<&'static str> {
        Some(match self {
            Error::WrongType { .. } => "5.3.4",
            Error::ThresholdNotMet { .. } | Error::DuplicateSignature { .. } => "5.4.2",
            Error::Rollback { .. } => "5.4.3",
            Error::WrongVersion { .. } => "5.3.5",
            Error::Expired { .. } => "5.4.4",
            Error::LengthMismatch { .. } | Error::HashMismatch { .. } => "5.5.2",
            Error::MissingFromSnapshot { .. } => "5.6.1",
            Error::RoleDisappeared { .. } => "5.5.5",
            Error::KeysRotated { .. } => "5.3.11",
            _ => return None,
        })
    }
}
