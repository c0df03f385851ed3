//! Target search through delegations (spec 5.6.7): which roles are fetched, in which
//! order, under which names, and what a failing or hostile role can and cannot do.

mod common;

use chrono::Duration;
use common::Env;
use tufkit_client::{Config, Error};
use tufkit_core::metadata::DelegatedRole;
use tufkit_testkit::delegated_role;

/// A delegation edge: (delegator, role, paths, terminating).
type Edge<'a> = (&'a str, &'a str, &'a [&'a str], bool);

/// Builds a delegation graph from `(delegator, role, paths, terminating)` edges.
fn graph(edges: &[Edge]) -> Env {
    let mut env = Env::new();
    for (delegator, role, paths, terminating) in edges {
        env.sim.add_delegation(delegator, role, paths, *terminating);
    }
    env.sim.publish();
    // Start from a client that trusts root v1 of the fresh repository (all roles v1).
    env
}

/// A fresh client (empty metadata directory) searching for `target`: the role that
/// lists it, and the delegated metadata requested after the four top-level requests.
async fn delegated_requests(env: &Env, target: &str) -> (Result<String, Error>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut updater = tufkit_client::Updater::builder(
        env.bootstrap.clone(),
        &env.server.metadata_url(),
        dir.path(),
    )
    .config(Config::default().with_reference_time(env.now()))
    .build()
    .unwrap();
    env.server.clear_requests();
    let found = updater.target_info(target).await.map(|info| info.role);
    let requests = env.requests();
    let top = [
        "2.root.json".to_string(),
        "timestamp.json".to_string(),
        format!(
            "{}.snapshot.json",
            env.sim.last_version("snapshot").unwrap()
        ),
        format!("{}.targets.json", env.sim.last_version("targets").unwrap()),
    ];
    assert_eq!(requests[..4], top[..], "top-level requests");
    (found, requests[4..].to_vec())
}

fn v1(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("1.{n}.json")).collect()
}

#[tokio::test]
async fn search_is_preorder_depth_first_and_fetches_only_what_it_visits() {
    let all: &[&str] = &["*"];
    let py: &[&str] = &["*.py"];
    let cases: Vec<(&str, Vec<Edge>, Vec<&str>)> = vec![
        ("basic", vec![("targets", "A", all, false)], vec!["A"]),
        (
            "two levels",
            vec![
                ("targets", "A", all, false),
                ("targets", "B", all, false),
                ("B", "C", all, false),
            ],
            vec!["A", "B", "C"],
        ),
        (
            "depth first",
            vec![
                ("targets", "A", all, false),
                ("targets", "B", all, false),
                ("A", "C", all, false),
                ("A", "D", all, false),
            ],
            vec!["A", "C", "D", "B"],
        ),
        (
            "terminating drops later siblings and pending roles",
            vec![
                ("targets", "A", all, false),
                ("targets", "B", all, false),
                ("A", "C", all, true),
                ("A", "D", all, false),
            ],
            vec!["A", "C"],
        ),
        (
            "terminating role's own delegations are searched",
            vec![
                ("targets", "A", all, false),
                ("targets", "B", all, false),
                ("A", "C", all, true),
                ("C", "D", all, false),
            ],
            vec!["A", "C", "D"],
        ),
        (
            "path mismatch is not fetched",
            vec![("targets", "A", py, false), ("targets", "B", all, false)],
            vec!["B"],
        ),
        (
            "cycle",
            vec![
                ("targets", "A", all, false),
                ("targets", "B", all, false),
                ("B", "C", all, false),
                ("C", "D", all, false),
                ("D", "B", all, false),
            ],
            vec!["A", "B", "C", "D"],
        ),
        (
            "diamond",
            vec![
                ("targets", "A", all, false),
                ("targets", "B", all, false),
                ("A", "C", all, false),
                ("B", "C", all, false),
            ],
            vec!["A", "C", "B"],
        ),
    ];
    for (name, edges, expected) in cases {
        let env = graph(&edges);
        let (found, requests) = delegated_requests(&env, "missingpath").await;
        assert!(matches!(found, Err(Error::TargetNotFound { .. })), "{name}");
        assert_eq!(requests, v1(&expected), "{name}");
    }
}

