//! python-tuf's client (`tuf.ngclient.Updater`) consumes repositories published by
//! tufkit: before and after delegations with hashed bins, a root rotation and a
//! revocation, keeping its trusted metadata between runs like a deployed client.
//!
//! Needs the environment from `scripts/python-env.sh` (or `TUFKIT_PYTHON`); without it
//! this test fails rather than skipping silently.

mod repo_support;

use std::collections::BTreeMap;
use std::path::Path;

use repo_support::Scenario;
use tufkit_core::crypto::hash::sha256_hex;

use tufkit_testkit::python::python;

/// Fetches every expected target with ngclient, using `state` as its metadata dir.
fn ngclient_fetch(s: &Scenario, url: &str, state: &Path) -> BTreeMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ngclient_fetch.py");
    let out_dir = s.dir.join("py-downloads");
    let mut cmd = std::process::Command::new(python());
    cmd.arg(script)
        .arg(state)
        .arg(s.root_v1())
        .arg(url)
        .arg(&out_dir)
        .args(s.expected.keys());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "ngclient_fetch.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad output {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn assert_all_downloaded(s: &Scenario, url: &str, state: &Path, phase: &str) {
    let got = ngclient_fetch(s, url, state);
    let want: BTreeMap<String, String> = s
        .expected
        .iter()
        .map(|(k, v)| (k.clone(), sha256_hex(v)))
        .collect();
    assert_eq!(got, want, "python-tuf after {phase}");
}

#[test]
fn python_tuf_ngclient_follows_a_tufkit_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Scenario::new(tmp.path(), true, false);
    let server = tufkit_repo::serve::Server::start(&s.published(), "127.0.0.1:0").unwrap();
    let url = server.url();
    let state = tmp.path().join("py-state");

    assert_all_downloaded(&s, &url, &state, "init");
    s.delegations();
    s.verify();
    assert_all_downloaded(&s, &url, &state, "delegations and succinct bins");
    s.rotate_targets_key();
    assert_all_downloaded(&s, &url, &state, "a root rotation");
    s.revoke_team_key();
    s.verify();
    assert_all_downloaded(&s, &url, &state, "a revocation");
    // A client installed today starts from 1.root.json and walks the whole chain.
    assert_all_downloaded(&s, &url, &tmp.path().join("py-fresh"), "a fresh start");
}
