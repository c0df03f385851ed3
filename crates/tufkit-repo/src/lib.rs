//! tufkit-repo: the TUF repository library.
//!
//! A repository *workspace* is a directory holding `tufkit.toml` (policy), `keys/`
//! (private keys, never published), `staged/` (drafts: edited roles, target files waiting
//! to be published, the next root version) and `repository/` (the published tree a web
//! server serves as is). The signed metadata in `repository/metadata/` is the single
//! source of truth for keys and thresholds.
//!
//! Every operation is a function on a [`Workspace`]; the `tufkit` CLI is a thin layer
//! over them. Published files go through the [`Storage`] trait, whose directory
//! implementation writes each file to a staging area and renames it into place.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod add;
pub(crate) mod batch;
pub(crate) mod changes;
pub mod config;
pub mod drafts;
pub mod duration;
pub mod edit;
pub mod error;
pub mod hosted;
pub mod index;
pub mod init;
pub mod keys;
pub mod links;
pub mod lock;
pub mod manifest;
pub mod parallel;
pub mod publish;
pub mod refresh;
pub mod resign;
pub mod revoke;
pub mod roles;
pub mod rootops;
pub mod routing;
pub mod serve;
pub mod signing;
pub mod sources;
pub mod state;
pub mod status;
pub mod storage;
pub mod template;
pub mod verify;
pub mod workspace;
pub(crate) mod write;

pub use config::Config;
pub use duration::{format_duration, parse_duration};
pub use error::{Error, Result};
pub use keys::{KeyRing, KeyType};
pub use storage::{BatchFile, Content, DirStorage, Storage};
pub use workspace::Workspace;