#[tokio::test]
async fn targets_are_found_by_glob_per_segment_and_case_sensitively() {
    let mut env = Env::new();
    env.sim.add_target("targets", "targetfile", "t");
    env.sim
        .add_delegation("targets", "A", &["*.doc", "*.md", "foo-?.tgz"], false);
    env.sim
        .add_delegation("targets", "B", &["releases/*/*"], false);
    env.sim.add_delegation("B", "C", &["releases/x/*"], false);
    env.sim
        .add_delegation("B", "D", &["releases/y/*.zip"], false);
    env.sim.add_target("A", "README.md", "r");
    env.sim.add_target("A", "foo-1.tgz", "f");
    env.sim.add_target("C", "releases/x/x_v1", "x");
    env.sim.add_target("D", "releases/y/y_v1.zip", "y");
    env.sim.publish();
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("targetfile", Some("targets"), &[]),
        ("README.md", Some("A"), &["A"]),
        ("releases/x/x_v1", Some("C"), &["B", "C"]),
        ("releases/y/y_v1.zip", Some("D"), &["B", "D"]),
        ("releases/z/z_v1.zip", None, &["B"]),
        ("releases/README.md", None, &[]),
        ("foo-1.tgz", Some("A"), &["A"]),
        ("foo-alpha.tgz", None, &[]),
        ("README.MD", None, &[]),
    ];
    for (target, role, fetched) in cases {
        let (found, requests) = delegated_requests(&env, target).await;
        assert_eq!(found.as_deref().ok(), *role, "{target}: {found:?}");
        assert_eq!(requests, v1(fetched), "{target}");
    }
}

#[tokio::test]
async fn hostile_role_names_are_encoded_in_urls_and_stored_inside_the_metadata_dir() {
    for name in ["../x", "a?b", "c#d", "/lead", "sp ace%"] {
        let mut env = Env::new();
        env.sim.add_delegation("targets", name, &["*"], false);
        env.sim.add_target(name, "file.txt", "content");
        env.sim.publish();
        let mut updater = env.updater();
        env.server.clear_requests();
        let found = updater.target_info("file.txt").await.unwrap();
        assert_eq!(found.role, name);
        let requests = env.requests()[4..].to_vec();
        let encoded = tufkit_core::rolename::encode_role(name);
        assert_eq!(requests, [format!("1.{encoded}.json")], "{name}");
        let mut expected = vec![format!("{encoded}.json")];
        expected.extend(common::TOP_LEVEL_FILES.iter().map(|s| s.to_string()));
        expected.sort();
        assert_eq!(env.stored_files(), expected, "{name}");
        // Nothing was written next to the metadata directory.
        assert_eq!(common::list_files(env.dir.path()), ["metadata"]);
    }
    assert_eq!(tufkit_core::rolename::encode_role("../x"), "..%2Fx");
    assert_eq!(tufkit_core::rolename::encode_role("a?b"), "a%3Fb");
    assert_eq!(tufkit_core::rolename::encode_role("c#d"), "c%23d");
}

#[tokio::test]
async fn a_role_missing_from_snapshot_is_never_requested() {
    let mut env = Env::new();
    env.sim
        .add_delegation("targets", "delegated", &["delegatedpath/*"], false);
    env.sim.override_snapshot_meta("delegated", None);
    env.sim.publish();
    let mut updater = env.updater();
    updater.refresh().await.unwrap();
    env.server.clear_requests();
    let err = updater.target_info("delegatedpath/foo").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not listed in the trusted snapshot"),
        "{err}"
    );
    assert!(env.server.requests().is_empty());
    assert_eq!(env.stored("delegated.json"), None);
}

#[tokio::test]
async fn a_role_is_checked_again_against_the_delegator_of_each_search_path() {
    let mut env = Env::new();
    env.sim
        .add_delegation("targets", "parent-a", &["team-a/*"], false);
    env.sim
        .add_delegation("targets", "parent-b", &["team-b/*"], false);
    let key_a = env.sim.new_key();
    let key_b = env.sim.new_key();
    let release = |paths: &str| DelegatedRole {
        paths: Some(vec![paths.to_string()]),
        ..delegated_role("release", false)
    };
    env.sim.add_delegation_with(
        "parent-a",
        release("team-a/*"),
        std::slice::from_ref(&key_a),
    );
    env.sim
        .add_delegation_with("parent-b", release("team-b/*"), &[key_b]);
    env.sim.set_signers("release", vec![key_a]);
    env.sim.add_target("release", "team-a/f", "trusted A");
    env.sim.add_target("release", "team-b/f", "trusted B");
    env.sim.publish();
    let mut updater = env.updater();
    let a = updater.target_info("team-a/f").await.unwrap();
    assert_eq!(a.role, "release");
    let err = updater.target_info("team-b/f").await.unwrap_err();
    match err {
        Error::TargetNotFound { failures, .. } => {
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert_eq!(failures[0].0, "release");
            assert!(failures[0].1.contains("threshold"), "{failures:?}");
        }
        other => panic!("unexpected error {other}"),
    }
}

