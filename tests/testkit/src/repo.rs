//! [`RepoSim`]: an in-memory TUF repository that every tufkit test drives, and that can
//! stage any attack in a few lines.
//!
//! # Model
//!
//! The simulator holds the current *bodies* (the `signed` parts) of root, timestamp,
//! snapshot, top-level targets and every delegated role, the private keys of every role,
//! and a served file map ([`SharedFiles`]) keyed by URL path relative to the repository
//! base, without a leading `/`:
//!
//! * `metadata/{N}.root.json` for every root version, and `metadata/root.json` (latest);
//! * `metadata/timestamp.json`;
//! * `metadata/{V}.{ROLE}.json` for snapshot, targets and delegated roles when the root says
//!   `consistent_snapshot: true` (the default), `metadata/{ROLE}.json` otherwise, with
//!   `ROLE` percent-encoded by `tufkit_core::rolename`;
//! * `targets/{dirs/}{HASH}.{basename}` for every listed hash of a target added with
//!   [`RepoSim::add_target`] (consistent snapshots), or `targets/{path}` otherwise.
//!
//! Bodies are edited through the `*_mut` accessors and the key, delegation and target
//! helpers, which mark roles as changed. [`RepoSim::publish`] then publishes a new version
//! of every changed role, then a new snapshot (meta recomputed) and a new timestamp. A
//! publish bumps a role's version to one more than its last published version, unless
//! the body already holds a higher, unpublished version (that is how a test jumps ahead).
//! Every published version is kept ([`RepoSim::bytes_at`]) so old bytes can be re-served.
//!
//! Signing: each role is signed by the keys the simulator holds for the keyids authorised
//! for it (for root, those of the previous published root too, so rotations verify),
//! unless [`RepoSim::set_signers`] overrides them; [`RepoSim::add_extra_signer`] adds keys
//! that sign without being authorised, and [`RepoSim::tweak_signatures`] edits the final
//! signature list (duplicates, blanks, garbage). Attack helpers live in `repo/attacks.rs`.
//!
//! This is test code: misuse (an unknown role, a version never published) panics with a
//! message saying what was asked.
//!
//! # Example: a rollback attack on a delegated role
//!
//! ```
//! use tufkit_testkit::{default_reference_time, drive, RepoSim};
//!
//! let mut sim = RepoSim::new(default_reference_time());
//! sim.add_delegation("targets", "team", &["team/*"], false);
//! sim.add_target("team", "team/app.tgz", "v1");
//! sim.publish();
//! sim.add_target("team", "team/app.tgz", "v2");
//! sim.publish();
//! sim.rollback("team", 1); // serve team v1 where v2 belongs
//!
//! let mut set = drive::refresh(&sim, sim.reference_time()).unwrap();
//! let run = drive::search(&mut set, &sim, "team/app.tgz", 32);
//! assert!(run.found.is_none());
//! assert!(run.failures[0].1.to_string().contains("version"));
//! ```

mod admin;
pub use admin::delegated_role;
mod attacks;
mod files;
mod signing;

/// How [`RepoSim`] writes metadata files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonLayout {
    /// Pretty-printed with sorted keys, like python-tuf and tufkit publish.
    Pretty,
    /// The canonical bytes themselves (no whitespace), as some generators write.
    Canonical,
    /// Valid JSON far from canonical: keys in reverse order, escaped non-ASCII and `/`,
    /// `-0` for zero, spaces around separators.
    Reordered,
}

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use serde_json::Map;
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::crypto::{KeyId, KeyKind, SigningKey};
use tufkit_core::metadata::{
    Hashes, MetaFile, RoleKeys, Root, Signature, Snapshot, Targets, Timestamp, TOP_LEVEL_ROLES,
};

use crate::keys::{generate_key, rsa_test_key};

/// The served files, by URL path relative to the repository base (no leading `/`).
pub type SharedFiles = Arc<RwLock<BTreeMap<String, Vec<u8>>>>;

/// Edits the signatures of a role after signing (see [`RepoSim::tweak_signatures`]).
pub type SignatureTweak = Arc<dyn Fn(&mut Vec<Signature>) + Send + Sync>;

/// Days from the reference time until metadata published with default settings expires.
pub const DEFAULT_LIFETIME_DAYS: i64 = 30;

/// The `spec_version` the simulator writes.
pub const SPEC_VERSION: &str = "1.0.31";

