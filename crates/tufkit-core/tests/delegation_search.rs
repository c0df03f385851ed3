//! Target search through the delegation graph (spec 5.6.7, TAP 15), driven by
//! `TargetSearch` over roles loaded lazily from the simulator.

use tufkit_core::crypto::hash::sha256_hex;
use tufkit_core::{Error, TrustedSet, DEFAULT_MAX_DELEGATIONS};
use tufkit_testkit::drive::{refresh, search, SearchRun};
use tufkit_testkit::{default_reference_time, RepoSim};

fn t0() -> chrono::DateTime<chrono::Utc> {
    default_reference_time()
}

fn ready(sim: &RepoSim) -> TrustedSet {
    refresh(sim, t0()).unwrap()
}

fn find(sim: &RepoSim, path: &str) -> SearchRun {
    search(&mut ready(sim), sim, path, DEFAULT_MAX_DELEGATIONS)
}

#[test]
fn target_in_top_level_targets_needs_no_delegated_role() {
    let mut sim = RepoSim::new(t0());
    sim.add_target("targets", "f", "content");
    sim.add_delegation("targets", "a", &["*"], false);
    sim.publish();
    let run = find(&sim, "f");
    assert_eq!(run.found_in(), Some("targets"));
    assert!(run.requested.is_empty());
    assert_eq!(run.found.unwrap().1.length, 7);
}

#[test]
fn search_is_preorder_depth_first_in_listed_order() {
    // 5.6.7.2: the first role in pre-order that lists the target wins; a breadth-first
    // search would let B (lower priority than A's subtree) decide.
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "A", &["*"], false);
    sim.add_delegation("targets", "B", &["*"], false);
    sim.add_delegation("A", "A1", &["*"], false);
    sim.add_delegation("A", "A2", &["*"], false);
    sim.add_delegation("B", "B1", &["*"], false);
    sim.add_target("B1", "only-in-b1", "b1");
    sim.add_target("A2", "shared", "from A2");
    sim.add_target("B", "shared", "from B");
    sim.publish();

    let run = find(&sim, "only-in-b1");
    assert_eq!(run.requested_names(), ["A", "A1", "A2", "B", "B1"]);
    assert_eq!(run.found_in(), Some("B1"));

    let run = find(&sim, "shared");
    assert_eq!(run.requested_names(), ["A", "A1", "A2"]);
    assert_eq!(run.found_in(), Some("A2"));
}

#[test]
fn delegation_cycle_terminates() {
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "A", &["*"], false);
    sim.add_delegation("A", "B", &["*"], false);
    sim.add_delegation("B", "A", &["*"], false);
    sim.add_delegation("B", "B", &["*"], false);
    sim.publish();
    // No role cap: the search must end because of the cycle handling alone. It runs on a
    // thread so a regression fails the test instead of hanging the run.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let run = search(&mut ready(&sim), &sim, "missing", usize::MAX);
        let _ = tx.send(run);
    });
    let run = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the search through a delegation cycle did not end");
    assert!(run.found.is_none());
    // Each role is loaded once, whatever the number of paths to it.
    assert_eq!(run.requested_names(), ["A", "B"]);
}

#[test]
fn terminating_role_ends_the_search_after_its_subtree() {
    // 5.6.7.2.1.4: lower-priority roles must not be consulted after a terminating match.
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "A", &["*"], true);
    sim.add_delegation("targets", "B", &["*"], false);
    sim.add_delegation("A", "A1", &["*"], false);
    sim.add_target("B", "f", "from B");
    sim.add_target("A1", "g", "from A1");
    sim.publish();
    let run = find(&sim, "f");
    assert!(run.found.is_none(), "{:?}", run.found);
    assert_eq!(run.requested_names(), ["A", "A1"]);
    assert_eq!(find(&sim, "g").found_in(), Some("A1"));
}

#[test]
fn terminating_role_that_does_not_match_does_not_end_the_search() {
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "T", &["other/*"], true);
    sim.add_delegation("targets", "B", &["*"], false);
    sim.add_target("B", "f", "from B");
    sim.publish();
    let run = find(&sim, "f");
    assert_eq!(run.found_in(), Some("B"));
    assert_eq!(run.requested_names(), ["B"]);
}