#[tokio::test]
async fn valid_local_delegated_roles_are_reused_and_new_versions_fetched() {
    let mut env = Env::new();
    env.sim.add_delegation("targets", "A", &["*"], false);
    env.sim.add_target("A", "a.txt", "a");
    env.sim.publish();
    env.updater().target_info("a.txt").await.unwrap();
    env.server.clear_requests();
    env.updater().target_info("a.txt").await.unwrap();
    assert_eq!(env.requests(), ["2.root.json", "timestamp.json"]);
    env.sim.add_target("A", "b.txt", "b");
    env.sim.publish();
    let info = env.updater().target_info("b.txt").await.unwrap();
    assert_eq!(info.role, "A");
    assert_eq!(
        env.requests(),
        [
            "2.root.json",
            "timestamp.json",
            "3.snapshot.json",
            "2.A.json"
        ]
    );
    assert_eq!(env.stored_version("A.json"), Some(2));
}

#[tokio::test]
async fn expired_delegated_roles_are_neither_trusted_nor_stored() {
    // Expired when published: never stored.
    let mut env = Env::new();
    env.sim
        .add_delegation("targets", "delegated", &["delegatedpath/*"], false);
    env.sim.add_target("delegated", "delegatedpath/target", "t");
    env.sim.expire("delegated");
    env.sim.publish();
    let err = env
        .updater()
        .target_info("delegatedpath/target")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(env.stored("delegated.json"), None);

    // Valid when stored, expired later with no newer version: not trusted any more.
    let mut env = Env::new();
    env.sim
        .add_delegation("targets", "delegated", &["delegatedpath/*"], false);
    env.sim
        .add_target("delegated", "delegatedpath/first", "first");
    env.sim
        .add_target("delegated", "delegatedpath/second", "second");
    env.sim
        .set_expires("delegated", env.now() + Duration::days(7));
    env.sim.publish();
    env.updater()
        .target_info("delegatedpath/first")
        .await
        .unwrap();
    let later = env.now() + Duration::days(18);
    let err = env
        .updater_at(later)
        .target_info("delegatedpath/second")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    // A newer, valid version is fetched and trusted.
    env.sim
        .set_expires("delegated", env.now() + Duration::days(21));
    env.sim.publish();
    let info = env
        .updater_at(later)
        .target_info("delegatedpath/second")
        .await
        .unwrap();
    assert_eq!(info.role, "delegated");
    assert_eq!(env.stored_version("delegated.json"), Some(2));
}

#[tokio::test]
async fn succinct_delegations_fetch_only_the_bin_of_the_target() {
    let mut env = Env::new();
    env.sim.add_succinct_delegation("targets", "bin", 2);
    let bin = env.sim.bin_for("targets", "bar");
    assert_eq!(bin, "bin-3");
    env.sim.add_target(&bin, "bar", "bar");
    env.sim.publish();
    let (found, requests) = delegated_requests(&env, "bar").await;
    assert_eq!(found.unwrap(), "bin-3");
    assert_eq!(requests, ["1.bin-3.json"]);
}

#[tokio::test]
async fn the_number_of_roles_visited_is_capped() {
    let mut env = Env::new();
    let mut parent = "targets".to_string();
    for i in 0..10 {
        let name = format!("r{i}");
        env.sim.add_delegation(&parent, &name, &["*"], false);
        parent = name;
    }
    env.sim.add_target(&parent, "deep", "deep");
    env.sim.publish();
    let config = Config {
        max_delegations: 5,
        ..Config::default().with_reference_time(env.now())
    };
    env.server.clear_requests();
    let err = env
        .updater_with(config)
        .target_info("deep")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TargetNotFound { .. }));
    // Five delegated roles (top-level targets is not counted).
    assert_eq!(env.requests()[4..], v1(&["r0", "r1", "r2", "r3", "r4"])[..]);
    let info = env.updater().target_info("deep").await.unwrap();
    assert_eq!(info.role, "r9");
}

#[tokio::test]
async fn a_failing_role_ends_only_its_branch_and_is_not_requested_twice() {
    let mut env = Env::new();
    env.sim.add_delegation("targets", "A", &["*"], false);
    env.sim.add_delegation("targets", "B", &["*"], false);
    env.sim.add_delegation("A", "C", &["*"], false);
    env.sim.add_delegation("B", "C", &["*"], false);
    env.sim.add_target("B", "b.txt", "b");
    env.sim.publish();
    env.sim.remove_file("metadata/1.C.json");
    let (found, requests) = delegated_requests(&env, "b.txt").await;
    assert_eq!(found.unwrap(), "B");
    assert_eq!(requests, v1(&["A", "C", "B"]));
    let (found, requests) = delegated_requests(&env, "missing").await;
    match found {
        Err(Error::TargetNotFound { failures, .. }) => {
            // Each role is visited once per search, so C fails (and is fetched) once.
            assert_eq!(failures.len(), 1, "{failures:?} {requests:?}");
            assert_eq!(failures[0].0, "C");
            assert!(failures[0].1.contains("404"), "{failures:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // C is requested once, though two delegators lead to it.
    assert_eq!(requests, v1(&["A", "C", "B"]));
}
