//! The top-level update (spec 5.1 to 5.6) against the simulator over loopback HTTP:
//! exact request lists, exact stored bytes, the root chain and misbehaving servers.
//! Attacks are in `attacks.rs`.

mod common;

use chrono::Duration;
use common::{core_error, strings, Env, TOP_LEVEL_FILES};
use tufkit_testkit::Misbehaviour;

#[tokio::test]
async fn first_refresh_makes_exactly_four_requests_and_stores_exact_bytes() {
    let env = Env::new();
    let requests = env.refresh().await.unwrap();
    assert_eq!(
        requests,
        [
            "metadata/2.root.json",
            "metadata/timestamp.json",
            "metadata/1.snapshot.json",
            "metadata/1.targets.json"
        ]
    );
    assert_eq!(env.stored_files(), TOP_LEVEL_FILES);
    for role in ["root", "timestamp", "snapshot", "targets"] {
        assert_eq!(
            env.stored(&format!("{role}.json")).unwrap(),
            env.sim.bytes(role),
            "{role}"
        );
    }
}

#[tokio::test]
async fn unchanged_repository_costs_two_requests() {
    let env = Env::new();
    env.refresh().await.unwrap();
    let requests = env.refresh().await.unwrap();
    assert_eq!(
        requests,
        ["metadata/2.root.json", "metadata/timestamp.json"]
    );
    assert_eq!(env.stored_files(), TOP_LEVEL_FILES);
}

#[tokio::test]
async fn new_versions_are_fetched_by_version_and_unchanged_roles_reused() {
    let mut env = Env::new();
    env.refresh().await.unwrap();
    env.sim.add_target("targets", "a.txt", "A");
    env.sim.publish();
    assert_eq!(
        env.refresh().await.unwrap(),
        [
            "metadata/2.root.json",
            "metadata/timestamp.json",
            "metadata/2.snapshot.json",
            "metadata/2.targets.json"
        ]
    );
    // A new snapshot and timestamp without new targets: targets.json is reused.
    env.sim.touch("snapshot");
    env.sim.publish();
    assert_eq!(
        env.refresh().await.unwrap(),
        [
            "metadata/2.root.json",
            "metadata/timestamp.json",
            "metadata/3.snapshot.json"
        ]
    );
    assert_eq!(env.stored_version("targets.json"), Some(2));
    assert_eq!(env.stored_version("snapshot.json"), Some(3));
}

#[tokio::test]
async fn non_consistent_repositories_use_plain_names() {
    let mut env = Env::new();
    env.sim.set_consistent_snapshot(false);
    env.sim.touch("targets");
    env.sim.publish();
    let requests = env.refresh().await.unwrap();
    assert_eq!(
        requests,
        [
            "metadata/2.root.json",
            "metadata/3.root.json",
            "metadata/timestamp.json",
            "metadata/snapshot.json",
            "metadata/targets.json"
        ]
    );
}

#[tokio::test]
async fn stored_metadata_is_the_exact_bytes_received() {
    let mut env = Env::new();
    env.sim
        .tamper("metadata/timestamp.json", |b| b.extend_from_slice(b"  \n "));
    env.refresh().await.unwrap();
    assert_eq!(
        env.stored("timestamp.json").unwrap(),
        env.sim.file("metadata/timestamp.json").unwrap()
    );
}

#[tokio::test]
async fn same_version_timestamp_with_other_content_is_ignored_and_not_stored() {
    let mut env = Env::new();
    env.refresh().await.unwrap();
    let original = env.stored("timestamp.json").unwrap();
    let mut body = env.sim.body_value("timestamp");
    body["meta"]["snapshot.json"]["version"] = 100.into();
    let bytes = env.sim.sign_as("timestamp", &body);
    env.sim.set_file("metadata/timestamp.json", bytes);
    let requests = env.refresh().await.unwrap();
    assert_eq!(
        requests,
        ["metadata/2.root.json", "metadata/timestamp.json"]
    );
    assert_eq!(env.stored("timestamp.json").unwrap(), original);
}

