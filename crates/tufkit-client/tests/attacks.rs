//! Attacks on the top-level update (spec 5.3 to 5.6): rollback, freeze, mix-and-match,
//! fast-forward (and recovery from it), threshold games.

mod common;

use chrono::Duration;
use common::{core_error, Env};
use tufkit_core::metadata::MetaFile;

#[tokio::test]
async fn timestamp_rollback_is_rejected() {
    let mut env = Env::new();
    env.sim.publish();
    env.refresh().await.unwrap();
    env.sim.rollback("timestamp", 1);
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::Rollback { .. }
    ));
    assert_eq!(env.stored_version("timestamp.json"), Some(2));
}

#[tokio::test]
async fn snapshot_rollback_through_timestamp_meta_is_rejected_before_fetching_snapshot() {
    let mut env = Env::new();
    env.sim.set_meta_hashes(true);
    env.sim.publish();
    env.refresh().await.unwrap();
    let old = env.sim.bytes_at("snapshot", 1).unwrap();
    let meta = env.sim.meta_for(1, &old);
    env.sim.override_timestamp_meta(Some(meta));
    env.sim.publish_timestamp();
    env.server.clear_requests();
    let err = env.updater().refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::Rollback { .. }
    ));
    assert_eq!(env.requests(), ["2.root.json", "timestamp.json"]);
    assert_eq!(env.stored_version("timestamp.json"), Some(2));
    assert_eq!(env.stored_version("snapshot.json"), Some(2));
}

#[tokio::test]
async fn targets_rollback_through_snapshot_meta_is_rejected() {
    let mut env = Env::new();
    env.sim.touch("targets");
    env.sim.publish();
    env.refresh().await.unwrap();
    assert_eq!(env.stored_version("targets.json"), Some(2));
    env.sim
        .override_snapshot_meta("targets", Some(MetaFile::with_version(1)));
    env.sim.publish_snapshot();
    env.sim.publish_timestamp();
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::Rollback { .. }
    ));
    assert_eq!(env.stored_version("snapshot.json"), Some(2));
    assert_eq!(env.stored_version("targets.json"), Some(2));
}

#[tokio::test]
async fn freeze_attack_expired_timestamp_is_rejected_and_not_stored() {
    let mut env = Env::new();
    env.refresh().await.unwrap();
    env.sim
        .set_expires("timestamp", env.now() + Duration::days(1));
    env.sim.publish();
    env.refresh().await.unwrap();
    env.sim.freeze();
    env.sim
        .set_expires("timestamp", env.now() + Duration::days(20));
    env.sim.publish();
    // Two days later the frozen repository still serves the timestamp that expired.
    env.server.clear_requests();
    let err = env
        .updater_at(env.now() + Duration::days(2))
        .refresh()
        .await
        .unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::Expired { .. }
    ));
    assert_eq!(env.requests(), ["2.root.json", "timestamp.json"]);
    assert_eq!(env.stored_version("timestamp.json"), Some(2));
}

#[tokio::test]
async fn expired_new_snapshot_is_rejected_but_the_new_timestamp_is_kept() {
    let mut env = Env::new();
    env.refresh().await.unwrap();
    env.sim.expire("snapshot");
    env.sim.publish();
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::Expired { .. }
    ));
    assert_eq!(env.stored_version("timestamp.json"), Some(2));
    assert_eq!(env.stored_version("snapshot.json"), Some(1));
}

#[tokio::test]
async fn expired_local_timestamp_is_still_a_baseline_and_gets_replaced() {
    let mut env = Env::new();
    env.sim
        .set_expires("timestamp", env.now() + Duration::days(1));
    env.sim.publish();
    env.refresh().await.unwrap();
    env.sim
        .set_expires("timestamp", env.now() + Duration::days(20));
    env.sim.publish();
    env.updater_at(env.now() + Duration::days(5))
        .refresh()
        .await
        .unwrap();
    assert_eq!(env.stored_version("timestamp.json"), Some(3));
}

