//! tufkit-client: the async TUF updater.
//!
//! [`Updater`] runs the client workflow of the TUF specification (section 5) on top of
//! the sans-I/O [`tufkit_core::TrustedSet`]: it fetches metadata through a
//! [`transport::Transport`] (HTTP(S) or `file://`), lets the trusted set decide, stores
//! every accepted role in the [`store::MetadataStore`], searches delegations lazily for
//! targets and downloads target files with streaming verification.
//!
//! Layout: `config` (limits, reference time), `transport` (fetching), `store` (trusted
//! metadata on disk), `urls` (file names and URLs), `updater` (the workflow).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod store;
pub mod transport;
mod updater;
pub mod urls;

pub use config::Config;
pub use error::{Error, Result};
pub use transport::{
    DefaultTransport, FileTransport, HttpOptions, HttpTransport, Transport, TransportError,
};
pub use updater::{validate_target_path, TargetInfo, Updater, UpdaterBuilder};
