//! tufkit-client updates from a repository written by the `tough` crate's editor.
//!
//! Stage 1: root v1 is built and signed with tough's schema types and `SignedRole` (as
//! `tuftool root` does), then `RepositoryEditor` writes targets (with a delegation to
//! `team.tools`), snapshot and timestamp, and tough copies the target files in its
//! consistent-snapshot layout. Stage 2: root v2, cross-signed by the old and the new root
//! keys, replaces the root keys (threshold 2) and the timestamp key; the editor publishes
//! a new target in top-level targets and in the delegated role. Keys: ed25519, ECDSA
//! P-256 and RSA, loaded by tough's `LocalKeySource`.
//!
//! tough 0.24 loads PKCS#8 ed25519 and ECDSA keys from DER files only (RSA from PEM), and
//! stores a target `dir/name` as `HASH.dir/name` instead of `dir/HASH.name` (spec 5.7.2),
//! so target names here have no directories.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use chrono::{DateTime, TimeZone, Utc};
use tempfile::TempDir;
use tough::editor::signed::{PathExists, SignedRole};
use tough::editor::RepositoryEditor;
use tough::key_source::{KeySource, LocalKeySource};
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::schema::{KeyHolder, PathPattern, PathSet, RoleKeys, RoleType, Root, Target};
use tufkit_client::{Config, Updater};
use tufkit_core::crypto::{KeyKind, SigningKey};
use tufkit_peers::{file_url, files_under, load_repository, repo_root, serve_repository};

const DELEGATED: &str = "team.tools";

/// Targets by stage: (stage, role, name, content).
fn targets() -> Vec<(u32, &'static str, &'static str, Vec<u8>)> {
    vec![
        (
            1,
            "targets",
            "app-1.0.tar.gz",
            b"app 1.0 written by tough\n".to_vec(),
        ),
        (1, DELEGATED, "tool-cli.bin", (0u8..=255).collect()),
        (
            2,
            "targets",
            "app-1.1.tar.gz",
            b"app 1.1 written by tough\n".to_vec(),
        ),
        (
            2,
            DELEGATED,
            "tool-gui.bin",
            b"gui tool, stage 2\n".to_vec(),
        ),
    ]
}

fn reference_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 1, 0, 0, 0).unwrap()
}

fn expires() -> jiff::Timestamp {
    "2040-01-01T00:00:00Z".parse().unwrap()
}