/// An in-memory TUF repository (see the module documentation).
pub struct RepoSim {
    reference_time: DateTime<Utc>,
    key_kind: KeyKind,
    rsa_next: usize,
    root: Root,
    timestamp: Timestamp,
    snapshot: Snapshot,
    /// Targets roles by name: `targets` and every delegated role.
    roles: BTreeMap<String, Targets>,
    /// Every private key the simulator has made or been given, by keyid.
    keyring: BTreeMap<KeyId, Arc<SigningKey>>,
    signer_override: BTreeMap<String, Vec<Arc<SigningKey>>>,
    extra_signers: BTreeMap<String, Vec<Arc<SigningKey>>>,
    tweaks: BTreeMap<String, SignatureTweak>,
    /// Roles changed since their last publish.
    dirty: BTreeSet<String>,
    /// Every published version of every role: role -> version -> envelope bytes.
    history: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    /// The last published root body (its root keys co-sign the next root).
    published_root: Option<Root>,
    /// Target contents by (role, target path).
    contents: BTreeMap<(String, String), Vec<u8>>,
    target_hashes: Vec<HashAlgorithm>,
    /// Snapshot meta overrides by role name; `None` leaves the role out.
    snapshot_overrides: BTreeMap<String, Option<MetaFile>>,
    timestamp_override: Option<MetaFile>,
    meta_hashes: bool,
    layout: JsonLayout,
    frozen: bool,
    files: SharedFiles,
}

