//! Root trust rules (spec 5.2, 5.3): each test is named after the attack it stops.

use chrono::Duration;
use tufkit_core::{Error, TrustedSet};
use tufkit_testkit::{default_reference_time, RepoSim};

fn t0() -> chrono::DateTime<chrono::Utc> {
    default_reference_time()
}

fn trusted(sim: &RepoSim) -> TrustedSet {
    TrustedSet::new(&sim.trusted_root_bytes(1), t0()).unwrap()
}

#[test]
fn initial_root_signed_by_a_foreign_key_is_rejected() {
    // 5.2: a trusted root must be signed by a threshold of its own root keys.
    let mut sim = RepoSim::new(t0());
    let foreign = sim.new_key();
    sim.set_signers("root", vec![foreign]);
    sim.publish_root();
    let err = TrustedSet::new(&sim.bytes("root"), t0()).unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { ref role, valid: 0, threshold: 1, .. } if role == "root"),
        "{err}"
    );
}

#[test]
fn initial_root_below_its_own_threshold_is_rejected() {
    let mut sim = RepoSim::new(t0());
    let first = sim.keys("root")[0].clone();
    sim.add_key("root");
    sim.set_threshold("root", 2);
    sim.set_signers("root", vec![first]);
    sim.publish_root();
    let err = TrustedSet::new(&sim.bytes("root"), t0()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
    // The same root with both signatures is a valid trust anchor.
    sim.clear_signers("root");
    sim.publish_root();
    TrustedSet::new(&sim.bytes("root"), t0()).unwrap();
}

#[test]
fn new_root_signed_only_by_new_keys_is_rejected() {
    // 5.3.4: an attacker who made a root with their own keys cannot get it trusted.
    let mut sim = RepoSim::new(t0());
    let new_key = sim.rotate_keys("root");
    sim.set_signers("root", vec![new_key]);
    sim.publish_root();
    let mut set = trusted(&sim);
    let err = set.update_root(&sim.bytes("root")).unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { ref by, .. } if by.contains("trusted root v1")),
        "{err}"
    );
    assert_eq!(set.root().version, 1);
}

#[test]
fn new_root_signed_only_by_old_keys_is_rejected() {
    // 5.3.4: the new root must also be signed by a threshold of its own keys, proving the
    // new keyholders exist.
    let mut sim = RepoSim::new(t0());
    let old_key = sim.keys("root")[0].clone();
    sim.rotate_keys("root");
    sim.set_signers("root", vec![old_key]);
    sim.publish_root();
    let mut set = trusted(&sim);
    let err = set.update_root(&sim.bytes("root")).unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { ref by, .. } if by.contains("new root v2")),
        "{err}"
    );
}

#[test]
fn root_rotation_signed_by_old_and_new_keys_is_accepted() {
    let mut sim = RepoSim::new(t0());
    sim.rotate_keys("root");
    sim.publish_root();
    let mut set = trusted(&sim);
    set.update_root(&sim.bytes("root")).unwrap();
    assert_eq!(set.root().version, 2);
    set.check_final_root().unwrap();
}

