//! Timestamp (spec 5.4) and snapshot (spec 5.5) rules, including local-copy handling and
//! fast-forward attack recovery (5.3.11).

use tufkit_core::metadata::MetaFile;
use tufkit_core::{Error, TimestampUpdate, TrustedSet};
use tufkit_testkit::drive::{fetch, update_roots};
use tufkit_testkit::keys::parse_envelope;
use tufkit_testkit::{default_reference_time, RepoSim};

fn t0() -> chrono::DateTime<chrono::Utc> {
    default_reference_time()
}

/// A trusted set bootstrapped from root v1 and updated through every served root.
fn trusted(sim: &RepoSim) -> TrustedSet {
    let mut set = TrustedSet::new(&sim.trusted_root_bytes(1), t0()).unwrap();
    update_roots(&mut set, sim).unwrap();
    set
}

fn served_timestamp(sim: &RepoSim) -> Vec<u8> {
    fetch(sim, "timestamp", 0).unwrap()
}

/// The snapshot served at the version the trusted timestamp lists.
fn served_snapshot(set: &TrustedSet, sim: &RepoSim) -> Vec<u8> {
    let v = set.timestamp().unwrap().snapshot_meta().version;
    fetch(sim, "snapshot", v).unwrap()
}

// ----- timestamp ----------------------------------------------------------------------

#[test]
fn timestamp_rollback_is_rejected() {
    let mut sim = RepoSim::new(t0());
    sim.publish();
    let local = sim.bytes("timestamp");
    sim.rollback("timestamp", 1);
    let mut set = trusted(&sim);
    set.load_local_timestamp(&local).unwrap();
    let err = set.update_timestamp(&served_timestamp(&sim)).unwrap_err();
    assert!(
        matches!(err, Error::Rollback { ref role, trusted: 2, found: 1 } if role == "timestamp"),
        "{err}"
    );
    assert_eq!(set.timestamp().unwrap().version, 2);
}

#[test]
fn equal_timestamp_version_keeps_the_trusted_timestamp() {
    // A same-version timestamp with other content (say, a later expiry) is not an update.
    let mut sim = RepoSim::new(t0());
    let local = sim.bytes("timestamp");
    sim.timestamp_mut().expires = sim.default_expires() + chrono::Duration::days(300);
    let same_version = sim.signed_bytes("timestamp");
    let mut set = trusted(&sim);
    set.load_local_timestamp(&local).unwrap();
    assert_eq!(
        set.update_timestamp(&same_version).unwrap(),
        TimestampUpdate::Unchanged
    );
    assert_eq!(set.timestamp().unwrap().expires, sim.default_expires());
    // A newer one is an update.
    sim.publish();
    assert_eq!(
        set.update_timestamp(&sim.bytes("timestamp")).unwrap(),
        TimestampUpdate::Updated
    );
}

#[test]
fn snapshot_version_rollback_in_timestamp_meta_is_rejected() {
    // 5.4.3.2: a newer timestamp (compromised timestamp key) listing an older snapshot.
    let mut sim = RepoSim::new(t0());
    sim.publish();
    sim.publish();
    let local = sim.bytes("timestamp");
    sim.override_timestamp_meta(Some(MetaFile::with_version(2)));
    sim.publish_timestamp();
    let mut set = trusted(&sim);
    set.load_local_timestamp(&local).unwrap();
    let err = set.update_timestamp(&served_timestamp(&sim)).unwrap_err();
    assert!(
        matches!(err, Error::Rollback { ref role, trusted: 3, found: 2 } if role.contains("snapshot")),
        "{err}"
    );
}

#[test]
fn expired_timestamp_is_rejected() {
    // 5.4.4: freeze attack.
    let mut sim = RepoSim::new(t0());
    sim.expire("timestamp");
    sim.publish();
    let mut set = trusted(&sim);
    let err = set.update_timestamp(&served_timestamp(&sim)).unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "timestamp"),
        "{err}"
    );
    assert!(set.timestamp().is_none());
}

#[test]
fn frozen_repository_is_detected_once_its_timestamp_expires() {
    let mut sim = RepoSim::new(t0());
    sim.freeze();
    sim.publish(); // never served
    let later = sim.timestamp().expires - chrono::Duration::seconds(1);
    let mut set = TrustedSet::new(&sim.trusted_root_bytes(1), later).unwrap();
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let mut set = TrustedSet::new(&sim.trusted_root_bytes(1), sim.default_expires()).unwrap();
    let err = set.update_timestamp(&served_timestamp(&sim)).unwrap_err();
    assert!(matches!(err, Error::Expired { .. }), "{err}");
}

