//! The `tufkit-conformance` binary driven as the conformance suite drives it: a child
//! process per command against the simulator on 127.0.0.1, checking exit codes, the
//! request log and the files written.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use tufkit_core::crypto::hash::sha256_hex;
use tufkit_testkit::{RepoSim, Server};

const EXE: &str = env!("CARGO_BIN_EXE_tufkit-conformance");

/// The suite's URL prefix for a parametrised test: percent-escapes that must survive.
const PREFIX: &str = "test_x%5Brsa%2Frsassa-pss-sha256%5D/";

struct Suite {
    sim: RepoSim,
    server: Server,
    dir: TempDir,
}

impl Suite {
    fn new() -> Suite {
        // The binary reads the real clock, so the repository is built around it.
        let sim = RepoSim::new(chrono::Utc::now());
        let server = Server::start_with_prefix(sim.files(), PREFIX);
        let suite = Suite {
            sim,
            server,
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(suite.metadata_dir()).unwrap();
        suite
    }

    fn metadata_dir(&self) -> PathBuf {
        self.dir.path().join("metadata")
    }

    fn target_dir(&self) -> PathBuf {
        self.dir.path().join("targets")
    }

    fn run(&self, args: &[&str]) -> i32 {
        let out = Command::new(EXE).args(args).output().unwrap();
        eprintln!(
            "$ tufkit-conformance {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.status.code().unwrap_or(-1)
    }

    fn init(&self) -> i32 {
        let root = self.dir.path().join("initial root.json");
        std::fs::write(&root, self.sim.trusted_root_bytes(1)).unwrap();
        self.run(&[
            "--metadata-dir",
            path(&self.metadata_dir()),
            "init",
            path(&root),
        ])
    }

    fn refresh(&self) -> i32 {
        let url = self.server.metadata_url();
        let dir = self.metadata_dir();
        self.run(&[
            "--metadata-url",
            &url,
            "--metadata-dir",
            path(&dir),
            "refresh",
        ])
    }

    fn download(&self, targets: &[&str]) -> i32 {
        let url = self.server.metadata_url();
        let turl = self.server.targets_url();
        let dir = self.metadata_dir();
        let tdir = self.target_dir();
        let mut args = vec!["--metadata-url", &url, "--metadata-dir", path(&dir)];
        for t in targets {
            args.extend(["--target-name", t]);
        }
        args.extend(["--target-dir", path(&tdir), "--target-base-url", &turl]);
        args.push("download");
        self.run(&args)
    }

    fn requests(&self) -> Vec<String> {
        self.server.take_requests()
    }

    fn metadata_files(&self) -> Vec<String> {
        list(&self.metadata_dir())
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn init_then_refresh_makes_the_exact_requests_and_stores_the_exact_bytes() {
    let suite = Suite::new();
    assert_eq!(suite.init(), 0);
    assert!(suite.requests().is_empty());
    assert_eq!(
        std::fs::read(suite.metadata_dir().join("root.json")).unwrap(),
        suite.sim.trusted_root_bytes(1)
    );
    assert_eq!(suite.refresh(), 0);
    assert_eq!(
        suite.requests(),
        [
            "metadata/2.root.json",
            "metadata/timestamp.json",
            "metadata/1.snapshot.json",
            "metadata/1.targets.json",
        ]
    );
    assert_eq!(
        suite.metadata_files(),
        [
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
    );
    for role in ["timestamp", "snapshot", "targets"] {
        let stored = std::fs::read(suite.metadata_dir().join(format!("{role}.json"))).unwrap();
        assert_eq!(stored, suite.sim.bytes(role), "{role}");
    }
    assert_eq!(suite.refresh(), 0);
    assert_eq!(
        suite.requests(),
        ["metadata/2.root.json", "metadata/timestamp.json"]
    );
}

#[test]
fn an_invalid_trusted_root_fails_refresh_with_zero_requests() {
    let suite = Suite::new();
    let root = suite.dir.path().join("root.json");
    std::fs::write(&root, b"{\"signed\": {}, \"signatures\": []}").unwrap();
    let dir = suite.metadata_dir();
    let code = suite.run(&["--metadata-dir", path(&dir), "init", path(&root)]);
    assert_eq!(code, 0, "init stores the root without checking it");
    assert_eq!(suite.refresh(), 1);
    assert!(suite.requests().is_empty());
}

#[test]
fn download_handles_targets_in_order_stops_at_the_first_failure_and_reuses_files() {
    let mut suite = Suite::new();
    suite.sim.add_target("targets", "a.txt", "first");
    suite.sim.add_target("targets", "dir/b.txt", "second");
    suite.sim.publish();
    assert_eq!(suite.init(), 0);
    assert_eq!(suite.download(&["a.txt", "missing", "dir/b.txt"]), 1);
    let artifacts: Vec<String> = suite
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("targets/"))
        .collect();
    assert_eq!(
        artifacts,
        [format!("targets/{}.a.txt", sha256_hex(b"first"))]
    );
    assert_eq!(list(&suite.target_dir()), ["a.txt"]);

    assert_eq!(suite.download(&["a.txt", "dir/b.txt"]), 0);
    assert_eq!(
        suite.requests(),
        [
            "metadata/2.root.json".to_string(),
            "metadata/timestamp.json".to_string(),
            format!("targets/dir/{}.b.txt", sha256_hex(b"second")),
        ]
    );
    let read = |p: &str| std::fs::read(suite.target_dir().join(p)).unwrap();
    assert_eq!(read("dir/b.txt"), b"second");
    assert_eq!(read("a.txt"), b"first");
}

#[test]
fn a_malicious_artifact_fails_and_leaves_nothing_in_the_target_dir() {
    let mut suite = Suite::new();
    suite.sim.add_target("targets", "x/file", "genuine");
    suite.sim.publish();
    suite.sim.serve_target("targets", "x/file", "GENUINE");
    assert_eq!(suite.init(), 0);
    assert_eq!(suite.download(&["x/file"]), 1);
    assert!(list(&suite.target_dir()).is_empty());
}

#[test]
fn hostile_role_names_are_requested_encoded_and_stored_inside_the_metadata_dir() {
    let mut suite = Suite::new();
    suite
        .sim
        .add_delegation("targets", "../delegatedrole", &["*"], false);
    suite.sim.publish();
    assert_eq!(suite.init(), 0);
    assert_eq!(suite.download(&["nonexistent target"]), 1);
    let requests = suite.requests();
    assert_eq!(
        requests.last().unwrap(),
        "metadata/1...%2Fdelegatedrole.json"
    );
    assert_eq!(
        suite.metadata_files(),
        [
            "..%2Fdelegatedrole.json",
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
    );
    assert_eq!(list(suite.dir.path()), ["initial root.json", "metadata"]);
}

#[test]
fn usage_errors_exit_with_status_one() {
    let suite = Suite::new();
    let dir = suite.metadata_dir();
    let d = path(&dir);
    let cases: &[&[&str]] = &[
        &[],
        &["--metadata-dir"],
        &["--bogus", "x", "refresh"],
        &["--metadata-dir", d, "frobnicate"],
        &["--metadata-dir", d, "refresh"],
        &["--metadata-dir", d, "init"],
        &[
            "--metadata-url",
            "http://127.0.0.1:9/",
            "--metadata-dir",
            d,
            "download",
        ],
    ];
    for args in cases {
        assert_eq!(suite.run(args), 1, "{args:?}");
    }
}

#[test]
fn download_refreshes_first_and_requests_no_artifact_for_an_unknown_target() {
    let suite = Suite::new();
    assert_eq!(suite.init(), 0);
    assert_eq!(suite.download(&["nonexistent artifact"]), 1);
    assert_eq!(
        suite.requests(),
        [
            "metadata/2.root.json",
            "metadata/timestamp.json",
            "metadata/1.snapshot.json",
            "metadata/1.targets.json",
        ]
    );
    assert_eq!(suite.metadata_files().len(), 4);
    assert!(!suite.target_dir().exists() || list(&suite.target_dir()).is_empty());
}

/// The suite runs the binary under libfaketime: "now" must come from the libc clock.
#[test]
fn the_clock_is_read_through_libc_so_libfaketime_applies() {
    let faketime = Command::new("faketime").arg("--version").output();
    if !faketime.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: faketime is not installed (apt-get install faketime)");
        return;
    }
    let mut suite = Suite::new();
    suite
        .sim
        .set_expires("root", chrono::Utc::now() + chrono::Duration::days(7));
    suite.sim.publish();
    assert_eq!(suite.init(), 0);
    assert_eq!(suite.refresh(), 0);
    let url = suite.server.metadata_url();
    let dir = suite.metadata_dir();
    let out = Command::new("faketime")
        .args(["-f", "+8d", EXE, "--metadata-url", &url, "--metadata-dir"])
        .arg(&dir)
        .arg("refresh")
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
}