impl std::fmt::Debug for RepoSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoSim")
            .field("root_version", &self.root.version)
            .field("timestamp_version", &self.timestamp.version)
            .field("snapshot_version", &self.snapshot.version)
            .field("roles", &self.roles.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn is_top_level(role: &str) -> bool {
    TOP_LEVEL_ROLES.contains(&role)
}

impl RepoSim {
    /// A repository with one ed25519 key per top-level role, threshold 1, consistent
    /// snapshots, expiries [`DEFAULT_LIFETIME_DAYS`] after `reference_time`, and version 1
    /// of every role published.
    pub fn new(reference_time: DateTime<Utc>) -> RepoSim {
        RepoSim::with_key_kind(reference_time, KeyKind::Ed25519)
    }

    /// Like [`RepoSim::new`], with keys of `kind` (RSA uses the fixed test keys) for the
    /// top-level roles and for every key the simulator makes later.
    pub fn with_key_kind(reference_time: DateTime<Utc>, kind: KeyKind) -> RepoSim {
        let expires = reference_time + Duration::days(DEFAULT_LIFETIME_DAYS);
        let roles = TOP_LEVEL_ROLES
            .iter()
            .map(|r| {
                let keys = RoleKeys {
                    keyids: Vec::new(),
                    threshold: 1,
                    unknown: Map::new(),
                };
                (r.to_string(), keys)
            })
            .collect();
        let root = Root {
            type_: "root".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires,
            consistent_snapshot: Some(true),
            keys: BTreeMap::new(),
            roles,
            unknown: Map::new(),
        };
        let timestamp = Timestamp {
            type_: "timestamp".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires,
            meta: BTreeMap::from([("snapshot.json".to_string(), MetaFile::with_version(1))]),
            unknown: Map::new(),
        };
        let snapshot = Snapshot {
            type_: "snapshot".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires,
            meta: BTreeMap::new(),
            unknown: Map::new(),
        };
        let mut sim = RepoSim {
            reference_time,
            key_kind: kind,
            rsa_next: 0,
            root,
            timestamp,
            snapshot,
            roles: BTreeMap::new(),
            keyring: BTreeMap::new(),
            signer_override: BTreeMap::new(),
            extra_signers: BTreeMap::new(),
            tweaks: BTreeMap::new(),
            dirty: BTreeSet::new(),
            history: BTreeMap::new(),
            published_root: None,
            contents: BTreeMap::new(),
            target_hashes: vec![HashAlgorithm::Sha256],
            snapshot_overrides: BTreeMap::new(),
            timestamp_override: None,
            meta_hashes: false,
            layout: JsonLayout::Pretty,
            frozen: false,
            files: SharedFiles::default(),
        };
        let targets = sim.new_targets_body();
        sim.roles.insert("targets".into(), targets);
        for role in TOP_LEVEL_ROLES {
            sim.add_key(role);
        }
        sim.publish();
        sim
    }

    /// The reference time the simulator was built for.
    pub fn reference_time(&self) -> DateTime<Utc> {
        self.reference_time
    }

    /// A time at which everything published with default expiries has expired.
    pub fn after_expiry(&self) -> DateTime<Utc> {
        self.reference_time + Duration::days(DEFAULT_LIFETIME_DAYS + 1)
    }

    /// The default expiry of new metadata.
    pub fn default_expires(&self) -> DateTime<Utc> {
        self.reference_time + Duration::days(DEFAULT_LIFETIME_DAYS)
    }

    /// A new key of the simulator's key kind (registered in its keyring, authorised nowhere).
    pub fn new_key(&mut self) -> Arc<SigningKey> {
        let key = match self.key_kind {
            KeyKind::RsaPssSha256 => {
                self.rsa_next += 1;
                rsa_test_key(self.rsa_next - 1)
            }
            kind => generate_key(kind),
        };
        self.keyring.insert(key.key_id().clone(), key.clone());
        key
    }

    pub(crate) fn new_targets_body(&self) -> Targets {
        Targets {
            type_: "targets".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires: self.default_expires(),
            targets: BTreeMap::new(),
            delegations: None,
            unknown: Map::new(),
        }
    }

    // ----- bodies -------------------------------------------------------------------

    /// The current root body.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The root body, for editing; the next publish makes a new root version.
    pub fn root_mut(&mut self) -> &mut Root {
        self.dirty.insert("root".into());
        &mut self.root
    }

    /// The current timestamp body.
    pub fn timestamp(&self) -> &Timestamp {
        &self.timestamp
    }

    /// The timestamp body, for editing. Its `meta` is recomputed on publish (see
    /// [`RepoSim::override_timestamp_meta`]).
    pub fn timestamp_mut(&mut self) -> &mut Timestamp {
        &mut self.timestamp
    }

    /// The current snapshot body.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The snapshot body, for editing. Its `meta` is recomputed on publish (see
    /// [`RepoSim::override_snapshot_meta`]).
    pub fn snapshot_mut(&mut self) -> &mut Snapshot {
        &mut self.snapshot
    }

    /// The top-level targets body.
    pub fn targets(&self) -> &Targets {
        self.role("targets")
    }

    /// The top-level targets body, for editing.
    pub fn targets_mut(&mut self) -> &mut Targets {
        self.role_mut("targets")
    }

    /// A targets role (`targets` or delegated) by name. Panics if there is none.
    #[track_caller]
    pub fn role(&self, name: &str) -> &Targets {
        self.roles
            .get(name)
            .unwrap_or_else(|| panic!("RepoSim has no targets role {name:?}"))
    }

    /// A targets role, for editing; the next publish makes a new version of it.
    #[track_caller]
    pub fn role_mut(&mut self, name: &str) -> &mut Targets {
        self.dirty.insert(name.to_string());
        self.roles
            .get_mut(name)
            .unwrap_or_else(|| panic!("RepoSim has no targets role {name:?}"))
    }

    /// Names of all targets roles (`targets` and delegated), sorted.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.keys().cloned().collect()
    }

    /// Marks a role changed so the next [`RepoSim::publish`] republishes it.
    pub fn touch(&mut self, role: &str) {
        self.dirty.insert(role.to_string());
    }

    /// Sets `consistent_snapshot` in root (published with the next root).
    pub fn set_consistent_snapshot(&mut self, consistent: bool) {
        self.root_mut().consistent_snapshot = Some(consistent);
    }

    /// Whether timestamp and snapshot meta list `length` and `hashes` besides `version`
    /// (off by default, like python-tuf's simulator). Applies from the next publish.
    pub fn set_meta_hashes(&mut self, on: bool) {
        self.meta_hashes = on;
    }

    /// How metadata files are written from now on (signatures are unaffected: they always
    /// cover the canonical form).
    pub fn set_layout(&mut self, layout: JsonLayout) {
        self.layout = layout;
    }

    /// How metadata files are written.
    pub fn layout(&self) -> JsonLayout {
        self.layout
    }

    /// Sets `expires` of any role (applied at its next publish).
    pub fn set_expires(&mut self, role: &str, expires: DateTime<Utc>) {
        match role {
            "root" => self.root_mut().expires = expires,
            "timestamp" => self.timestamp.expires = expires,
            "snapshot" => self.snapshot.expires = expires,
            name => self.role_mut(name).expires = expires,
        }
    }

    /// Makes `role` expire one day before the reference time (a freeze attack when served).
    pub fn expire(&mut self, role: &str) {
        self.set_expires(role, self.reference_time - Duration::days(1));
    }

    // ----- publishing ---------------------------------------------------------------

    fn next_version(&self, role: &str, current: u64) -> u64 {
        let last = self.last_version(role).unwrap_or(0);
        current.max(last + 1)
    }

    /// The last published version of `role`, if any.
    pub fn last_version(&self, role: &str) -> Option<u64> {
        self.history
            .get(role)
            .and_then(|h| h.keys().next_back().copied())
    }

    fn record(&mut self, role: &str, version: u64, bytes: Vec<u8>) {
        let path = self.metadata_path(role, version);
        self.write_file(&path, bytes.clone());
        if role == "root" {
            self.write_file("metadata/root.json", bytes.clone());
        }
        self.history
            .entry(role.to_string())
            .or_default()
            .insert(version, bytes);
        self.dirty.remove(role);
    }

    /// Publishes every changed role, then a new snapshot and a new timestamp.
    pub fn publish(&mut self) {
        if self.dirty.contains("root") || self.last_version("root").is_none() {
            self.publish_root();
        }
        let changed: Vec<String> = self
            .roles
            .keys()
            .filter(|r| self.dirty.contains(*r) || self.last_version(r).is_none())
            .cloned()
            .collect();
        for role in changed {
            self.publish_role(&role);
        }
        self.publish_snapshot();
        self.publish_timestamp();
    }

    /// Publishes a new root version only; returns the version.
    pub fn publish_root(&mut self) -> u64 {
        self.root.version = self.next_version("root", self.root.version);
        let bytes = self.signed_bytes("root");
        let version = self.root.version;
        self.record("root", version, bytes);
        self.published_root = Some(self.root.clone());
        version
    }

    /// Publishes a new version of one targets role (and its target files); returns it.
    #[track_caller]
    pub fn publish_role(&mut self, role: &str) -> u64 {
        let version = self.next_version(role, self.role(role).version);
        self.role_mut(role).version = version;
        let bytes = self.signed_bytes(role);
        self.record(role, version, bytes);
        self.write_target_files(role);
        version
    }

    /// Publishes a new snapshot listing the last published version of every targets role
    /// (with length and hashes when enabled), after overrides; returns its version.
    pub fn publish_snapshot(&mut self) -> u64 {
        let mut meta = BTreeMap::new();
        for name in self.roles.keys() {
            if let Some((&v, bytes)) = self.history.get(name).and_then(|h| h.iter().next_back()) {
                meta.insert(format!("{name}.json"), self.meta_for(v, bytes));
            }
        }
        for (name, entry) in &self.snapshot_overrides {
            let key = format!("{name}.json");
            match entry {
                Some(m) => meta.insert(key, m.clone()),
                None => meta.remove(&key),
            };
        }
        self.snapshot.meta = meta;
        self.snapshot.version = self.next_version("snapshot", self.snapshot.version);
        let bytes = self.signed_bytes("snapshot");
        let version = self.snapshot.version;
        self.record("snapshot", version, bytes);
        version
    }

    /// Publishes a new timestamp listing the last published snapshot; returns its version.
    pub fn publish_timestamp(&mut self) -> u64 {
        let entry = match &self.timestamp_override {
            Some(m) => m.clone(),
            None => {
                let (v, bytes) = self
                    .history
                    .get("snapshot")
                    .and_then(|h| h.iter().next_back())
                    .expect("a snapshot is published before any timestamp");
                self.meta_for(*v, bytes)
            }
        };
        self.timestamp.meta = BTreeMap::from([("snapshot.json".to_string(), entry)]);
        self.timestamp.version = self.next_version("timestamp", self.timestamp.version);
        let bytes = self.signed_bytes("timestamp");
        let version = self.timestamp.version;
        self.record("timestamp", version, bytes);
        version
    }

    /// The meta entry describing `bytes` published as `version`.
    pub fn meta_for(&self, version: u64, bytes: &[u8]) -> MetaFile {
        let mut meta = MetaFile::with_version(version);
        if self.meta_hashes {
            meta.length = Some(bytes.len() as u64);
            meta.hashes = Some(hashes_of(bytes, &[HashAlgorithm::Sha256]));
        }
        meta
    }
}

/// Hashes of `data` with each algorithm, as metadata lists them.
pub fn hashes_of(data: &[u8], algorithms: &[HashAlgorithm]) -> Hashes {
    algorithms
        .iter()
        .map(|a| (a.name().to_string(), a.hex_digest(data)))
        .collect()
}