fn one(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

/// A tough repository being written in a temporary directory, with its key files.
struct ToughRepo {
    tmp: TempDir,
}

impl ToughRepo {
    fn new() -> ToughRepo {
        let repo = ToughRepo {
            tmp: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(repo.keys_dir()).unwrap();
        std::fs::create_dir_all(repo.input_dir()).unwrap();
        for (name, kind) in [
            ("root-a", KeyKind::Ed25519),
            ("root-b", KeyKind::EcdsaP256),
            ("snapshot", KeyKind::EcdsaP256),
            ("timestamp-1", KeyKind::Ed25519),
            ("timestamp-2", KeyKind::EcdsaP256),
            ("team", KeyKind::EcdsaP256),
        ] {
            let (_, der) = SigningKey::generate(kind).unwrap();
            std::fs::write(repo.keys_dir().join(name), der).unwrap();
        }
        // ring cannot generate RSA keys: the testkit's fixed RSA test keys (PKCS#8 PEM).
        for (name, file) in [("root-c", "rsa-1.pem"), ("targets", "rsa-2.pem")] {
            let pem = std::fs::read(repo_root().join("tests/testkit/keys").join(file)).unwrap();
            std::fs::write(repo.keys_dir().join(name), pem).unwrap();
        }
        repo
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    fn metadata_dir(&self) -> PathBuf {
        self.root().join("metadata")
    }

    fn keys_dir(&self) -> PathBuf {
        self.tmp.path().join("keys")
    }

    fn input_dir(&self) -> PathBuf {
        self.tmp.path().join("input")
    }

    fn key(&self, name: &str) -> Box<dyn KeySource> {
        Box::new(LocalKeySource {
            path: self.keys_dir().join(name),
        })
    }

    fn keys(&self, names: &[&str]) -> Vec<Box<dyn KeySource>> {
        names.iter().map(|n| self.key(n)).collect()
    }

    /// Root `version` with these root and timestamp keys, as tough's schema types.
    async fn root_metadata(
        &self,
        version: u64,
        root_keys: &[&str],
        root_threshold: u64,
        timestamp: &str,
    ) -> Root {
        let mut keys: HashMap<Decoded<Hex>, Key> = HashMap::new();
        let mut roles = HashMap::new();
        let assignments: [(RoleType, &[&str], u64); 4] = [
            (RoleType::Root, root_keys, root_threshold),
            (RoleType::Targets, &["targets"], 1),
            (RoleType::Snapshot, &["snapshot"], 1),
            (RoleType::Timestamp, &[timestamp], 1),
        ];
        for (role, names, threshold) in assignments {
            let mut keyids = Vec::new();
            for name in names {
                let key = self.key(name).as_sign().await.unwrap().tuf_key();
                let keyid = key.key_id().unwrap();
                keys.insert(keyid.clone(), key);
                keyids.push(keyid);
            }
            roles.insert(
                role,
                RoleKeys {
                    keyids,
                    threshold: one(threshold),
                    _extra: HashMap::new(),
                },
            );
        }
        Root {
            spec_version: "1.0.0".to_string(),
            consistent_snapshot: true,
            version: one(version),
            expires: expires(),
            keys,
            roles,
            _extra: HashMap::new(),
        }
    }

    /// Writes `metadata/N.root.json`, signed by the `signers` of the new root and by the
    /// `old_signers` of the previous root (5.3.4: a new root needs both thresholds).
    async fn write_root(&self, root: Root, signers: &[&str], previous: Option<(&Root, &[&str])>) {
        let rng = SystemRandom::new();
        let holder = KeyHolder::Root(root.clone());
        let mut signed = SignedRole::new(root.clone(), &holder, &self.keys(signers), &rng)
            .await
            .unwrap();
        if let Some((old_root, old_signers)) = previous {
            let old_holder = KeyHolder::Root(old_root.clone());
            let by_old = SignedRole::new(root, &old_holder, &self.keys(old_signers), &rng)
                .await
                .unwrap();
            signed = signed
                .add_old_signatures(by_old.signed().signatures.clone())
                .unwrap();
        }
        signed.write(self.metadata_dir(), true).await.unwrap();
    }

    /// Publishes targets, the delegated role, snapshot and timestamp of `stage` (all at
    /// version `stage`) with tough's editor, on top of `N.root.json`.
    async fn publish(&self, stage: u32, root_version: u64) {
        let version = one(u64::from(stage));
        let root_file = self
            .metadata_dir()
            .join(format!("{root_version}.root.json"));
        let mut editor = RepositoryEditor::new(&root_file).await.unwrap();
        editor
            .snapshot_version(version)
            .snapshot_expires(expires())
            .timestamp_version(version)
            .timestamp_expires(expires());
        editor
            .targets_version(version)
            .unwrap()
            .targets_expires(expires())
            .unwrap();
        let mut delegated = Vec::new();
        for (added, role, name, content) in targets().into_iter().filter(|t| t.0 <= stage) {
            let file = self.input_dir().join(name);
            std::fs::write(&file, &content).unwrap();
            let mut target = Target::from_path(&file).await.unwrap();
            target
                .custom
                .insert("stage".to_string(), serde_json::json!(added));
            if role == "targets" {
                editor.add_target(name, target).unwrap();
            } else {
                delegated.push((name, target, file));
            }
        }
        let paths = PathSet::Paths(vec![PathPattern::new("tool-*").unwrap()]);
        editor
            .delegate_role(
                DELEGATED,
                &self.keys(&["team"]),
                paths,
                false,
                one(1),
                expires(),
                version,
            )
            .await
            .unwrap();
        editor
            .sign_targets_editor(&self.keys(&["targets"]))
            .await
            .unwrap();
        editor.change_delegated_targets(DELEGATED).unwrap();
        editor
            .targets_version(version)
            .unwrap()
            .targets_expires(expires())
            .unwrap();
        for (name, target, _) in &delegated {
            editor.add_target(*name, target.clone()).unwrap();
        }
        editor
            .sign_targets_editor(&self.keys(&["team"]))
            .await
            .unwrap();
        let all = self.keys(&["snapshot", "timestamp-1", "timestamp-2"]);
        let signed = editor.sign(&all).await.unwrap();
        signed.write(self.metadata_dir()).await.unwrap();
        let targets_dir = self.root().join("targets");
        // Top-level targets: tough copies them as HASH.name.
        signed
            .copy_targets(self.input_dir(), &targets_dir, PathExists::Skip)
            .await
            .unwrap();
        // `SignedRepository` copies only top-level targets; delegated ones get the same
        // consistent-snapshot name (tough's `copy_target` of a delegated role would too).
        for (name, target, file) in delegated {
            let hash = hex(&target.hashes.sha256);
            std::fs::copy(file, targets_dir.join(format!("{hash}.{name}"))).unwrap();
        }
    }

    fn bootstrap(&self) -> Vec<u8> {
        std::fs::read(self.metadata_dir().join("1.root.json")).unwrap()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stage 1 on disk: root v1 and the stage-1 publication.
async fn stage_one() -> (ToughRepo, Root) {
    let repo = ToughRepo::new();
    let root1 = repo.root_metadata(1, &["root-a"], 1, "timestamp-1").await;
    repo.write_root(root1.clone(), &["root-a"], None).await;
    repo.publish(1, 1).await;
    (repo, root1)
}

/// Stage 2 on disk: root v2 (root keys b and c, threshold 2; new timestamp key),
/// cross-signed by root v1's key, and the stage-2 publication.
async fn stage_two(repo: &ToughRepo, root1: &Root) {
    let root2 = repo
        .root_metadata(2, &["root-b", "root-c"], 2, "timestamp-2")
        .await;
    repo.write_root(root2, &["root-b", "root-c"], Some((root1, &["root-a"])))
        .await;
    repo.publish(2, 2).await;
}

/// Finds and downloads every target of `stage` and earlier, checking role and bytes.
async fn fetch_all(updater: &mut Updater, stage: u32, dest: &Path) {
    for (_, role, name, content) in targets().into_iter().filter(|t| t.0 <= stage) {
        let info = updater
            .target_info(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.role, role, "{name}");
        let file = updater
            .download_target(&info, dest)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(std::fs::read(file).unwrap(), content, "{name}");
    }
}

fn updater(bootstrap: Vec<u8>, metadata_url: &str, targets_url: &str, dir: &Path) -> Updater {
    Updater::builder(bootstrap, metadata_url, dir)
        .targets_url(targets_url)
        .config(Config::default().with_reference_time(reference_time()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn tough_repository_over_http_with_root_rotation() {
    let (repo, root1) = stage_one().await;
    assert_eq!(
        files_under(&repo.metadata_dir()),
        [
            "1.root.json",
            "1.snapshot.json",
            "1.targets.json",
            "1.team.tools.json",
            "timestamp.json"
        ]
    );
    let (server, files) = serve_repository(&repo.root());
    let client = repo.tmp.path().join("client");
    let (meta_dir, dest) = (client.join("metadata"), client.join("targets"));
    let mut client_updater = updater(
        repo.bootstrap(),
        &server.metadata_url(),
        &server.targets_url(),
        &meta_dir,
    );
    client_updater.refresh().await.unwrap();
    fetch_all(&mut client_updater, 1, &dest).await;
    let sha = |name: &str| {
        let content = &targets().into_iter().find(|t| t.2 == name).unwrap().3;
        tufkit_core::crypto::hash::sha256_hex(content)
    };
    assert_eq!(
        server.take_requests(),
        [
            "metadata/2.root.json".to_string(),
            "metadata/timestamp.json".to_string(),
            "metadata/1.snapshot.json".to_string(),
            "metadata/1.targets.json".to_string(),
            format!("targets/{}.app-1.0.tar.gz", sha("app-1.0.tar.gz")),
            "metadata/1.team.tools.json".to_string(),
            format!("targets/{}.tool-cli.bin", sha("tool-cli.bin")),
        ]
    );

    // Stage 2: the client follows the rotation and fetches only what changed.
    stage_two(&repo, &root1).await;
    load_repository(&files, &repo.root());
    let mut client_updater = updater(
        repo.bootstrap(),
        &server.metadata_url(),
        &server.targets_url(),
        &meta_dir,
    );
    client_updater.refresh().await.unwrap();
    assert_eq!(client_updater.trusted().unwrap().root().version, 2);
    let info = client_updater.target_info("tool-gui.bin").await.unwrap();
    assert_eq!(info.role, DELEGATED);
    client_updater.download_target(&info, &dest).await.unwrap();
    assert_eq!(
        server.take_requests(),
        [
            "metadata/2.root.json".to_string(),
            "metadata/3.root.json".to_string(),
            "metadata/timestamp.json".to_string(),
            "metadata/2.snapshot.json".to_string(),
            "metadata/2.targets.json".to_string(),
            "metadata/2.team.tools.json".to_string(),
            format!("targets/{}.tool-gui.bin", sha("tool-gui.bin")),
        ]
    );
    assert_eq!(
        std::fs::read(meta_dir.join("root.json")).unwrap(),
        std::fs::read(repo.metadata_dir().join("2.root.json")).unwrap()
    );
    fetch_all(&mut client_updater, 2, &dest).await;
    assert_eq!(
        files_under(&meta_dir),
        [
            "root.json",
            "snapshot.json",
            "targets.json",
            "team.tools.json",
            "timestamp.json"
        ]
    );
    let mut names: Vec<String> = targets().iter().map(|t| t.2.to_string()).collect();
    names.sort();
    assert_eq!(files_under(&dest), names);
}

#[tokio::test]
async fn tough_repository_over_file_urls() {
    let (repo, root1) = stage_one().await;
    stage_two(&repo, &root1).await;
    let base = file_url(&repo.root());
    let client = repo.tmp.path().join("client");
    let mut client_updater = updater(
        repo.bootstrap(),
        &format!("{base}metadata/"),
        &format!("{base}targets/"),
        &client.join("metadata"),
    );
    client_updater.refresh().await.unwrap();
    assert_eq!(client_updater.trusted().unwrap().root().version, 2);
    fetch_all(&mut client_updater, 2, &client.join("targets")).await;
}

/// A root v2 signed only by its new keys (no signature of root v1's key) is refused,
/// so the rotation test above depends on tough's cross-signing.
#[tokio::test]
async fn tough_root_without_the_old_keys_signature_is_refused() {
    let (repo, _root1) = stage_one().await;
    let root2 = repo
        .root_metadata(2, &["root-b", "root-c"], 2, "timestamp-2")
        .await;
    repo.write_root(root2, &["root-b", "root-c"], None).await;
    let base = file_url(&repo.root());
    let client = repo.tmp.path().join("client");
    let mut client_updater = updater(
        repo.bootstrap(),
        &format!("{base}metadata/"),
        &format!("{base}targets/"),
        &client.join("metadata"),
    );
    let err = client_updater.refresh().await.unwrap_err();
    assert!(
        matches!(&err, tufkit_client::Error::Metadata { role, .. } if role == "root"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(client.join("metadata/root.json")).unwrap(),
        repo.bootstrap()
    );
}
