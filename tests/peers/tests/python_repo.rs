//! tufkit-client updates from a repository written by python-tuf's Metadata API
//! (`tests/interop/python/peer_make_repo.py`): a root rotation from v1 (expired) to v2
//! (new root keys and threshold, new timestamp key), path delegations (nested, dotted role
//! names, a threshold-2 role), TAP 15 succinct hash bins, sha256 and sha512 target copies,
//! ed25519/ecdsa/rsa keys; then an incremental update (stage 2: a new target in one bin
//! and root v3). Served over loopback HTTP and read through `file://` URLs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tempfile::TempDir;
use tufkit_client::{Config, Error, Updater};
use tufkit_core::crypto::hash::sha256_hex;
use tufkit_peers::{
    consistent_target_path, entries_under, file_url, files_under, load_repository,
    run_python_script, serve_repository, Server,
};

/// `manifest.json` as `peer_make_repo.py` documents it (`write_manifest`).
#[derive(Debug, Deserialize)]
struct Manifest {
    reference_time: String,
    initial_root: String,
    stage: u32,
    root_version: u64,
    versions: BTreeMap<String, u64>,
    bins: Bins,
    filled_bins: Vec<String>,
    changed_roles: Vec<String>,
    new_target: Option<String>,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
struct Bins {
    delegator: String,
    prefix: String,
    bit_length: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct Target {
    path: String,
    role: String,
    content: String,
    length: u64,
    hashes: BTreeMap<String, String>,
    stage: u32,
}

impl Manifest {
    fn time(&self) -> DateTime<Utc> {
        self.reference_time
            .parse()
            .expect("manifest reference_time")
    }

    fn target(&self, path: &str) -> &Target {
        self.targets
            .iter()
            .find(|t| t.path == path)
            .unwrap_or_else(|| panic!("{path} is not in the manifest"))
    }

    /// The bin a target path belongs to (TAP 15: the leading `bit_length` bits of the
    /// SHA-256 of the path), computed independently of both implementations.
    fn bin_for(&self, path: &str) -> String {
        let digest = sha256_hex(path.as_bytes());
        let lead = u32::from_str_radix(&digest[..8], 16).unwrap();
        let index = lead >> (32 - self.bins.bit_length);
        let width = format!("{:x}", (1u32 << self.bins.bit_length) - 1).len();
        format!("{}-{index:0width$x}", self.bins.prefix)
    }
}

/// A python-tuf repository in a temporary directory, and a client directory next to it.
struct PyRepo {
    tmp: TempDir,
}

impl PyRepo {
    /// Runs stage 1 of the script.
    fn new() -> PyRepo {
        let tmp = tempfile::tempdir().unwrap();
        let repo = PyRepo { tmp };
        run_python_script("peer_make_repo.py", &[repo.root().to_str().unwrap()]);
        repo
    }