#[tokio::test]
async fn invalid_or_unsigned_bootstrap_root_fails_before_any_request() {
    let mut env = Env::new();
    let mut value: serde_json::Value = serde_json::from_slice(&env.bootstrap).unwrap();
    value["signed"].as_object_mut().unwrap().remove("version");
    env.bootstrap = serde_json::to_vec(&value).unwrap();
    assert!(env.refresh().await.is_err());
    assert!(env.server.requests().is_empty());

    let mut env = Env::new();
    let mut value: serde_json::Value = serde_json::from_slice(&env.bootstrap).unwrap();
    value["signed"]["expires"] = "2099-01-01T00:00:00Z".into();
    env.bootstrap = serde_json::to_vec(&value).unwrap();
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::ThresholdNotMet { .. }
    ));
    assert!(env.server.requests().is_empty());
}

#[tokio::test]
async fn root_chain_with_rotations_and_threshold_changes_persists_each_root() {
    let mut env = Env::new();
    // v2: three root keys, threshold 2.
    env.sim.add_key("root");
    env.sim.add_key("root");
    env.sim.set_threshold("root", 2);
    env.sim.publish_root();
    // v3: every key replaced by two new ones, threshold still 2.
    env.sim.rotate_keys("root");
    env.sim.add_key("root");
    env.sim.publish_root();
    // v4: threshold down to 1.
    env.sim.set_threshold("root", 1);
    env.sim.publish_root();
    // v5: signed by the new key only, so v4's threshold of its own keys is not met.
    let v4_keys = env.sim.keys("root");
    env.sim.rotate_keys("root");
    let new_keys = env.sim.keys("root");
    env.sim.set_signers("root", new_keys);
    env.sim.publish_root();

    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::ThresholdNotMet { .. }
    ));
    assert_eq!(
        env.requests(),
        ["2.root.json", "3.root.json", "4.root.json", "5.root.json"]
    );
    assert_eq!(
        env.stored("root.json").unwrap(),
        env.sim.trusted_root_bytes(4)
    );
    assert_eq!(env.stored_files(), ["root.json"]);

    // The repository fixes v5 (co-signed by the v4 key); the client resumes from v4.
    let mut signers = v4_keys;
    signers.extend(env.sim.keys("root"));
    env.sim.set_signers("root", signers);
    env.sim.root_mut().version = 5;
    let bytes = env.sim.signed_bytes("root");
    env.sim.set_file("metadata/5.root.json", bytes.clone());
    env.refresh().await.unwrap();
    // timestamp/snapshot keys did not change, so the rest is fetched as usual.
    assert_eq!(env.stored("root.json").unwrap(), bytes);
}

#[tokio::test]
async fn root_version_must_match_its_file_name() {
    let mut env = Env::new();
    env.sim.root_mut().version = 3;
    env.sim.publish_root();
    let v3 = env.sim.trusted_root_bytes(3);
    env.sim.set_file("metadata/2.root.json", v3);
    env.sim.remove_file("metadata/3.root.json");
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::WrongVersion { .. }
    ));
    assert_eq!(env.requests(), ["2.root.json"]);
    assert_eq!(env.stored("root.json").unwrap(), env.bootstrap);
}

#[tokio::test]
async fn expired_final_root_is_stored_but_stops_the_update() {
    let mut env = Env::new();
    env.sim.expire("root");
    env.sim.publish_root();
    let err = env.refresh().await.unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::Expired { .. }
    ));
    assert_eq!(env.requests(), ["2.root.json", "3.root.json"]);
    assert_eq!(
        env.stored("root.json").unwrap(),
        env.sim.trusted_root_bytes(2)
    );
}