#[tokio::test]
async fn mix_and_match_is_caught_by_meta_hashes_and_by_versions() {
    for hashes in [true, false] {
        let mut env = Env::new();
        env.sim.set_meta_hashes(hashes);
        env.sim.touch("targets");
        env.sim.publish();
        env.sim.add_target("targets", "x", "x");
        env.sim.publish();
        // Snapshot lists targets v2, but v3's bytes are served as 2.targets.json.
        env.sim.mix_and_match("targets", 2);
        let err = env.refresh().await.unwrap_err();
        let expected_rule = if hashes {
            matches!(core_error(&err), tufkit_core::Error::LengthMismatch { .. })
        } else {
            matches!(core_error(&err), tufkit_core::Error::WrongVersion { .. })
        };
        assert!(expected_rule, "hashes={hashes}: {err}");
        assert_eq!(env.stored("targets.json"), None);
    }
}

#[tokio::test]
async fn wrong_meta_hash_for_snapshot_is_rejected() {
    let mut env = Env::new();
    env.sim.corrupt_meta_hashes("snapshot");
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::HashMismatch { .. }
    ));
    assert_eq!(env.stored("snapshot.json"), None);
}

#[tokio::test]
async fn duplicate_signatures_and_unauthorised_keys_do_not_meet_thresholds() {
    let mut env = Env::new();
    env.sim
        .tweak_signatures("snapshot", |sigs| sigs.push(sigs[0].clone()));
    env.sim.publish();
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::DuplicateSignature { .. }
    ));
    assert_eq!(env.stored("snapshot.json"), None);

    let mut env = Env::new();
    let stranger = env.sim.new_key();
    env.sim.set_signers("timestamp", vec![stranger]);
    env.sim.publish();
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::ThresholdNotMet { .. }
    ));
    assert_eq!(env.stored("timestamp.json"), None);
}

#[tokio::test]
async fn threshold_above_key_count_is_a_valid_root_but_the_role_never_verifies() {
    let mut env = Env::new();
    env.sim.set_threshold("snapshot", 2);
    env.sim.publish();
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::ThresholdNotMet { .. }
    ));
    assert_eq!(env.stored_version("root.json"), Some(2));
    assert_eq!(env.stored_version("timestamp.json"), Some(2));
    assert_eq!(env.stored("snapshot.json"), None);
}

#[tokio::test]
async fn fast_forward_recovery_after_snapshot_key_rotation() {
    let mut env = Env::new();
    env.sim.fast_forward("snapshot", 100);
    env.refresh().await.unwrap();
    assert_eq!(env.stored_version("snapshot.json"), Some(100));
    env.sim.rotate_keys("snapshot");
    env.sim.publish();
    // The repository restarts snapshot at v1, signed with the new key.
    let mut snap = env.sim.body_value("snapshot");
    snap["version"] = 1.into();
    let snap = env.sim.sign_as("snapshot", &snap);
    env.sim.set_file("metadata/1.snapshot.json", snap);
    let mut ts = env.sim.body_value("timestamp");
    ts["meta"]["snapshot.json"] = serde_json::json!({ "version": 1 });
    let ts = env.sim.sign_as("timestamp", &ts);
    env.sim.set_file("metadata/timestamp.json", ts);
    let requests = env.refresh().await.unwrap();
    assert_eq!(
        requests,
        [
            "metadata/2.root.json",
            "metadata/3.root.json",
            "metadata/timestamp.json",
            "metadata/1.snapshot.json"
        ]
    );
    assert_eq!(env.stored_version("snapshot.json"), Some(1));
}

#[tokio::test]
async fn fast_forward_recovery_after_timestamp_key_rotation() {
    let mut env = Env::new();
    env.sim.fast_forward("timestamp", 100);
    env.refresh().await.unwrap();
    assert_eq!(env.stored_version("timestamp.json"), Some(100));
    env.sim.rotate_keys("timestamp");
    env.sim.publish();
    let mut ts = env.sim.body_value("timestamp");
    ts["version"] = 1.into();
    let ts = env.sim.sign_as("timestamp", &ts);
    env.sim.set_file("metadata/timestamp.json", ts);
    env.refresh().await.unwrap();
    assert_eq!(env.stored_version("timestamp.json"), Some(1));
}

#[tokio::test]
async fn without_key_rotation_a_fast_forwarded_timestamp_blocks_rollback() {
    let mut env = Env::new();
    env.sim.fast_forward("timestamp", 100);
    env.refresh().await.unwrap();
    let mut ts = env.sim.body_value("timestamp");
    ts["version"] = 1.into();
    let ts = env.sim.sign_as("timestamp", &ts);
    env.sim.set_file("metadata/timestamp.json", ts);
    assert!(env.refresh().await.is_err());
    assert_eq!(env.stored_version("timestamp.json"), Some(100));
}