#[test]
fn diamond_loads_the_shared_role_once() {
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "A", &["*"], false);
    sim.add_delegation("targets", "B", &["*"], false);
    sim.add_delegation("A", "C", &["*"], false);
    sim.add_delegation("B", "C", &["*"], false);
    sim.add_target("C", "f", "from C");
    sim.publish();
    let run = find(&sim, "f");
    assert_eq!(run.found_in(), Some("C"));
    assert_eq!(run.requested, [("A", "targets"), ("C", "A")].map(owned));
    let run = find(&sim, "missing");
    assert!(run.found.is_none());
    assert_eq!(run.requested_names(), ["A", "C", "B"]);
    assert!(run.failures.is_empty(), "{:?}", run.failures);
}

fn owned((a, b): (&str, &str)) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn glob_patterns_restrict_every_level_of_a_chain() {
    // A role is trusted only for paths every delegation on the way allows: B cannot sign
    // `a/cat.txt` (its own delegation says `a/b*`) nor `x/y.txt` (A's says `a/*`).
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "A", &["a/*"], false);
    sim.add_delegation("A", "B", &["a/b*", "x/*"], false);
    for path in ["a/bee.txt", "a/cat.txt", "x/y.txt", "a/b/c.txt"] {
        sim.add_target("B", path, path);
    }
    sim.publish();

    let run = find(&sim, "a/bee.txt");
    assert_eq!(run.found_in(), Some("B"));

    let run = find(&sim, "a/cat.txt");
    assert!(run.found.is_none());
    assert_eq!(run.requested_names(), ["A"]);

    let run = find(&sim, "x/y.txt");
    assert!(run.found.is_none());
    assert!(run.requested.is_empty());

    // `*` never crosses `/`.
    let run = find(&sim, "a/b/c.txt");
    assert!(run.found.is_none());
    assert!(run.requested.is_empty());
}

#[test]
fn path_hash_prefixes_select_the_delegated_role() {
    let path = "pkg/file.tgz";
    let digest = sha256_hex(path.as_bytes());
    let matching = &digest[..3];
    let other = if digest.starts_with('0') { "f" } else { "0" };
    let mut sim = RepoSim::new(t0());
    sim.add_hash_prefix_delegation("targets", "wrong-bin", &[other]);
    sim.add_hash_prefix_delegation("targets", "right-bin", &["ffff", matching]);
    sim.add_target("wrong-bin", path, "forged");
    sim.add_target("right-bin", path, "genuine");
    sim.publish();
    let run = find(&sim, path);
    assert_eq!(run.requested_names(), ["right-bin"]);
    assert_eq!(run.found_in(), Some("right-bin"));
}

#[test]
fn succinct_hashed_bins_find_the_right_bin() {
    // TAP 15: only the bin named by the first bit_length bits of SHA-256(path) is asked.
    let mut sim = RepoSim::new(t0());
    sim.add_succinct_delegation("targets", "bins", 4);
    let paths = ["a", "b/c.txt", "pkg-1.0.tar.gz", "z/z/z"];
    for p in paths {
        let bin = sim.bin_for("targets", p);
        sim.add_target(&bin, p, p);
    }
    // A target placed in a bin that is not responsible for it.
    let stray = "stray.txt";
    let right = sim.bin_for("targets", stray);
    let wrong = if right == "bins-0" {
        "bins-1"
    } else {
        "bins-0"
    };
    sim.add_target(wrong, stray, "stray");
    sim.publish();

    let mut set = ready(&sim);
    for p in paths {
        let run = search(&mut set, &sim, p, DEFAULT_MAX_DELEGATIONS);
        let bin = sim.bin_for("targets", p);
        assert_eq!(run.found_in(), Some(bin.as_str()), "{p}");
        assert!(run.requested_names().iter().all(|r| *r == bin), "{p}");
    }
    let run = search(&mut set, &sim, stray, DEFAULT_MAX_DELEGATIONS);
    assert!(run.found.is_none());
    assert_eq!(run.requested_names(), [right.as_str()]);
}