    fn stage_two(&self) {
        let root = self.root().to_str().unwrap().to_string();
        run_python_script("peer_make_repo.py", &[&root, "--stage", "2"]);
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    fn manifest(&self) -> Manifest {
        let bytes = std::fs::read(self.root().join("manifest.json")).unwrap();
        serde_json::from_slice(&bytes).expect("manifest.json is malformed")
    }

    fn bootstrap(&self) -> Vec<u8> {
        std::fs::read(self.root().join(self.manifest().initial_root)).unwrap()
    }

    /// The client's metadata directory and target directory.
    fn client_dirs(&self, name: &str) -> (PathBuf, PathBuf) {
        let base = self.tmp.path().join(name);
        (base.join("metadata"), base.join("targets"))
    }

    fn http_updater(&self, server: &Server, metadata_dir: &Path) -> Updater {
        let config = Config::default().with_reference_time(self.manifest().time());
        Updater::builder(self.bootstrap(), &server.metadata_url(), metadata_dir)
            .targets_url(&server.targets_url())
            .config(config)
            .build()
            .unwrap()
    }
}

/// Finds and downloads `target`, checking the role, metadata and bytes against the
/// manifest; returns the downloaded file.
async fn fetch(updater: &mut Updater, expected: &Target, dest: &Path) -> PathBuf {
    let info = updater
        .target_info(&expected.path)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", expected.path));
    assert_eq!(info.role, expected.role, "{}: listing role", expected.path);
    assert_eq!(info.file.length, expected.length, "{}", expected.path);
    assert_eq!(info.file.hashes, expected.hashes, "{}", expected.path);
    let file = updater
        .download_target(&info, dest)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", expected.path));
    assert_eq!(file, dest.join(&expected.path));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        expected.content,
        "{}",
        expected.path
    );
    file
}

/// Where a target is requested from: `targets/dirs/SHA256.basename`.
fn target_request(t: &Target) -> String {
    format!(
        "targets/{}",
        consistent_target_path(&t.path, &t.hashes["sha256"])
    )
}

/// The files a client stores after loading these roles.
fn stored_names(roles: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = roles.iter().map(|r| format!("{r}.json")).collect();
    names.sort();
    names
}

#[tokio::test]
async fn python_tuf_repository_over_http() {
    let repo = PyRepo::new();
    let m = repo.manifest();
    assert_eq!((m.stage, m.root_version), (1, 2));
    let (server, _files) = serve_repository(&repo.root());
    let (meta_dir, dest) = repo.client_dirs("client");
    let mut updater = repo.http_updater(&server, &meta_dir);

    // Root v1 is expired at the reference time: only the final root must be valid (5.3.10).
    updater.refresh().await.unwrap();
    assert_eq!(
        server.take_requests(),
        [
            "metadata/2.root.json",
            "metadata/3.root.json",
            "metadata/timestamp.json",
            "metadata/1.snapshot.json",
            "metadata/1.targets.json",
        ]
    );
    let trusted = updater.trusted().unwrap();
    assert_eq!(trusted.root().version, 2);
    assert_eq!(
        std::fs::read(meta_dir.join("root.json")).unwrap(),
        std::fs::read(repo.root().join("metadata/2.root.json")).unwrap()
    );

    // Each delegation kind, with exactly the roles on its search path fetched once.
    let bin = m.bin_for("bins/file-00.txt");
    let cases: [(&str, Vec<String>); 5] = [
        ("hello.txt", vec![]),
        ("docs/guide/intro.md", vec![]),
        ("pkgs/a/b.tar.gz", vec!["metadata/1.pkgs.json".into()]),
        (
            "pkgs/nightly/build-7.tar.gz",
            vec!["metadata/1.pkgs.nightly.json".into()],
        ),
        (
            "bins/file-00.txt",
            vec![
                "metadata/1.hashed.json".into(),
                format!("metadata/1.{bin}.json"),
            ],
        ),
    ];
    for (path, roles) in cases {
        let t = m.target(path);
        fetch(&mut updater, t, &dest).await;
        let mut expected = roles;
        expected.push(target_request(t));
        assert_eq!(server.take_requests(), expected, "{path}");
    }
    // A role with threshold 2 (ed25519 + ecdsa signatures).
    let release = m.target("release/v2/app.bin");
    fetch(&mut updater, release, &dest).await;
    assert_eq!(
        server.take_requests(),
        [
            "metadata/1.release.v2.json".to_string(),
            target_request(release)
        ]
    );

    // Every other stage-1 target, from whichever bin TAP 15 assigns it to.
    for t in m.targets.iter().filter(|t| t.path.starts_with("bins/")) {
        assert_eq!(t.role, m.bin_for(&t.path), "bin of {}", t.path);
        fetch(&mut updater, t, &dest).await;
    }
    let mut listed: Vec<String> = m.targets.iter().map(|t| t.path.clone()).collect();
    listed.sort();
    assert_eq!(files_under(&dest), listed);

    // A path in the bins namespace that no bin lists: only its own bin is consulted, and
    // an empty bin is a valid answer (not found), not an error.
    let missing = (0..100)
        .map(|i| format!("bins/missing-{i}.txt"))
        .find(|p| !m.filled_bins.contains(&m.bin_for(p)))
        .unwrap();
    server.clear_requests();
    let err = updater.target_info(&missing).await.unwrap_err();
    assert!(
        matches!(&err, Error::TargetNotFound { failures, .. } if failures.is_empty()),
        "{err}"
    );
    assert_eq!(
        server.take_requests(),
        [format!("metadata/1.{}.json", m.bin_for(&missing))]
    );

    // The store holds the top-level roles and exactly the delegated roles that were loaded.
    let mut roles = vec![
        "root",
        "timestamp",
        "snapshot",
        "targets",
        "pkgs",
        "pkgs.nightly",
        "release.v2",
        m.bins.delegator.as_str(),
    ];
    let empty_bin = m.bin_for(&missing);
    roles.extend(m.filled_bins.iter().map(String::as_str));
    roles.push(&empty_bin);
    assert_eq!(files_under(&meta_dir), stored_names(&roles));
}

#[tokio::test]
async fn incremental_update_fetches_only_the_changed_bin() {
    let repo = PyRepo::new();
    let (server, files) = serve_repository(&repo.root());
    let (meta_dir, dest) = repo.client_dirs("client");
    let stage1 = repo.manifest();
    let mut updater = repo.http_updater(&server, &meta_dir);
    for t in &stage1.targets {
        fetch(&mut updater, t, &dest).await;
    }
    let before = files_under(&meta_dir);

    repo.stage_two();
    load_repository(&files, &repo.root());
    let m = repo.manifest();
    assert_eq!((m.stage, m.root_version), (2, 3));
    let new = m.target(m.new_target.as_deref().unwrap()).clone();
    assert_eq!(new.stage, 2);
    let bin = &m.changed_roles[0];
    assert_eq!(m.changed_roles.len(), 1);
    assert_eq!(&new.role, bin);
    assert_eq!(m.versions[bin.as_str()], 2);
    let snapshot_version = m.versions["snapshot"];

    // A new updater on the same metadata directory, as the next run of an application.
    server.clear_requests();
    let mut updater = repo.http_updater(&server, &meta_dir);
    updater.refresh().await.unwrap();
    fetch(&mut updater, &new, &dest).await;
    assert_eq!(
        server.take_requests(),
        [
            "metadata/3.root.json".to_string(),
            "metadata/4.root.json".to_string(),
            "metadata/timestamp.json".to_string(),
            format!("metadata/{snapshot_version}.snapshot.json"),
            format!("metadata/2.{bin}.json"),
            target_request(&new),
        ]
    );
    assert_eq!(updater.trusted().unwrap().root().version, 3);
    assert_eq!(
        std::fs::read(meta_dir.join("root.json")).unwrap(),
        std::fs::read(repo.root().join("metadata/3.root.json")).unwrap()
    );
    let stored_bin = tufkit_peers::read_json(&meta_dir.join(format!("{bin}.json")));
    assert_eq!(stored_bin["signed"]["version"], 2);
    // Same role files as before: the bin was replaced in place.
    assert_eq!(files_under(&meta_dir), before);

    // The stage-1 targets of the changed bin are still there, now from bin v2, and every
    // other target is served from stored metadata without a request for metadata.
    for t in &stage1.targets {
        fetch(&mut updater, t, &dest).await;
    }
    let requests = server.take_requests();
    assert!(
        requests.iter().all(|r| r.starts_with("targets/")),
        "{requests:?}"
    );

    // A client that never updated follows the whole root chain 1 -> 2 -> 3.
    let (fresh_meta, fresh_dest) = repo.client_dirs("fresh");
    let mut fresh = repo.http_updater(&server, &fresh_meta);
    fetch(&mut fresh, &new, &fresh_dest).await;
    let requests = server.take_requests();
    assert_eq!(
        requests[..4],
        [
            "metadata/2.root.json",
            "metadata/3.root.json",
            "metadata/4.root.json",
            "metadata/timestamp.json"
        ]
    );
}

#[tokio::test]
async fn python_tuf_repository_over_file_urls() {
    let repo = PyRepo::new();
    let m = repo.manifest();
    let base = file_url(&repo.root());
    let (meta_dir, dest) = repo.client_dirs("client");
    // The default transport handles file:// URLs.
    let mut updater = Updater::builder(repo.bootstrap(), &format!("{base}metadata/"), &meta_dir)
        .targets_url(&format!("{base}targets/"))
        .config(Config::default().with_reference_time(m.time()))
        .build()
        .unwrap();
    updater.refresh().await.unwrap();
    assert_eq!(updater.trusted().unwrap().root().version, 2);
    for path in [
        "hello.txt",
        "pkgs/nightly/build-7.tar.gz",
        "release/v2/app.bin",
        "bins/file-07.txt",
    ] {
        fetch(&mut updater, m.target(path), &dest).await;
    }
    let bin = m.bin_for("bins/file-07.txt");
    assert_eq!(
        files_under(&meta_dir),
        stored_names(&[
            "root",
            "timestamp",
            "snapshot",
            "targets",
            "pkgs",
            "pkgs.nightly",
            "release.v2",
            "hashed",
            &bin
        ])
    );
}

#[tokio::test]
async fn tampered_files_on_disk_are_rejected_and_leave_nothing() {
    let repo = PyRepo::new();
    let m = repo.manifest();
    let base = file_url(&repo.root());
    let (meta_dir, dest) = repo.client_dirs("client");
    let mut updater = Updater::builder(repo.bootstrap(), &format!("{base}metadata/"), &meta_dir)
        .targets_url(&format!("{base}targets/"))
        .config(Config::default().with_reference_time(m.time()))
        .build()
        .unwrap();
    updater.refresh().await.unwrap();

    // Same length, one byte changed: the hash check fails (5.7.3).
    let t = m.target("pkgs/a/b.tar.gz");
    let served = repo
        .root()
        .join("targets")
        .join(consistent_target_path(&t.path, &t.hashes["sha256"]));
    let mut bytes = std::fs::read(&served).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&served, &bytes).unwrap();
    let info = updater.target_info(&t.path).await.unwrap();
    let err = updater.download_target(&info, &dest).await.unwrap_err();
    assert!(matches!(err, Error::TargetVerification { .. }), "{err}");
    assert_eq!(entries_under(&dest), Vec::<String>::new(), "left behind");