#[test]
fn expired_local_timestamp_still_blocks_rollback() {
    let mut sim = RepoSim::new(t0());
    sim.publish(); // timestamp v2, valid
    sim.expire("timestamp");
    sim.publish(); // timestamp v3, expired: the client's last copy
    let local = sim.bytes("timestamp");
    sim.rollback("timestamp", 2);
    let mut set = trusted(&sim);
    set.load_local_timestamp(&local).unwrap();
    let err = set.update_timestamp(&served_timestamp(&sim)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Rollback {
                trusted: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn timestamp_signed_by_the_snapshot_key_is_rejected() {
    let mut sim = RepoSim::new(t0());
    sim.set_signers("timestamp", sim.keys("snapshot"));
    sim.publish();
    let mut set = trusted(&sim);
    let err = set.update_timestamp(&served_timestamp(&sim)).unwrap_err();
    assert!(matches!(err, Error::ThresholdNotMet { .. }), "{err}");
}

#[test]
fn fast_forward_timestamp_is_discarded_after_timestamp_key_rotation() {
    // 5.3.11: an attacker with the timestamp key published v1000; the client stored it.
    let mut sim = RepoSim::new(t0());
    sim.fast_forward("timestamp", 1000);
    let stolen = sim.bytes("timestamp");
    // Without a rotation, the stored v1000 blocks every honest timestamp.
    sim.timestamp_mut().version = 3;
    let honest = sim.signed_bytes("timestamp");
    let mut set = trusted(&sim);
    set.load_local_timestamp(&stolen).unwrap();
    assert!(matches!(
        set.update_timestamp(&honest),
        Err(Error::Rollback { .. })
    ));
    // The repository rotates the timestamp key; the client must drop its copy.
    sim.rotate_keys("timestamp");
    sim.publish_root();
    let honest = sim.signed_bytes("timestamp");
    let mut set = trusted(&sim);
    assert!(set.fast_forward_recovery_needed());
    let err = set.load_local_timestamp(&stolen).unwrap_err();
    assert!(
        matches!(err, Error::KeysRotated { ref role } if role == "timestamp"),
        "{err}"
    );
    assert_eq!(
        set.update_timestamp(&honest).unwrap(),
        TimestampUpdate::Updated
    );
}

#[test]
fn local_timestamp_and_snapshot_are_discarded_after_snapshot_key_rotation() {
    let mut sim = RepoSim::new(t0());
    sim.fast_forward("snapshot", 500);
    let local_ts = sim.bytes("timestamp");
    let local_snap = sim.bytes("snapshot");
    sim.rotate_keys("snapshot");
    sim.publish();
    let mut set = trusted(&sim);
    assert!(set.fast_forward_recovery_needed());
    assert!(matches!(
        set.load_local_timestamp(&local_ts),
        Err(Error::KeysRotated { .. })
    ));
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let err = set.load_local_snapshot(&local_snap).unwrap_err();
    assert!(
        matches!(err, Error::KeysRotated { ref role } if role == "snapshot"),
        "{err}"
    );
    let snap = served_snapshot(&set, &sim);
    set.update_snapshot(&snap).unwrap();
}

#[test]
fn targets_key_rotation_does_not_discard_local_timestamp() {
    let mut sim = RepoSim::new(t0());
    let local = sim.bytes("timestamp");
    sim.rotate_keys("targets");
    sim.publish();
    let mut set = trusted(&sim);
    assert!(!set.fast_forward_recovery_needed());
    set.load_local_timestamp(&local).unwrap();
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
}

// ----- snapshot -----------------------------------------------------------------------

#[test]
fn snapshot_hashes_are_checked_before_its_signature() {
    // 5.5.2: bytes that do not match the timestamp's hashes are rejected as such, before
    // any parsing or signature work is spent on them.
    let mut sim = RepoSim::new(t0());
    sim.set_meta_hashes(true);
    sim.publish();
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let genuine = served_snapshot(&set, &sim);
    let mut env = parse_envelope(&genuine);
    let expires = env["signed"]["expires"]
        .as_str()
        .unwrap()
        .replace("2030", "2031");
    env["signed"]["expires"] = serde_json::json!(expires);
    let mut tampered = serde_json::to_vec_pretty(&env).unwrap();
    tampered.push(b'\n');
    assert_eq!(tampered.len(), genuine.len());
    let err = set.update_snapshot(&tampered).unwrap_err();
    assert!(
        matches!(err, Error::HashMismatch { ref what, .. } if what == "snapshot"),
        "{err}"
    );
}

#[test]
fn snapshot_with_wrong_length_or_hash_is_rejected() {
    let mut sim = RepoSim::new(t0());
    let len = sim.bytes("snapshot").len() as u64;
    sim.corrupt_meta_length("snapshot", len + 1);
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let err = set
        .update_snapshot(served_snapshot(&set, &sim))
        .unwrap_err();
    assert!(matches!(err, Error::LengthMismatch { .. }), "{err}");

    let mut sim = RepoSim::new(t0());
    sim.corrupt_meta_hashes("snapshot");
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let err = set
        .update_snapshot(served_snapshot(&set, &sim))
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
}

#[test]
fn snapshot_version_other_than_timestamp_meta_is_rejected() {
    // 5.5.4: an older (validly signed) snapshot served for the version timestamp lists.
    let mut sim = RepoSim::new(t0());
    sim.publish();
    sim.rollback("snapshot", 1);
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let err = set
        .update_snapshot(served_snapshot(&set, &sim))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongVersion {
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn targets_version_rollback_in_snapshot_is_rejected() {
    // 5.5.5: a new snapshot (compromised snapshot key) listing an older targets.
    let mut sim = RepoSim::new(t0());
    sim.touch("targets");
    sim.publish();
    let local_snap = sim.bytes("snapshot");
    sim.override_snapshot_meta("targets", Some(MetaFile::with_version(1)));
    sim.publish();
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    set.load_local_snapshot(&local_snap).unwrap();
    let err = set
        .update_snapshot(served_snapshot(&set, &sim))
        .unwrap_err();
    assert!(
        matches!(err, Error::Rollback { ref role, trusted: 2, found: 1 } if role == "targets"),
        "{err}"
    );
}

#[test]
fn role_disappearing_from_snapshot_is_rejected() {
    // 5.5.5: dropping a role from snapshot would hide its revocations.
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "role-a", &["*"], false);
    sim.publish();
    let local_snap = sim.bytes("snapshot");
    sim.override_snapshot_meta("role-a", None);
    sim.publish();
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    set.load_local_snapshot(&local_snap).unwrap();
    let err = set
        .update_snapshot(served_snapshot(&set, &sim))
        .unwrap_err();
    assert!(
        matches!(err, Error::RoleDisappeared { ref role } if role == "role-a"),
        "{err}"
    );
}

#[test]
fn expired_snapshot_is_rejected() {
    // 5.5.6: freeze attack.
    let mut sim = RepoSim::new(t0());
    sim.expire("snapshot");
    sim.publish();
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let err = set
        .update_snapshot(served_snapshot(&set, &sim))
        .unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "snapshot"),
        "{err}"
    );
}

#[test]
fn snapshot_signed_by_the_timestamp_key_is_rejected() {
    let mut sim = RepoSim::new(t0());
    sim.set_signers("snapshot", sim.keys("timestamp"));
    sim.publish();
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    let err = set
        .update_snapshot(served_snapshot(&set, &sim))
        .unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { ref role, .. } if role == "snapshot"),
        "{err}"
    );
}

