//! Shared by the interop tests: a repository published by the `tufkit` binary through the
//! scenarios clients must follow (delegations, hashed bins, a root rotation, a revocation).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// Runs `tufkit ARGS` and returns stdout; panics with the output on failure.
pub fn tufkit(args: &[&str]) -> String {
    let out = Command::cargo_bin("tufkit")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "tufkit {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A repository under test and the targets a client must be able to download.
pub struct Scenario {
    /// Scratch directory.
    pub dir: PathBuf,
    /// The workspace.
    pub repo: PathBuf,
    /// Target path to expected content.
    pub expected: BTreeMap<String, Vec<u8>>,
    /// Whether TAP 15 succinct bins are part of the scenario.
    pub with_bins: bool,
    /// Target paths without directories (`team-tool.bin` rather than `team/tool.bin`).
    pub flat: bool,
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

impl Scenario {
    /// A new repository with two targets. `flat` keeps every target path free of `/`:
    /// tough 0.24 fetches `dir/name` as `HASH.dir/name` instead of `dir/HASH.name` (TUF
    /// spec 5.7.2), so it can only download top-level paths from a consistent snapshot.
    pub fn new(dir: &Path, with_bins: bool, flat: bool) -> Scenario {
        let repo = dir.join("repo");
        tufkit(&["init", p(&repo)]);
        let mut s = Scenario {
            dir: dir.to_path_buf(),
            repo,
            expected: BTreeMap::new(),
            with_bins,
            flat,
        };
        s.add("hello.txt", b"hello, interop\n");
        s.add(&s.path("app", "app-1.0.tgz"), b"application bytes");
        s.publish();
        s
    }

    /// A target path in "directory" `dir`, as `dir/name` or, when flat, `dir-name`.
    pub fn path(&self, dir: &str, name: &str) -> String {
        if self.flat {
            format!("{dir}-{name}")
        } else {
            format!("{dir}/{name}")
        }
    }

    /// The published tree.
    pub fn published(&self) -> PathBuf {
        self.repo.join("repository")
    }

    /// The trusted root shipped to clients.
    pub fn root_v1(&self) -> PathBuf {
        self.published().join("metadata/1.root.json")
    }

    /// Stages a target with this content (under the role the delegations choose).
    pub fn add(&mut self, target: &str, content: &[u8]) {
        let f = self.dir.join(format!("content-{}", self.expected.len()));
        std::fs::write(&f, content).unwrap();
        tufkit(&["add", p(&self.repo), p(&f), "--as", target]);
        self.expected.insert(target.to_string(), content.to_vec());
    }

    /// Publishes.
    pub fn publish(&self) {
        tufkit(&["publish", p(&self.repo)]);
    }

    /// Generates a key of `key_type` into the workspace's key directory.
    pub fn key(&self, name: &str, key_type: &str) -> PathBuf {
        let f = self.repo.join("keys").join(format!("{name}.pem"));
        tufkit(&["key", "generate", "--type", key_type, "--out", p(&f)]);
        f
    }

    /// Named delegations (ECDSA, path patterns) and a hash-prefix delegation (RSA), plus
    /// hashed bins (ed25519) under a delegated role when `with_bins`.
    pub fn delegations(&mut self) {
        let team = self.key("team", "ecdsa");
        let pattern = self.path("team", "*");
        tufkit(&[
            "delegate",
            p(&self.repo),
            "--to",
            "team",
            "--key",
            p(&team),
            "--paths",
            &pattern,
        ]);
        let hp = self.key("hashed", "rsa");
        let all: Vec<String> = (0..16).map(|i| format!("{i:x}")).collect();
        let mut args = vec![
            "delegate",
            p(&self.repo),
            "--to",
            "hashed",
            "--key",
            p(&hp),
            "--hash-prefixes",
        ];
        args.extend(all.iter().map(String::as_str));
        tufkit(&args);
        if self.with_bins {
            let parent = self.key("pkgs", "ed25519");
            tufkit(&[
                "delegate",
                p(&self.repo),
                "--to",
                "pkgs",
                "--key",
                p(&parent),
                "--paths",
                "pkgs/*",
            ]);
            let bins = self.key("bins", "ed25519");
            tufkit(&[
                "delegate",
                p(&self.repo),
                "--from",
                "pkgs",
                "--succinct-bins",
                "3",
                "--key",
                p(&bins),
            ]);
        }
        self.publish();
        self.add(&self.path("team", "tool.bin"), b"team tool v1");
        self.add(
            &self.path("other", "file.txt"),
            b"reached through a hash-prefix delegation",
        );
        if self.with_bins {
            for i in 0..5 {
                self.add(
                    &format!("pkgs/pkg-{i}.tgz"),
                    format!("package {i}").as_bytes(),
                );
            }
        }
        self.publish();
    }

    /// Rotates the top-level targets key through a new root (root keys are online here).
    pub fn rotate_targets_key(&self) {
        let root: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.root_v1()).unwrap()).unwrap();
        let old = root["signed"]["roles"]["targets"]["keyids"][0]
            .as_str()
            .unwrap()
            .to_string();
        let new = self.key("targets-rotated", "ed25519");
        tufkit(&[
            "root",
            "add-key",
            p(&self.repo),
            "--role",
            "targets",
            p(&new),
        ]);
        tufkit(&[
            "root",
            "remove-key",
            p(&self.repo),
            "--role",
            "targets",
            &old,
        ]);
        tufkit(&["root", "publish", p(&self.repo)]);
    }

    /// Revokes the team key (replacing it) and completes the rotation.
    pub fn revoke_team_key(&mut self) {
        let team = self.repo.join("keys/team.pem");
        let out = tufkit(&["key", "public", p(&team)]);
        let key: serde_json::Value = serde_json::from_str(&out).unwrap();
        let keyid =
            tufkit_core::crypto::Key::key_id(&serde_json::from_value(key).unwrap()).unwrap();
        let replacement = self.key("team-2", "ecdsa");
        tufkit(&[
            "revoke",
            p(&self.repo),
            &keyid.0,
            "--replace-with",
            p(&replacement),
        ]);
        tufkit(&["root", "publish", p(&self.repo)]);
        self.add(
            &self.path("team", "tool.bin"),
            b"team tool v2, signed with the new key",
        );
        self.publish();
    }

    /// Checks the repository with `tufkit verify` too.
    pub fn verify(&self) {
        tufkit(&["verify", p(&self.repo)]);
    }
}