#[test]
fn root_version_skip_is_rejected() {
    // 5.3.5: root N+2 offered for N+1 (a skipped root could hide a key revocation).
    let mut sim = RepoSim::new(t0());
    sim.root_mut().version = 3;
    sim.publish_root();
    let mut set = trusted(&sim);
    let err = set.update_root(&sim.trusted_root_bytes(3)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongVersion {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn root_replay_of_trusted_or_older_version_is_rejected() {
    // 5.3.5: rollback of root to the trusted version or an older one.
    let mut sim = RepoSim::new(t0());
    sim.publish_root();
    let mut set = trusted(&sim);
    let err = set.update_root(&sim.trusted_root_bytes(1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Rollback {
                trusted: 1,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    set.update_root(&sim.trusted_root_bytes(2)).unwrap();
    let err = set.update_root(&sim.trusted_root_bytes(1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Rollback {
                trusted: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn expired_intermediate_root_is_accepted() {
    // 5.3.3/5.3.8: only the final root must be unexpired; a client that was offline for
    // long must still be able to walk through roots that have since expired.
    let mut sim = RepoSim::new(t0());
    sim.expire("root");
    sim.publish_root();
    sim.set_expires("root", sim.default_expires());
    sim.publish_root();
    let mut set = trusted(&sim);
    set.update_root(&sim.trusted_root_bytes(2)).unwrap();
    set.update_root(&sim.trusted_root_bytes(3)).unwrap();
    set.check_final_root().unwrap();
}

#[test]
fn expired_final_root_is_rejected() {
    // 5.3.10: freeze attack on root.
    let mut sim = RepoSim::new(t0());
    sim.expire("root");
    sim.publish();
    let mut set = trusted(&sim);
    set.update_root(&sim.trusted_root_bytes(2)).unwrap();
    let err = set.check_final_root().unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "root"),
        "{err}"
    );
    let err = set.update_timestamp(&sim.bytes("timestamp")).unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "root"),
        "{err}"
    );
}

#[test]
fn root_expiring_exactly_at_the_reference_time_is_expired() {
    let mut sim = RepoSim::new(t0());
    sim.set_expires("root", t0());
    sim.publish_root();
    let mut set = trusted(&sim);
    set.update_root(&sim.bytes("root")).unwrap();
    assert!(set.check_final_root().is_err());
    let later = TrustedSet::new(&sim.bytes("root"), t0() - Duration::seconds(1)).unwrap();
    later.check_final_root().unwrap();
}

#[test]
fn chain_of_rotations_with_threshold_changes_is_followed() {
    let mut sim = RepoSim::new(t0());
    // v2: three root keys, threshold 2 (signed by the v1 key and all three new keys).
    let original = sim.keys("root")[0].clone();
    let b = sim.add_key("root");
    let c = sim.add_key("root");
    sim.set_threshold("root", 2);
    sim.publish_root();
    // v3: original key dropped, d added, threshold 3.
    sim.remove_key("root", original.key_id());
    let d = sim.add_key("root");
    sim.set_threshold("root", 3);
    sim.publish_root();
    // v4: a single new key, threshold 1, signed by v3's three keys and the new one.
    let e = sim.rotate_keys("root");
    sim.set_threshold("root", 1);
    sim.publish_root();

    let mut set = trusted(&sim);
    for v in 2..=4 {
        set.update_root(&sim.trusted_root_bytes(v)).unwrap();
    }
    assert_eq!(set.root().version, 4);
    assert_eq!(set.root().roles["root"].keyids, vec![e.key_id().clone()]);

    // v5 signed by the v4 key alone is fine; a v5 signed by v3's keys only is not.
    sim.publish_root();
    let mut ok = TrustedSet::new(&sim.trusted_root_bytes(4), t0()).unwrap();
    ok.update_root(&sim.trusted_root_bytes(5)).unwrap();
    sim.set_signers("root", vec![b, c, d]);
    sim.publish_root();
    let mut set5 = TrustedSet::new(&sim.trusted_root_bytes(5), t0()).unwrap();
    let err = set5.update_root(&sim.trusted_root_bytes(6)).unwrap_err();
    assert!(matches!(err, Error::ThresholdNotMet { .. }), "{err}");
}

#[test]
fn rotation_signed_below_the_old_threshold_is_rejected() {
    // Old root needs 2 of 3; one compromised old key plus attacker keys is not enough.
    let mut sim = RepoSim::new(t0());
    let a = sim.keys("root")[0].clone();
    sim.add_key("root");
    sim.add_key("root");
    sim.set_threshold("root", 2);
    sim.publish_root();
    let attacker = sim.rotate_keys("root");
    sim.set_threshold("root", 1);
    sim.set_signers("root", vec![a, attacker]);
    sim.publish_root();
    let mut set = TrustedSet::new(&sim.trusted_root_bytes(2), t0()).unwrap();
    let err = set.update_root(&sim.trusted_root_bytes(3)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn root_cannot_change_after_timestamp_is_loaded() {
    // Keys used to verify timestamp must not change underneath it.
    let mut sim = RepoSim::new(t0());
    let mut set = trusted(&sim);
    set.update_timestamp(&sim.bytes("timestamp")).unwrap();
    sim.rotate_keys("timestamp");
    sim.publish_root();
    let err = set.update_root(&sim.bytes("root")).unwrap_err();
    assert!(matches!(err, Error::OutOfOrder { .. }), "{err}");
    assert_eq!(set.root().version, 1);
}

#[test]
fn timestamp_bytes_offered_as_root_are_rejected() {
    // 5.3.4: wrong metadata type.
    let sim = RepoSim::new(t0());
    let mut set = trusted(&sim);
    let err = set.update_root(&sim.bytes("timestamp")).unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }), "{err}");
    let err = TrustedSet::new(&sim.bytes("snapshot"), t0()).unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }), "{err}");
}