    // One byte longer than listed: the length check fails without reading past it.
    bytes[0] ^= 0x20;
    bytes.push(b'!');
    std::fs::write(&served, &bytes).unwrap();
    let err = updater.download_target(&info, &dest).await.unwrap_err();
    assert!(matches!(err, Error::TargetVerification { .. }), "{err}");
    assert_eq!(entries_under(&dest), Vec::<String>::new(), "left behind");

    // Restored, it downloads.
    bytes.pop();
    std::fs::write(&served, &bytes).unwrap();
    fetch(&mut updater, t, &dest).await;

    // A bin whose listed length was edited without re-signing: python-tuf's ecdsa
    // signature no longer verifies, so the bin is skipped and its target is not found.
    let bin = m.bin_for("bins/file-05.txt");
    let bin_file = repo.root().join(format!("metadata/1.{bin}.json"));
    let text = std::fs::read_to_string(&bin_file).unwrap();
    let old = format!("\"length\": {}", m.target("bins/file-05.txt").length);
    assert!(text.contains(&old), "{text}");
    std::fs::write(&bin_file, text.replacen(&old, "\"length\": 1", 1)).unwrap();
    let err = updater.target_info("bins/file-05.txt").await.unwrap_err();
    match &err {
        Error::TargetNotFound { failures, .. } => {
            assert_eq!(failures.len(), 1, "{err}");
            assert_eq!(failures[0].0, bin, "{err}");
        }
        other => panic!("expected TargetNotFound, got {other}"),
    }
    assert!(!meta_dir.join(format!("{bin}.json")).exists());
}

/// The manifest and the files it names agree (guards the fixtures the tests rely on).
#[test]
fn stage_one_publishes_every_listed_target_under_each_hash() {
    let repo = PyRepo::new();
    let m = repo.manifest();
    let served = files_under(&repo.root().join("targets"));
    let mut expected: Vec<String> = m
        .targets
        .iter()
        .flat_map(|t| {
            t.hashes
                .values()
                .map(|h| consistent_target_path(&t.path, h))
        })
        .collect();
    expected.sort();
    assert_eq!(served, expected);
    assert!(m.filled_bins.len() >= 4, "{:?}", m.filled_bins);
    assert!(m.targets.iter().any(|t| t.hashes.contains_key("sha512")));
}
