//! Top-level targets and delegated roles (spec 5.6.1 to 5.6.5): listed in snapshot, length
//! and hashes from snapshot, version from snapshot, threshold of the delegator's keys,
//! unexpired.

use tufkit_core::{Error, TrustedSet};
use tufkit_testkit::drive::{fetch_listed, refresh, update_roots};
use tufkit_testkit::{default_reference_time, RepoSim};

fn t0() -> chrono::DateTime<chrono::Utc> {
    default_reference_time()
}

/// Root, timestamp and snapshot trusted; targets not yet loaded.
fn up_to_snapshot(sim: &RepoSim) -> TrustedSet {
    let mut set = TrustedSet::new(&sim.trusted_root_bytes(1), t0()).unwrap();
    update_roots(&mut set, sim).unwrap();
    set.update_timestamp(&sim.file("metadata/timestamp.json").unwrap())
        .unwrap();
    let v = set.timestamp().unwrap().snapshot_meta().version;
    set.update_snapshot(sim.file(&sim.metadata_path("snapshot", v)).unwrap())
        .unwrap();
    set
}

fn load_targets(sim: &RepoSim) -> Result<TrustedSet, Error> {
    let mut set = up_to_snapshot(sim);
    let bytes = fetch_listed(&set, sim, "targets")?;
    set.update_targets(&bytes)?;
    Ok(set)
}

/// A repository where targets delegates `role-a` (paths `*`).
fn with_role_a() -> RepoSim {
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "role-a", &["*"], false);
    sim.add_target("role-a", "a.txt", "a");
    sim.publish();
    sim
}

fn load_role_a(sim: &RepoSim) -> Result<TrustedSet, Error> {
    let mut set = refresh(sim, t0()).unwrap();
    let bytes = fetch_listed(&set, sim, "role-a")?;
    set.update_delegated_targets(&bytes, "role-a", "targets")?;
    Ok(set)
}

// ----- top-level targets --------------------------------------------------------------

#[test]
fn targets_version_other_than_snapshot_meta_is_rejected() {
    // 5.6.4: an old, validly signed targets served where the listed version belongs.
    let mut sim = RepoSim::new(t0());
    sim.add_target("targets", "f", "new");
    sim.publish();
    sim.rollback("targets", 1);
    let err = load_targets(&sim).unwrap_err();
    assert!(
        matches!(err, Error::WrongVersion { ref role, expected: 2, found: 1, .. } if role == "targets"),
        "{err}"
    );
}

#[test]
fn targets_with_wrong_hash_or_length_is_rejected() {
    // 5.6.2.
    let mut sim = RepoSim::new(t0());
    sim.corrupt_meta_hashes("targets");
    let err = load_targets(&sim).unwrap_err();
    assert!(
        matches!(err, Error::HashMismatch { ref what, .. } if what == "targets"),
        "{err}"
    );
    let mut sim = RepoSim::new(t0());
    sim.corrupt_meta_length("targets", 10);
    let err = load_targets(&sim).unwrap_err();
    assert!(matches!(err, Error::LengthMismatch { .. }), "{err}");
}

#[test]
fn mix_and_match_of_targets_versions_is_rejected() {
    // Snapshot lists targets v1, the repository serves v2's bytes in its place.
    let mut sim = RepoSim::new(t0());
    sim.add_target("targets", "f", "v2 content");
    sim.publish();
    sim.mix_and_match("targets", 1);
    let err = load_targets(&sim).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongVersion {
                expected: 1,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    // With length and hashes in snapshot the substitution is caught before parsing.
    let mut sim = RepoSim::new(t0());
    sim.set_meta_hashes(true);
    sim.add_target("targets", "f", "v2 content");
    sim.publish();
    sim.mix_and_match("targets", 1);
    let err = load_targets(&sim).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LengthMismatch { .. } | Error::HashMismatch { .. }
        ),
        "{err}"
    );
}

#[test]
fn targets_below_threshold_is_rejected() {
    // 5.6.3.
    let mut sim = RepoSim::new(t0());
    let first = sim.keys("targets")[0].clone();
    sim.add_key("targets");
    sim.set_threshold("targets", 2);
    sim.set_signers("targets", vec![first]);
    sim.publish();
    let err = load_targets(&sim).unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { ref role, valid: 1, threshold: 2, .. } if role == "targets"),
        "{err}"
    );
    sim.clear_signers("targets");
    sim.touch("targets");
    sim.publish();
    load_targets(&sim).unwrap();
}

#[test]
fn targets_signed_by_the_root_key_is_rejected() {
    let mut sim = RepoSim::new(t0());
    sim.set_signers("targets", sim.keys("root"));
    sim.touch("targets");
    sim.publish();
    assert!(matches!(
        load_targets(&sim),
        Err(Error::ThresholdNotMet { .. })
    ));
}

