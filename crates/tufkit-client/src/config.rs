//! Updater settings: size limits, search limits, target naming and the reference time.

use chrono::{DateTime, Utc};

/// Limits and behaviour of an [`crate::Updater`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest root file accepted, in bytes (5.3.2).
    pub max_root_size: u64,
    /// Largest timestamp file accepted, in bytes (5.4.1).
    pub max_timestamp_size: u64,
    /// Largest snapshot file when timestamp lists no length (5.5.1).
    pub max_snapshot_size: u64,
    /// Largest targets (or delegated role) file when snapshot lists no length (5.6.1).
    pub max_targets_size: u64,
    /// Most new root versions accepted in one refresh (5.3.3); the chain resumes from the
    /// last persisted root on the next refresh.
    pub max_root_rotations: u32,
    /// Most delegated roles one target search visits (5.6.7); top-level targets is not
    /// counted.
    pub max_delegations: usize,
    /// With consistent snapshots, fetch targets as `dir/HASH.basename` (5.7.2).
    pub prefix_targets_with_hash: bool,
    /// The reference time of every refresh; `None` reads the clock once per refresh (5.1).
    pub reference_time: Option<DateTime<Utc>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_root_size: 512_000,
            max_timestamp_size: 16_384,
            max_snapshot_size: 2_000_000,
            max_targets_size: 5_000_000,
            max_root_rotations: 1024,
            max_delegations: tufkit_core::DEFAULT_MAX_DELEGATIONS,
            prefix_targets_with_hash: true,
            reference_time: None,
        }
    }
}

impl Config {
    /// This configuration with a fixed reference time (for tests and audits).
    pub fn with_reference_time(mut self, time: DateTime<Utc>) -> Config {
        self.reference_time = Some(time);
        self
    }

    /// The reference time to use for an update starting now.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.reference_time.unwrap_or_else(Utc::now)
    }
}