#[tokio::test]
async fn expired_intermediate_root_and_expired_local_root_are_fine() {
    let mut env = Env::new();
    env.sim.expire("root");
    env.sim.publish_root();
    env.sim.set_expires("root", env.now() + Duration::days(60));
    env.sim.publish_root();
    env.refresh().await.unwrap();
    assert_eq!(env.stored_version("root.json"), Some(3));
}

#[tokio::test]
async fn a_newer_local_root_is_preferred_over_the_bootstrap_root() {
    let mut env = Env::new();
    env.sim.add_key("root");
    env.sim.publish();
    env.refresh().await.unwrap();
    // The bootstrap is still v1; the stored v2 is used, so the probe is for v3.
    assert_eq!(
        env.refresh().await.unwrap(),
        ["metadata/3.root.json", "metadata/timestamp.json"]
    );
}

#[tokio::test]
async fn missing_snapshot_keeps_the_new_timestamp() {
    let mut env = Env::new();
    env.refresh().await.unwrap();
    env.sim.publish();
    env.sim.remove_file("metadata/2.snapshot.json");
    let err = env.refresh().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(env.stored_version("timestamp.json"), Some(2));
    assert_eq!(env.stored_version("snapshot.json"), Some(1));
}

#[tokio::test]
async fn endless_responses_are_cut_at_the_size_cap() {
    for path in ["metadata/2.root.json", "metadata/timestamp.json"] {
        let env = Env::new();
        env.server.misbehave(path, Misbehaviour::EndlessBody);
        let err = env.refresh().await.unwrap_err();
        assert!(
            matches!(
                &err,
                tufkit_client::Error::Transport {
                    source: tufkit_client::TransportError::TooLarge { .. },
                    ..
                }
            ),
            "{path}: {err}"
        );
        assert_eq!(env.stored_files(), ["root.json"]);
    }
}

#[tokio::test]
async fn snapshot_longer_than_its_listed_length_is_cut() {
    let mut env = Env::new();
    env.sim.set_meta_hashes(true);
    env.sim.publish();
    let mut body = env.sim.file("metadata/2.snapshot.json").unwrap();
    body.extend_from_slice(&[b' '; 100]);
    env.server
        .misbehave("metadata/2.snapshot.json", Misbehaviour::Body(body));
    let err = env.refresh().await.unwrap_err();
    assert!(err.to_string().contains("2.snapshot.json"), "{err}");
    assert_eq!(env.stored("snapshot.json"), None);
}

#[tokio::test]
async fn lying_content_length_and_server_errors_fail_cleanly() {
    let env = Env::new();
    let ts = "metadata/timestamp.json";
    env.server
        .misbehave(ts, Misbehaviour::WrongContentLength(40));
    assert!(env.refresh().await.is_err());
    env.server
        .misbehave(ts, Misbehaviour::WrongContentLength(2000));
    assert!(env.refresh().await.is_err());
    env.server.misbehave(ts, Misbehaviour::Status(500));
    let err = env.refresh().await.unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    // A server error on the root probe is an error, not the end of the chain.
    env.server.behave(ts);
    env.server
        .misbehave("metadata/2.root.json", Misbehaviour::Status(503));
    assert!(env.refresh().await.is_err());
    assert_eq!(env.requests().last().unwrap(), "2.root.json");
    assert_eq!(env.stored_files(), ["root.json"]);
}

#[tokio::test]
async fn the_reference_time_is_injectable() {
    let env = Env::new();
    // Everything the simulator publishes has expired 31 days on.
    let err = env
        .updater_at(env.sim.after_expiry())
        .refresh()
        .await
        .unwrap_err();
    assert!(matches!(
        core_error(&err),
        tufkit_core::Error::Expired { .. }
    ));
    assert_eq!(env.requests(), strings(&["2.root.json"]));
}

#[tokio::test]
async fn gone_410_ends_the_root_chain_like_404() {
    let env = Env::new();
    env.server
        .misbehave("metadata/2.root.json", Misbehaviour::Status(410));
    env.refresh().await.unwrap();
    assert_eq!(env.stored_version("root.json"), Some(1));
}