#[test]
fn expired_targets_is_rejected() {
    // 5.6.5: freeze attack.
    let mut sim = RepoSim::new(t0());
    sim.expire("targets");
    sim.publish();
    let err = load_targets(&sim).unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "targets"),
        "{err}"
    );
}

#[test]
fn targets_must_come_after_snapshot_and_from_root() {
    let sim = with_role_a();
    let mut set = TrustedSet::new(&sim.bytes("root"), t0()).unwrap();
    set.update_timestamp(&sim.bytes("timestamp")).unwrap();
    let err = set.update_targets(sim.bytes("targets")).unwrap_err();
    assert!(matches!(err, Error::OutOfOrder { .. }), "{err}");
    let mut set = up_to_snapshot(&sim);
    let err = set
        .update_delegated_targets(sim.bytes("targets"), "targets", "role-a")
        .unwrap_err();
    assert!(matches!(err, Error::NotDelegated { .. }), "{err}");
}

// ----- delegated roles ----------------------------------------------------------------

#[test]
fn delegated_role_signed_by_an_undelegated_key_is_rejected() {
    // The top-level targets key must not be able to sign for role-a.
    let mut sim = with_role_a();
    sim.set_signers("role-a", sim.keys("targets"));
    sim.touch("role-a");
    sim.publish();
    let err = load_role_a(&sim).unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { ref role, ref by, .. } if role == "role-a" && by.contains("delegated by targets")),
        "{err}"
    );
}

#[test]
fn delegated_role_below_its_threshold_is_rejected() {
    let mut sim = with_role_a();
    let first = sim.keys("role-a")[0].clone();
    sim.add_key("role-a");
    sim.set_threshold("role-a", 2);
    sim.set_signers("role-a", vec![first]);
    sim.publish();
    let err = load_role_a(&sim).unwrap_err();
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
    sim.clear_signers("role-a");
    sim.touch("role-a");
    sim.publish();
    let set = load_role_a(&sim).unwrap();
    assert!(set
        .targets_role("role-a")
        .unwrap()
        .target("a.txt")
        .unwrap()
        .is_some());
    assert_eq!(set.delegator_of("role-a"), Some("targets"));
}

#[test]
fn delegated_role_missing_from_snapshot_is_rejected() {
    // 5.6.1.
    let mut sim = with_role_a();
    sim.override_snapshot_meta("role-a", None);
    sim.publish();
    let mut set = refresh(&sim, t0()).unwrap();
    let bytes = sim.bytes("role-a");
    let err = set
        .update_delegated_targets(&bytes, "role-a", "targets")
        .unwrap_err();
    assert!(
        matches!(err, Error::MissingFromSnapshot { ref role } if role == "role-a"),
        "{err}"
    );
}

#[test]
fn delegated_role_version_other_than_snapshot_meta_is_rejected() {
    let mut sim = with_role_a();
    sim.add_target("role-a", "b.txt", "b");
    sim.publish();
    sim.rollback("role-a", 1);
    let err = load_role_a(&sim).unwrap_err();
    assert!(
        matches!(err, Error::WrongVersion { ref role, expected: 2, found: 1, .. } if role == "role-a"),
        "{err}"
    );
}

#[test]
fn delegated_role_with_wrong_hash_is_rejected() {
    let mut sim = with_role_a();
    sim.corrupt_meta_hashes("role-a");
    let err = load_role_a(&sim).unwrap_err();
    assert!(
        matches!(err, Error::HashMismatch { ref what, .. } if what == "role-a"),
        "{err}"
    );
}

#[test]
fn expired_delegated_role_is_rejected() {
    let mut sim = with_role_a();
    sim.expire("role-a");
    sim.publish();
    let err = load_role_a(&sim).unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "role-a"),
        "{err}"
    );
}

#[test]
fn delegated_role_through_a_non_delegator_is_rejected() {
    let mut sim = with_role_a();
    sim.add_delegation("role-a", "role-b", &["*"], false);
    sim.publish();
    let mut set = refresh(&sim, t0()).unwrap();
    let b = fetch_listed(&set, &sim, "role-b").unwrap();
    // root delegates only `targets`; targets does not delegate role-b; role-a is not loaded.
    for (delegator, want_out_of_order) in [("root", false), ("targets", false), ("role-a", true)] {
        let err = set
            .update_delegated_targets(&b, "role-b", delegator)
            .unwrap_err();
        if want_out_of_order {
            assert!(matches!(err, Error::OutOfOrder { .. }), "{err}");
        } else {
            assert!(matches!(err, Error::NotDelegated { .. }), "{err}");
        }
    }
    let a = fetch_listed(&set, &sim, "role-a").unwrap();
    set.update_delegated_targets(&a, "role-a", "targets")
        .unwrap();
    set.update_delegated_targets(&b, "role-b", "role-a")
        .unwrap();
}