#[test]
fn search_stops_after_the_role_cap() {
    // A long or wide delegation graph must not make the client fetch without bound. The
    // cap counts delegated roles visited (top-level targets is not counted, as in python-tuf).
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "r1", &["*"], false);
    sim.add_delegation("r1", "r2", &["*"], false);
    sim.add_delegation("r2", "r3", &["*"], false);
    sim.add_delegation("r3", "r4", &["*"], false);
    sim.add_target("r4", "deep", "deep");
    sim.publish();
    let run = search(&mut ready(&sim), &sim, "deep", 4);
    assert_eq!(run.found_in(), Some("r4"));
    let run = search(&mut ready(&sim), &sim, "deep", 3);
    assert!(run.found.is_none());
    assert_eq!(run.requested_names(), ["r1", "r2", "r3"]);

    let mut wide = RepoSim::new(t0());
    for i in 0..40 {
        wide.add_delegation("targets", &format!("w{i:02}"), &["*"], false);
    }
    wide.add_target("w39", "last", "last");
    wide.publish();
    let run = find(&wide, "last");
    assert!(run.found.is_none());
    assert_eq!(run.requested.len(), DEFAULT_MAX_DELEGATIONS);
}

/// targets -> A, B (both `*`); A -> X for `other`, B -> X for `p`; X lists both paths and
/// is signed by A's key for X only (and B's too when `signed_by_b`).
fn second_delegator_sim(signed_by_b: bool) -> RepoSim {
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "A", &["*"], false);
    sim.add_delegation("targets", "B", &["*"], false);
    let key_a = sim.add_delegation("A", "X", &["other"], false);
    let key_b = sim.add_delegation("B", "X", &["p"], false);
    sim.add_target("X", "other", "o");
    sim.add_target("X", "p", "p");
    let signers = if signed_by_b {
        vec![key_a, key_b]
    } else {
        vec![key_a]
    };
    sim.set_signers("X", signers);
    sim.publish();
    sim
}

#[test]
fn role_reached_through_a_second_delegator_is_verified_with_its_keys() {
    // X was trusted through A; B's delegation names other keys, which did not sign X, so
    // nothing may be found in X through B.
    let sim = second_delegator_sim(false);
    let mut set = ready(&sim);
    let run = search(&mut set, &sim, "other", DEFAULT_MAX_DELEGATIONS);
    assert_eq!(run.found_in(), Some("X"));
    assert_eq!(set.delegator_of("X"), Some("A"));

    let run = search(&mut set, &sim, "p", DEFAULT_MAX_DELEGATIONS);
    assert!(run.found.is_none(), "{:?}", run.found);
    let (role, err) = &run.failures[0];
    assert_eq!(role, "X");
    assert!(
        matches!(err, Error::ThresholdNotMet { by, .. } if by.contains("delegated by B")),
        "{err}"
    );

    // Fresh search, X not loaded yet: loading it through B fails the same way.
    let run = find(&sim, "p");
    assert!(run.found.is_none());
    assert_eq!(run.failures.len(), 1);

    // Control: signed by B's key too, X is found through B.
    let sim = second_delegator_sim(true);
    let mut set = ready(&sim);
    search(&mut set, &sim, "other", DEFAULT_MAX_DELEGATIONS);
    let run = search(&mut set, &sim, "p", DEFAULT_MAX_DELEGATIONS);
    assert_eq!(run.found_in(), Some("X"));
}

#[test]
fn failed_role_ends_only_its_own_branch() {
    // A role that cannot be loaded (bad signature, missing file) must not end the whole
    // search: the next sibling still provides the target.
    let mut sim = RepoSim::new(t0());
    sim.add_delegation("targets", "A", &["*"], false);
    sim.add_delegation("targets", "B", &["*"], false);
    sim.add_delegation("A", "A1", &["*"], false);
    sim.add_target("A1", "f", "from A1");
    sim.add_target("B", "f", "from B");
    sim.set_signers("A", sim.keys("targets"));
    sim.publish();
    let run = find(&sim, "f");
    assert_eq!(run.found_in(), Some("B"));
    assert_eq!(run.requested_names(), ["A", "B"]);
    assert_eq!(run.failures.len(), 1);
    assert_eq!(run.failures[0].0, "A");

    // The same with A's file missing from the repository.
    sim.clear_signers("A");
    sim.touch("A");
    sim.publish();
    assert_eq!(find(&sim, "f").found_in(), Some("A1"));
    let version = sim.last_version("A").unwrap();
    sim.remove_file(&sim.metadata_path("A", version));
    let run = find(&sim, "f");
    assert_eq!(run.found_in(), Some("B"));
    assert_eq!(run.failures[0].0, "A");
}
