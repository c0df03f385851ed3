//! The sans-I/O client trust state machine (spec 5.1 to 5.6).
//!
//! [`TrustedSet`] takes metadata bytes and a fixed reference time and either accepts the
//! metadata, updating what is trusted, or returns an [`Error`] naming the rule broken. It
//! never touches the network or the disk: the updater fetches, this decides.
//!
//! Load order: root (any number of `update_root`), then timestamp, snapshot, targets and
//! delegated roles. Local (previously trusted) timestamp and snapshot are loaded with
//! [`TrustedSet::load_local_timestamp`] / [`TrustedSet::load_local_snapshot`]: their
//! signatures are checked but their expiry is not, so an expired local copy still
//! protects against rollback of the new one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::crypto::hash::check_length_and_hashes;
use crate::crypto::{verify_threshold, Key, KeyId, RoleKeysRef};
use crate::error::{Error, Result};
use crate::metadata::{
    LazySnapshot, LazyTargets, MetaFile, Parsed, RoleMetadata, Root, Signature, Timestamp,
};

#[cfg(test)]
mod tests;

/// Outcome of [`TrustedSet::update_timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampUpdate {
    /// A newer timestamp was accepted (persist it).
    Updated,
    /// The new timestamp has the trusted version: nothing changed, keep the trusted one.
    Unchanged,
}

/// Metadata bytes handed to the trusted set: a `Vec<u8>` is moved in (large documents
/// are kept without a copy), borrowed bytes are copied.
pub trait MetadataBytes {
    /// The bytes, owned.
    fn into_bytes(self) -> Vec<u8>;
}

impl MetadataBytes for Vec<u8> {
    fn into_bytes(self) -> Vec<u8> {
        self
    }
}

impl MetadataBytes for &Vec<u8> {
    fn into_bytes(self) -> Vec<u8> {
        self.clone()
    }
}

impl MetadataBytes for &[u8] {
    fn into_bytes(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl<const N: usize> MetadataBytes for &[u8; N] {
    fn into_bytes(self) -> Vec<u8> {
        self.to_vec()
    }
}

struct LoadedRole {
    doc: LazyTargets,
    delegator: String,
}

struct LocalSnapshot {
    /// Whether the bytes matched the timestamp's length/hashes for snapshot when loaded.
    matches_timestamp_meta: bool,
}

/// The trusted metadata of one update, built up role by role.
pub struct TrustedSet {
    reference_time: DateTime<Utc>,
    root: Parsed<Root>,
    /// Root at construction, for fast-forward recovery (5.3.11).
    initial_root: Root,
    timestamp: Option<Parsed<Timestamp>>,
    snapshot: Option<LazySnapshot>,
    /// Set while the trusted snapshot is a local copy not yet confirmed by a new download.
    local_snapshot: Option<LocalSnapshot>,
    targets: Option<LazyTargets>,
    delegated: HashMap<String, LoadedRole>,
}

impl std::fmt::Debug for TrustedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedSet")
            .field("reference_time", &self.reference_time)
            .field("root_version", &self.root.signed().version)
            .field(
                "timestamp_version",
                &self.timestamp.as_ref().map(|t| t.signed().version),
            )
            .field(
                "snapshot_version",
                &self.snapshot.as_ref().map(|t| t.version()),
            )
            .field(
                "targets_version",
                &self.targets.as_ref().map(|t| t.version()),
            )
            .field("delegated", &self.delegated.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Metadata whose signatures can be checked: canonical `signed` bytes and signatures.
trait Signed {
    fn message(&self) -> &[u8];
    fn signatures(&self) -> &[Signature];
}

impl<T: RoleMetadata> Signed for Parsed<T> {
    fn message(&self) -> &[u8] {
        self.canonical_signed()
    }
    fn signatures(&self) -> &[Signature] {
        &self.metadata.signatures
    }
}

impl<T: crate::metadata::IndexedRole> Signed for crate::metadata::Lazy<T> {
    fn message(&self) -> &[u8] {
        self.canonical_signed()
    }
    fn signatures(&self) -> &[Signature] {
        crate::metadata::Lazy::signatures(self)
    }
}

fn check_signed(
    role: &str,
    doc: &impl Signed,
    keys: &BTreeMap<KeyId, Key>,
    role_keys: RoleKeysRef<'_>,
    by: &str,
) -> Result<()> {
    verify_threshold(role, doc.message(), doc.signatures(), keys, role_keys, by)
}

fn top_role_keys<'a>(root: &'a Root, role: &str) -> Result<RoleKeysRef<'a>> {
    root.role(role)
        .map(|r| r.as_ref())
        .ok_or_else(|| Error::InvalidField {
            role: "root".into(),
            field: format!("signed.roles.{role}"),
            reason: "is missing".into(),
        })
}

fn key_set(root: &Root, role: &str) -> Option<(BTreeSet<KeyId>, u64)> {
    root.role(role)
        .map(|r| (r.keyids.iter().cloned().collect(), r.threshold))
}

impl TrustedSet {
    /// Starts an update from trusted root bytes (spec 5.2) at `reference_time` (spec 5.1).
    ///
    /// The root must parse, be of type root with spec_version 1.x, and carry a threshold
    /// of signatures from its own root keys. Its expiry is not checked here (5.3.10 checks
    /// the final root).
    pub fn new(root_bytes: &[u8], reference_time: DateTime<Utc>) -> Result<TrustedSet> {
        let root = Parsed::<Root>::from_slice(root_bytes, "root")?;
        // 5.2: the trusted root must be signed by a threshold of its own root keys.
        let by = format!(" (keys of root v{})", root.signed().version);
        check_signed(
            "root",
            &root,
            &root.signed().keys,
            top_role_keys(root.signed(), "root")?,
            &by,
        )?;
        Ok(TrustedSet {
            reference_time,
            initial_root: root.signed().clone(),
            root,
            timestamp: None,
            snapshot: None,
            local_snapshot: None,
            targets: None,
            delegated: HashMap::new(),
        })
    }

