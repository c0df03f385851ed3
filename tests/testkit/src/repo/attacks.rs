//! Attack helpers of [`RepoSim`]: each stages one attack a TUF client must stop.

use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::metadata::MetaFile;

use super::{hashes_of, RepoSim};

impl RepoSim {
    /// Rollback: serves the published bytes of `role` at `old_version` where its latest
    /// version is served (for root: at the next root's URL, `metadata/{N+1}.root.json`).
    #[track_caller]
    pub fn rollback(&mut self, role: &str, old_version: u64) {
        let bytes = self
            .bytes_at(role, old_version)
            .unwrap_or_else(|| panic!("RepoSim never published {role:?} v{old_version}"));
        let latest = self.last_version(role).unwrap_or(old_version);
        let target = if role == "root" { latest + 1 } else { latest };
        let path = self.metadata_path(role, target);
        self.set_file(&path, bytes);
    }

    /// Fast-forward: publishes `role` as `version` (signed with its current, possibly
    /// compromised, keys) together with a new snapshot and timestamp.
    pub fn fast_forward(&mut self, role: &str, version: u64) {
        match role {
            "root" => self.root_mut().version = version,
            "timestamp" => self.timestamp_mut().version = version,
            "snapshot" => self.snapshot_mut().version = version,
            name => self.role_mut(name).version = version,
        }
        if role == "root" {
            self.publish_root();
        } else {
            self.publish();
        }
    }

    /// Freeze: from now on publishing changes nothing that is served (history still grows).
    /// Serve expired metadata by freezing and asking the client at [`RepoSim::after_expiry`].
    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    /// Ends [`RepoSim::freeze`]; later publishes are served again.
    pub fn unfreeze(&mut self) {
        self.frozen = false;
    }

    /// Makes the next snapshots list `meta` for `role` instead of the real entry
    /// (`None`: leave the role out). Takes effect at the next snapshot publish.
    pub fn override_snapshot_meta(&mut self, role: &str, meta: Option<MetaFile>) {
        self.snapshot_overrides.insert(role.to_string(), meta);
    }

    /// Drops the override of [`RepoSim::override_snapshot_meta`] for `role`.
    pub fn clear_snapshot_override(&mut self, role: &str) {
        self.snapshot_overrides.remove(role);
    }

    /// Makes the next timestamps list `meta` for snapshot (`None`: back to the real entry).
    pub fn override_timestamp_meta(&mut self, meta: Option<MetaFile>) {
        self.timestamp_override = meta;
    }

    /// Mix-and-match: publishes a snapshot (and timestamp) that lists the published
    /// `listed_version` of `role` (its true version, length and hashes), while the latest
    /// bytes of `role` are what is served where a client fetches `listed_version`.
    #[track_caller]
    pub fn mix_and_match(&mut self, role: &str, listed_version: u64) {
        let listed = self
            .bytes_at(role, listed_version)
            .unwrap_or_else(|| panic!("RepoSim never published {role:?} v{listed_version}"));
        let meta = self.meta_for(listed_version, &listed);
        self.override_snapshot_meta(role, Some(meta));
        self.publish_snapshot();
        self.publish_timestamp();
        let path = self.metadata_path(role, listed_version);
        let latest = self.bytes(role);
        self.set_file(&path, latest);
    }

    /// The meta entry of the latest published `role` with length and sha256 forced on.
    #[track_caller]
    fn full_meta(&self, role: &str) -> MetaFile {
        let bytes = self.bytes(role);
        let mut meta = MetaFile::with_version(self.last_version(role).unwrap_or(1));
        meta.length = Some(bytes.len() as u64);
        meta.hashes = Some(hashes_of(&bytes, &[HashAlgorithm::Sha256]));
        meta
    }

    fn publish_listing(&mut self, role: &str, meta: MetaFile) {
        if role == "snapshot" {
            self.override_timestamp_meta(Some(meta));
            self.publish_timestamp();
        } else {
            self.override_snapshot_meta(role, Some(meta));
            self.publish_snapshot();
            self.publish_timestamp();
        }
    }

    /// Wrong hash: publishes a listing (timestamp for `snapshot`, snapshot for a targets
    /// role) whose sha256 for the latest `role` is that of other bytes; length is right.
    pub fn corrupt_meta_hashes(&mut self, role: &str) {
        let mut meta = self.full_meta(role);
        meta.hashes = Some(hashes_of(b"not the metadata", &[HashAlgorithm::Sha256]));
        self.publish_listing(role, meta);
    }

    /// Wrong length: publishes a listing whose length for the latest `role` is `length`
    /// (hashes right).
    pub fn corrupt_meta_length(&mut self, role: &str, length: u64) {
        let mut meta = self.full_meta(role);
        meta.length = Some(length);
        self.publish_listing(role, meta);
    }

    /// Arbitrary tampering: edits the bytes served at `path` (no re-signing).
    #[track_caller]
    pub fn tamper(&mut self, path: &str, edit: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = self
            .file(path)
            .unwrap_or_else(|| panic!("RepoSim serves nothing at {path:?}"));
        edit(&mut bytes);
        self.set_file(path, bytes);
    }

    /// Tampers with the served file of the latest published version of `role`.
    #[track_caller]
    pub fn tamper_role(&mut self, role: &str, edit: impl FnOnce(&mut Vec<u8>)) {
        let version = self
            .last_version(role)
            .unwrap_or_else(|| panic!("RepoSim never published {role:?}"));
        let path = self.metadata_path(role, version);
        self.tamper(&path, edit);
    }

    /// Malicious target: serves `content` at every URL of target `path` of `role`, leaving
    /// the metadata (length, hashes) as published.
    pub fn serve_target(&mut self, role: &str, path: &str, content: impl Into<Vec<u8>>) {
        let content = content.into();
        for url in self.target_urls(role, path) {
            self.set_file(&url, content.clone());
        }
    }

    /// Endless data: serves `len` bytes of filler at `path` (e.g. `metadata/timestamp.json`).
    pub fn serve_endless(&mut self, path: &str, len: usize) {
        self.set_file(path, vec![b' '; len]);
    }
}