#[test]
fn snapshot_before_timestamp_and_timestamp_after_snapshot_are_refused() {
    let sim = RepoSim::new(t0());
    let mut set = trusted(&sim);
    let err = set.update_snapshot(sim.bytes("snapshot")).unwrap_err();
    assert!(matches!(err, Error::OutOfOrder { .. }), "{err}");
    set.update_timestamp(&sim.bytes("timestamp")).unwrap();
    set.update_snapshot(sim.bytes("snapshot")).unwrap();
    let err = set.update_timestamp(&sim.bytes("timestamp")).unwrap_err();
    assert!(matches!(err, Error::OutOfOrder { .. }), "{err}");
}

#[test]
fn local_snapshot_is_reused_only_when_version_and_hashes_match() {
    let mut sim = RepoSim::new(t0());
    sim.set_meta_hashes(true);
    sim.publish();
    let current = sim.bytes("snapshot");

    // Exactly what timestamp lists: reuse it, no download needed.
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    set.load_local_snapshot(&current).unwrap();
    assert!(set.local_snapshot_is_current());
    set.update_targets(sim.bytes("targets")).unwrap();

    // An older version: must be downloaded.
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    set.load_local_snapshot(sim.bytes_at("snapshot", 1).unwrap())
        .unwrap();
    assert!(!set.local_snapshot_is_current());
    assert!(set.update_targets(sim.bytes("targets")).is_err());
    set.update_snapshot(&current).unwrap();
    assert!(set.local_snapshot_is_current());

    // Same version, validly signed, other bytes (re-serialised compactly): hashes differ.
    let compact = serde_json::to_vec(&parse_envelope(&current)).unwrap();
    assert_ne!(compact, current);
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    set.load_local_snapshot(&compact).unwrap();
    assert!(!set.local_snapshot_is_current());
    let err = set.update_targets(sim.bytes("targets")).unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
}

#[test]
fn expired_local_snapshot_is_not_current() {
    let mut sim = RepoSim::new(t0());
    sim.expire("snapshot");
    sim.publish();
    let mut set = trusted(&sim);
    set.update_timestamp(&served_timestamp(&sim)).unwrap();
    set.load_local_snapshot(sim.bytes("snapshot")).unwrap();
    assert!(!set.local_snapshot_is_current());
}
