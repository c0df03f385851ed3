//! tufkit-core: the TUF metadata model, canonical JSON, keys and signatures, and the
//! sans-I/O client trust state machine with its delegation search.
//!
//! Nothing in this crate does I/O: every check of the client workflow is a function of
//! bytes and a reference time. See `docs/architecture.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod canonical;
pub mod crypto;
pub mod delegation;
pub mod error;
pub mod json;
pub mod metadata;
pub mod rolename;
pub mod trust;

pub use delegation::{SearchStep, TargetSearch, DEFAULT_MAX_DELEGATIONS};
pub use error::{Error, Result};
pub use trust::{MetadataBytes, TimestampUpdate, TrustedSet};
