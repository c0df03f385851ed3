//! Repositories published by other TUF implementations (tests/data/real-world), served
//! over loopback HTTP and read through `file://`, at the reference time they were valid.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tufkit_client::{Config, Updater};
use tufkit_testkit::{Server, SharedFiles};

fn data(repo: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/real-world")
        .join(repo)
}

impl Case {
    fn time(&self) -> DateTime<Utc> {
        let (y, mo, d, h, mi, s) = self.time;
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }
}

/// Every file under `dir`, keyed by its path relative to `root` ('/'-separated).
fn collect(root: &Path, dir: &Path, files: &SharedFiles) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let key = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            files
                .write()
                .unwrap()
                .insert(key, std::fs::read(&path).unwrap());
        }
    }
}

struct Case {
    repo: &'static str,
    /// The reference time (UTC) at which the metadata was valid.
    time: (i32, u32, u32, u32, u32, u32),
    target: &'static str,
    role: &'static str,
    requests: &'static [&'static str],
}

const CASES: [Case; 2] = [
    Case {
        repo: "tuf-on-ci-0.11",
        time: (2025, 2, 9, 9, 17, 23),
        target: "delegatedrole/artifact",
        role: "delegatedrole",
        requests: &[
            "metadata/2.root.json",
            "metadata/timestamp.json",
            "metadata/2.snapshot.json",
            "metadata/1.targets.json",
            "metadata/2.delegatedrole.json",
        ],
    },
    Case {
        repo: "sigstore-root-signing",
        time: (2025, 2, 9, 12, 2, 8),
        target: "trusted_root.json",
        role: "targets",
        requests: &[
            "metadata/13.root.json",
            "metadata/timestamp.json",
            "metadata/159.snapshot.json",
            "metadata/11.targets.json",
        ],
    },
];

async fn fetch_target(updater: &mut Updater, case: &Case, out: &Path) -> Vec<u8> {
    updater.refresh().await.unwrap();
    let info = updater.target_info(case.target).await.unwrap();
    assert_eq!(info.role, case.role);
    let file = updater.get_target(&info, out).await.unwrap();
    std::fs::read(file).unwrap()
}

#[tokio::test]
async fn real_world_repositories_over_http() {
    for case in &CASES {
        let root = data(case.repo);
        let files = SharedFiles::default();
        collect(&root, &root.join("metadata"), &files);
        collect(&root, &root.join("targets"), &files);
        let server = Server::start(files);
        let dir = tempfile::tempdir().unwrap();
        let time = case.time();
        let bootstrap = std::fs::read(root.join("initial_root.json")).unwrap();
        let mut updater = Updater::builder(bootstrap, &server.metadata_url(), dir.path().join("m"))
            .targets_url(&server.targets_url())
            .config(Config::default().with_reference_time(time))
            .build()
            .unwrap();
        let bytes = fetch_target(&mut updater, case, &dir.path().join("t")).await;
        let requests = server.take_requests();
        assert_eq!(
            requests[..case.requests.len()],
            case.requests[..],
            "{}",
            case.repo
        );
        assert_eq!(requests.len(), case.requests.len() + 1, "{requests:?}");
        let sha = tufkit_core::crypto::hash::sha256_hex(&bytes);
        assert!(requests.last().unwrap().contains(&sha), "{requests:?}");
        // A second run reuses everything: root probe and timestamp only.
        let mut again = Updater::builder(Vec::new(), &server.metadata_url(), dir.path().join("m"))
            .config(Config::default().with_reference_time(time))
            .build()
            .unwrap();
        again.refresh().await.unwrap();
        assert_eq!(server.take_requests(), case.requests[..2]);
    }
}

#[tokio::test]
async fn real_world_repositories_over_file_urls() {
    for case in &CASES {
        let root = data(case.repo);
        let base = format!("file://{}/", root.canonicalize().unwrap().display());
        let dir = tempfile::tempdir().unwrap();
        let bootstrap = std::fs::read(root.join("initial_root.json")).unwrap();
        let mut updater =
            Updater::builder(bootstrap, &format!("{base}metadata/"), dir.path().join("m"))
                .targets_url(&format!("{base}targets/"))
                .config(Config::default().with_reference_time(case.time()))
                .transport(Arc::new(tufkit_client::FileTransport))
                .build()
                .unwrap();
        let bytes = fetch_target(&mut updater, case, dir.path()).await;
        assert!(!bytes.is_empty());
    }
}
