//! Test support for tufkit: an in-memory repository simulator ([`RepoSim`]), test keys
//! and signing helpers ([`keys`]), an in-process client loop over the simulator
//! ([`drive`]), and a loopback HTTP server.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod drive;
pub mod keys;
pub mod python;
pub mod repo;
pub mod server;

pub use keys::{default_reference_time, generate_key, sign_metadata, sign_value};
pub use repo::{delegated_role, JsonLayout, RepoSim, SharedFiles};
pub use server::{Misbehaviour, Server};
