//! What the metadata directory holds after an update fails part-way: every role accepted
//! before the failure stays stored, nothing after it is fetched or stored.

mod common;

use common::Env;

/// (file, version) of every `*.json` in the metadata directory, sorted by file name.
fn trusted(env: &Env) -> Vec<(String, u64)> {
    env.stored_files()
        .into_iter()
        .filter(|f| f.ends_with(".json"))
        .map(|f| {
            let v = env.stored_version(&f).unwrap();
            (f.trim_end_matches(".json").to_string(), v)
        })
        .collect()
}

fn roles(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(r, v)| (r.to_string(), *v)).collect()
}

#[tokio::test]
async fn unsigned_role_stops_the_update_at_that_role() {
    let cases: [(&str, &[(&str, u64)]); 4] = [
        ("root", &[("root", 1)]),
        ("timestamp", &[("root", 2)]),
        ("snapshot", &[("root", 2), ("timestamp", 2)]),
        ("targets", &[("root", 2), ("snapshot", 2), ("timestamp", 2)]),
    ];
    for (role, expected) in cases {
        let mut env = Env::new();
        env.sim.set_signers(role, Vec::new());
        env.sim.touch("root");
        env.sim.touch("targets");
        env.sim.publish();
        assert!(env.refresh().await.is_err(), "{role}");
        assert_eq!(trusted(&env), roles(expected), "{role}");
    }
}

#[tokio::test]
async fn wrong_hash_of_new_targets_keeps_the_new_snapshot_and_the_old_targets() {
    let mut env = Env::new();
    env.sim.set_meta_hashes(true);
    env.sim.touch("targets");
    env.sim.publish();
    env.refresh().await.unwrap();
    env.sim.touch("targets");
    env.sim.publish();
    env.sim.corrupt_meta_hashes("targets");
    let err = env.refresh().await.unwrap_err();
    assert!(err.to_string().contains("hash mismatch"), "{err}");
    assert_eq!(
        trusted(&env),
        roles(&[
            ("root", 1),
            ("snapshot", 4),
            ("targets", 2),
            ("timestamp", 4)
        ])
    );
}

#[tokio::test]
async fn missing_timestamp_or_targets_fail_after_what_was_accepted() {
    let mut env = Env::new();
    env.refresh().await.unwrap();
    env.sim.remove_file("metadata/timestamp.json");
    assert!(env.refresh().await.unwrap_err().is_not_found());
    assert_eq!(env.requests().last().unwrap(), "timestamp.json");

    let mut env = Env::new();
    env.refresh().await.unwrap();
    env.sim.touch("targets");
    env.sim.publish();
    env.sim.remove_file("metadata/2.targets.json");
    assert!(env.refresh().await.unwrap_err().is_not_found());
    assert_eq!(env.requests().last().unwrap(), "2.targets.json");
    assert_eq!(
        trusted(&env),
        roles(&[
            ("root", 1),
            ("snapshot", 2),
            ("targets", 1),
            ("timestamp", 2)
        ])
    );
}

#[tokio::test]
async fn a_document_of_the_wrong_type_is_rejected() {
    let mut env = Env::new();
    env.sim.touch("root");
    env.sim.publish();
    // A snapshot document, validly signed by the timestamp key, served as timestamp.
    let snapshot = env.sim.body_value("snapshot");
    let bytes = env.sim.sign_as("timestamp", &snapshot);
    env.sim.set_file("metadata/timestamp.json", bytes);
    let err = env.refresh().await.unwrap_err();
    assert!(err.to_string().contains("_type"), "{err}");
    assert_eq!(trusted(&env), roles(&[("root", 2)]));
}

#[tokio::test]
async fn unknown_fields_are_covered_by_signatures_and_kept() {
    let mut env = Env::new();
    env.sim
        .root_mut()
        .unknown
        .insert("x-custom".into(), serde_json::json!({"nested": [1, 2]}));
    env.sim.publish();
    env.refresh().await.unwrap();
    assert_eq!(
        env.stored("root.json").unwrap(),
        env.sim.trusted_root_bytes(2)
    );
}