    /// The reference time of this update.
    pub fn reference_time(&self) -> DateTime<Utc> {
        self.reference_time
    }

    /// The trusted root.
    pub fn root(&self) -> &Root {
        self.root.signed()
    }

    /// The trusted root with its signatures.
    pub fn root_metadata(&self) -> &Parsed<Root> {
        &self.root
    }

    /// The trusted timestamp, if loaded.
    pub fn timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref().map(|p| p.signed())
    }

    /// The trusted snapshot, if loaded.
    pub fn snapshot(&self) -> Option<&LazySnapshot> {
        self.snapshot.as_ref()
    }

    /// The trusted top-level targets, if loaded.
    pub fn targets(&self) -> Option<&LazyTargets> {
        self.targets.as_ref()
    }

    /// A trusted targets role by name (`targets` or a delegated role).
    pub fn targets_role(&self, role: &str) -> Option<&LazyTargets> {
        if role == "targets" {
            return self.targets();
        }
        self.delegated.get(role).map(|r| &r.doc)
    }

    /// The delegator through which a delegated role was loaded.
    pub fn delegator_of(&self, role: &str) -> Option<&str> {
        self.delegated.get(role).map(|r| r.delegator.as_str())
    }

    /// Accepts root N+1 (spec 5.3.4 to 5.3.8). Only allowed before timestamp is loaded.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<&Root> {
        if self.timestamp.is_some() {
            return Err(Error::OutOfOrder {
                role: "root".into(),
                reason: "root cannot change after timestamp is loaded",
            });
        }
        let new = Parsed::<Root>::from_slice(bytes, "root")?;
        let trusted = self.root.signed();
        // 5.3.4: signed by a threshold of the trusted root's root keys...
        let by = format!(" (keys of trusted root v{})", trusted.version);
        check_signed(
            "root",
            &new,
            &trusted.keys,
            top_role_keys(trusted, "root")?,
            &by,
        )?;
        // 5.3.5: version exactly N+1.
        let expected = trusted.version + 1;
        if new.signed().version != expected {
            return Err(if new.signed().version < expected {
                Error::Rollback {
                    role: "root".into(),
                    trusted: trusted.version,
                    found: new.signed().version,
                }
            } else {
                Error::WrongVersion {
                    role: "root".into(),
                    expected,
                    found: new.signed().version,
                    rule: "root versions must increase by exactly one, spec 5.3.5",
                }
            });
        }
        // ...and by a threshold of its own root keys (5.3.4).
        let by = format!(" (keys of new root v{})", new.signed().version);
        check_signed(
            "root",
            &new,
            &new.signed().keys,
            top_role_keys(new.signed(), "root")?,
            &by,
        )?;
        // 5.3.3 / 5.3.8: expiry is not checked for intermediate roots.
        self.root = new;
        Ok(self.root.signed())
    }

    /// 5.3.10: the final root must not be expired at the reference time.
    pub fn check_final_root(&self) -> Result<()> {
        let root = self.root.signed();
        if root.is_expired(self.reference_time) {
            return Err(Error::Expired {
                role: "root".into(),
                expires: root.expires,
                reference_time: self.reference_time,
            });
        }
        Ok(())
    }

    /// 5.3.11: whether local timestamp and snapshot must be discarded because the
    /// timestamp or snapshot keys changed between the initial and the current root.
    pub fn fast_forward_recovery_needed(&self) -> bool {
        ["timestamp", "snapshot"]
            .iter()
            .any(|r| key_set(&self.initial_root, r) != key_set(self.root.signed(), r))
    }

    fn verify_timestamp(&self, bytes: &[u8]) -> Result<Parsed<Timestamp>> {
        let root = self.root.signed();
        let new = Parsed::<Timestamp>::from_slice(bytes, "timestamp")?;
        // 5.4.2: threshold of the root's timestamp keys.
        check_signed(
            "timestamp",
            &new,
            &root.keys,
            top_role_keys(root, "timestamp")?,
            "",
        )?;
        Ok(new)
    }

    /// Loads the locally stored timestamp as the baseline for rollback checks.
    ///
    /// Signatures must verify with the current root; expiry is not checked (an expired
    /// local timestamp still guards against rollback). Refused when the timestamp or
    /// snapshot keys were rotated since the initial root (5.3.11).
    pub fn load_local_timestamp(&mut self, bytes: &[u8]) -> Result<&Timestamp> {
        if self.timestamp.is_some() {
            return Err(Error::OutOfOrder {
                role: "timestamp".into(),
                reason: "a timestamp is already loaded",
            });
        }
        if self.fast_forward_recovery_needed() {
            return Err(Error::KeysRotated {
                role: "timestamp".into(),
            });
        }
        let new = self.verify_timestamp(bytes)?;
        Ok(self.timestamp.insert(new).signed())
    }

    /// Accepts a newly downloaded timestamp (spec 5.4).
    pub fn update_timestamp(&mut self, bytes: &[u8]) -> Result<TimestampUpdate> {
        if self.snapshot.is_some() {
            return Err(Error::OutOfOrder {
                role: "timestamp".into(),
                reason: "timestamp cannot change after snapshot is loaded",
            });
        }
        // 5.3.10: the final root must be unexpired before timestamp is used.
        self.check_final_root()?;
        let new = self.verify_timestamp(bytes)?;
        let mut unchanged = false;
        if let Some(old) = self.timestamp.as_ref().map(|p| p.signed()) {
            let (ov, nv) = (old.version, new.signed().version);
            // 5.4.3.1: no rollback of the timestamp version.
            if nv < ov {
                return Err(Error::Rollback {
                    role: "timestamp".into(),
                    trusted: ov,
                    found: nv,
                });
            }
            if nv == ov {
                unchanged = true;
            } else {
                // 5.4.3.2: no rollback of the snapshot version it lists.
                let (os, ns) = (
                    old.snapshot_meta().version,
                    new.signed().snapshot_meta().version,
                );
                if ns < os {
                    return Err(Error::Rollback {
                        role: "snapshot (as listed by timestamp)".into(),
                        trusted: os,
                        found: ns,
                    });
                }
            }
        }
        let candidate = if unchanged {
            self.timestamp
                .as_ref()
                .map(|p| p.signed())
                .unwrap_or(new.signed())
        } else {
            new.signed()
        };
        // 5.4.4: freeze attack.
        if candidate.is_expired(self.reference_time) {
            return Err(Error::Expired {
                role: "timestamp".into(),
                expires: candidate.expires,
                reference_time: self.reference_time,
            });
        }
        if unchanged {
            return Ok(TimestampUpdate::Unchanged);
        }
        self.timestamp = Some(new);
        Ok(TimestampUpdate::Updated)
    }

    fn final_timestamp(&self, role: &str) -> Result<&Timestamp> {
        let ts = self
            .timestamp
            .as_ref()
            .map(|p| p.signed())
            .ok_or_else(|| Error::OutOfOrder {
                role: role.into(),
                reason: "timestamp must be loaded first",
            })?;
        if ts.is_expired(self.reference_time) {
            return Err(Error::Expired {
                role: "timestamp".into(),
                expires: ts.expires,
                reference_time: self.reference_time,
            });
        }
        Ok(ts)
    }

    fn verify_snapshot(&self, bytes: Vec<u8>) -> Result<LazySnapshot> {
        let root = self.root.signed();
        let new = LazySnapshot::parse(bytes, "snapshot")?;
        // 5.5.3: threshold of the root's snapshot keys.
        check_signed(
            "snapshot",
            &new,
            &root.keys,
            top_role_keys(root, "snapshot")?,
            "",
        )?;
        Ok(new)
    }

    /// Loads the locally stored snapshot as the baseline for rollback checks.
    ///
    /// Signatures must verify; expiry and the timestamp's version are not required (the
    /// copy may be older). Refused after a timestamp/snapshot key rotation (5.3.11).
    pub fn load_local_snapshot(&mut self, bytes: impl MetadataBytes) -> Result<&LazySnapshot> {
        let bytes = bytes.into_bytes();
        if self.snapshot.is_some() || self.targets.is_some() {
            return Err(Error::OutOfOrder {
                role: "snapshot".into(),
                reason: "a snapshot is already loaded",
            });
        }
        if self.fast_forward_recovery_needed() {
            return Err(Error::KeysRotated {
                role: "snapshot".into(),
            });
        }
        let ts_meta = self.final_timestamp("snapshot")?.snapshot_meta().clone();
        let matches =
            check_length_and_hashes("snapshot", &bytes, ts_meta.length, ts_meta.hashes.as_ref())
                .is_ok();
        let new = self.verify_snapshot(bytes)?;
        self.local_snapshot = Some(LocalSnapshot {
            matches_timestamp_meta: matches,
        });
        Ok(self.snapshot.insert(new))
    }

    /// True when the loaded local snapshot is exactly what the trusted timestamp names
    /// (version, and length/hashes if listed) and is unexpired: no download is needed.
    pub fn local_snapshot_is_current(&self) -> bool {
        self.check_final_snapshot().is_ok()
    }

    /// Accepts a newly downloaded snapshot (spec 5.5).
    pub fn update_snapshot(&mut self, bytes: impl MetadataBytes) -> Result<&LazySnapshot> {
        let bytes = bytes.into_bytes();
        if self.targets.is_some() {
            return Err(Error::OutOfOrder {
                role: "snapshot".into(),
                reason: "snapshot cannot change after targets is loaded",
            });
        }
        let ts_meta = self.final_timestamp("snapshot")?.snapshot_meta().clone();
        // 5.5.2: length and hashes from timestamp, checked before anything is parsed.
        check_length_and_hashes("snapshot", &bytes, ts_meta.length, ts_meta.hashes.as_ref())?;
        let new = self.verify_snapshot(bytes)?;
        // 5.5.4: version must be the one timestamp lists.
        if new.version() != ts_meta.version {
            return Err(Error::WrongVersion {
                role: "snapshot".into(),
                expected: ts_meta.version,
                found: new.version(),
                rule: "snapshot version must match timestamp meta, spec 5.5.4",
            });
        }
        // 5.5.5: no targets role rolls back or disappears.
        if let Some(old) = self.snapshot.as_ref() {
            check_no_role_rollback(old, &new)?;
        }
        // 5.5.6: freeze attack.
        if new.is_expired(self.reference_time) {
            return Err(Error::Expired {
                role: "snapshot".into(),
                expires: new.expires(),
                reference_time: self.reference_time,
            });
        }
        self.local_snapshot = None;
        Ok(self.snapshot.insert(new))
    }

    fn check_final_snapshot(&self) -> Result<&LazySnapshot> {
        let ts_meta = self.final_timestamp("targets")?.snapshot_meta();
        let snap = self.snapshot.as_ref().ok_or_else(|| Error::OutOfOrder {
            role: "targets".into(),
            reason: "snapshot must be loaded first",
        })?;
        if snap.is_expired(self.reference_time) {
            return Err(Error::Expired {
                role: "snapshot".into(),
                expires: snap.expires(),
                reference_time: self.reference_time,
            });
        }
        if snap.version() != ts_meta.version {
            return Err(Error::WrongVersion {
                role: "snapshot".into(),
                expected: ts_meta.version,
                found: snap.version(),
                rule: "snapshot version must match timestamp meta, spec 5.5.4",
            });
        }
        if let Some(local) = &self.local_snapshot {
            if !local.matches_timestamp_meta {
                return Err(Error::HashMismatch {
                    what: "snapshot (local copy)".into(),
                    algorithm: "listed".into(),
                });
            }
        }
        Ok(snap)
    }

    /// The snapshot entry for a targets role, once snapshot is final.
    pub fn snapshot_meta_for(&self, role: &str) -> Result<MetaFile> {
        let snap = self.check_final_snapshot()?;
        snap.role_meta(role)?
            .ok_or_else(|| Error::MissingFromSnapshot { role: role.into() })
    }

    /// Accepts top-level targets (spec 5.6), verified with the root's targets keys.
    pub fn update_targets(&mut self, bytes: impl MetadataBytes) -> Result<&LazyTargets> {
        self.update_delegated_targets(bytes, "targets", "root")
    }

    /// Accepts a targets role: `targets` (delegator `root`) or a delegated role verified
    /// with the keys its delegator lists for it (spec 5.6).
    ///
    /// Loading a role again replaces it (e.g. a newer local copy with a remote one).
    pub fn update_delegated_targets(
        &mut self,
        bytes: impl MetadataBytes,
        role: &str,
        delegator: &str,
    ) -> Result<&LazyTargets> {
        let bytes = bytes.into_bytes();
        // 5.6.1: the role must be listed in the final snapshot.
        let meta = self.snapshot_meta_for(role)?;
        // 5.6.2: length and hashes before parsing.
        check_length_and_hashes(role, &bytes, meta.length, meta.hashes.as_ref())?;
        let new = LazyTargets::parse(bytes, role)?;
        // 5.6.3: threshold of the delegator's keys for this role.
        self.verify_role_signatures(role, delegator, &new)?;
        // 5.6.4: version from snapshot.
        if new.version() != meta.version {
            return Err(Error::WrongVersion {
                role: role.into(),
                expected: meta.version,
                found: new.version(),
                rule: "version must match snapshot meta, spec 5.6.4",
            });
        }
        // 5.6.5: freeze attack.
        if new.is_expired(self.reference_time) {
            return Err(Error::Expired {
                role: role.into(),
                expires: new.expires(),
                reference_time: self.reference_time,
            });
        }
        if role == "targets" {
            return Ok(self.targets.insert(new));
        }
        let entry = LoadedRole {
            doc: new,
            delegator: delegator.to_string(),
        };
        self.delegated.insert(role.to_string(), entry);
        Ok(&self.delegated[role].doc)
    }

    fn verify_role_signatures(&self, role: &str, delegator: &str, doc: &LazyTargets) -> Result<()> {
        if role == "targets" || delegator == "root" {
            if role != "targets" || delegator != "root" {
                return Err(Error::NotDelegated {
                    role: role.into(),
                    delegator: delegator.into(),
                });
            }
            let root = self.root.signed();
            return check_signed(role, doc, &root.keys, top_role_keys(root, "targets")?, "");
        }
        let parent = self
            .targets_role(delegator)
            .ok_or_else(|| Error::OutOfOrder {
                role: role.into(),
                reason: "its delegator is not loaded",
            })?;
        let delegations = parent.delegations().ok_or_else(|| Error::NotDelegated {
            role: role.into(),
            delegator: delegator.into(),
        })?;
        let (keyids, threshold) =
            delegations
                .role_keys(role)?
                .ok_or_else(|| Error::NotDelegated {
                    role: role.into(),
                    delegator: delegator.into(),
                })?;
        let keys = RoleKeysRef {
            keyids: &keyids,
            threshold,
        };
        let by = format!(" (keys delegated by {delegator})");
        check_signed(role, doc, delegations.keys(), keys, &by)
    }

    /// Checks an already trusted delegated role against another delegator's keys: a role
    /// reached through a second delegator must also satisfy that delegator's threshold.
    pub fn verify_loaded_role_via(&self, role: &str, delegator: &str) -> Result<()> {
        let loaded = self.delegated.get(role).ok_or_else(|| Error::OutOfOrder {
            role: role.into(),
            reason: "role is not loaded",
        })?;
        if loaded.delegator == delegator {
            return Ok(());
        }
        self.verify_role_signatures(role, delegator, &loaded.doc)
    }
}

/// 5.5.5: no targets role listed by the trusted snapshot may disappear from the new one or
/// go back in version. Entries whose bytes did not change are not built.
fn check_no_role_rollback(old: &LazySnapshot, new: &LazySnapshot) -> Result<()> {
    for (name, old_raw) in old.raw_entries() {
        let role = name.trim_end_matches(".json");
        let Some(new_raw) = new.raw_entry(name) else {
            return Err(Error::RoleDisappeared { role: role.into() });
        };
        if old_raw == new_raw {
            continue;
        }
        let (Some(old_meta), Some(new_meta)) = (old.entry(name)?, new.entry(name)?) else {
            return Err(Error::RoleDisappeared { role: role.into() });
        };
        if new_meta.version < old_meta.version {
            return Err(Error::Rollback {
                role: role.into(),
                trusted: old_meta.version,
                found: new_meta.version,
            });
        }
    }
    Ok(())
}
