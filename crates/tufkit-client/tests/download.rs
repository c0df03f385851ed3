//! Target downloads (spec 5.7): URLs, streaming verification, nothing unverified on disk,
//! the local cache, and the `file://` transport.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Env;
use serde_json::Map;
use tufkit_client::{Error, Updater};
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::metadata::TargetFile;
use tufkit_testkit::Misbehaviour;

fn sha256(data: &[u8]) -> String {
    HashAlgorithm::Sha256.hex_digest(data)
}

/// Artifact requests since the last call.
fn artifact_requests(env: &Env) -> Vec<String> {
    env.requests()
        .into_iter()
        .filter(|r| r.starts_with("targets/"))
        .collect()
}

#[tokio::test]
async fn downloads_are_verified_and_stored_at_their_target_path() {
    let mut env = Env::new();
    env.sim
        .add_target("targets", "path/to/a/file.txt", "hello world");
    env.sim.publish();
    let mut updater = env.updater();
    let info = updater.target_info("path/to/a/file.txt").await.unwrap();
    assert_eq!(info.role, "targets");
    env.server.clear_requests();
    let file = updater
        .download_target(&info, &env.target_dir())
        .await
        .unwrap();
    assert_eq!(file, env.target_dir().join("path/to/a/file.txt"));
    assert_eq!(std::fs::read(&file).unwrap(), b"hello world");
    assert_eq!(
        artifact_requests(&env),
        [format!(
            "targets/path/to/a/{}.file.txt",
            sha256(b"hello world")
        )]
    );
    assert_eq!(env.target_files(), ["path/to/a/file.txt"]);
}

#[tokio::test]
async fn without_consistent_snapshots_the_plain_path_is_requested() {
    let mut env = Env::new();
    env.sim.set_consistent_snapshot(false);
    env.sim.add_target("targets", "dir/file.txt", "plain");
    env.sim.publish();
    let mut updater = env.updater();
    let info = updater.target_info("dir/file.txt").await.unwrap();
    env.server.clear_requests();
    updater
        .download_target(&info, &env.target_dir())
        .await
        .unwrap();
    assert_eq!(artifact_requests(&env), ["targets/dir/file.txt"]);
}

#[tokio::test]
async fn every_listed_hash_is_checked_and_one_names_the_file() {
    let cases: &[(&[HashAlgorithm], HashAlgorithm)] = &[
        (&[HashAlgorithm::Sha512], HashAlgorithm::Sha512),
        (
            &[HashAlgorithm::Sha256, HashAlgorithm::Sha512],
            HashAlgorithm::Sha256,
        ),
    ];
    for (algorithms, prefix) in cases {
        let mut env = Env::new();
        env.sim.set_target_hash_algorithms(algorithms);
        env.sim.add_target("targets", "f", "content");
        env.sim.publish();
        let mut updater = env.updater();
        let info = updater.target_info("f").await.unwrap();
        env.server.clear_requests();
        updater
            .download_target(&info, &env.target_dir())
            .await
            .unwrap();
        assert_eq!(
            artifact_requests(&env),
            [format!("targets/{}.f", prefix.hex_digest(b"content"))]
        );
        // The same length, the right sha256 but a wrong sha512 is refused.
        if algorithms.len() == 2 {
            let mut bad = info.clone();
            bad.file
                .hashes
                .insert("sha512".into(), HashAlgorithm::Sha512.hex_digest(b"other"));
            let err = updater
                .download_target(&bad, &env.dir.path().join("other"))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("sha512 hash mismatch"), "{err}");
            assert!(!env.dir.path().join("other").exists());
        }
    }
}

#[tokio::test]
async fn malicious_content_leaves_nothing_on_disk() {
    let contents: [&[u8]; 3] = [b"HELLO WORLD", b"hello world, and more", b"hello"];
    for bad in contents {
        let mut env = Env::new();
        env.sim.add_target("targets", "a/b/file.txt", "hello world");
        env.sim.publish();
        env.sim.serve_target("targets", "a/b/file.txt", bad);
        let mut updater = env.updater();
        let info = updater.target_info("a/b/file.txt").await.unwrap();
        let err = updater
            .download_target(&info, &env.target_dir())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TargetVerification { .. }), "{err}");
        assert!(env.target_files().is_empty(), "{:?}", env.target_files());
        // Directories made for the target are removed again.
        assert!(!env.target_dir().join("a").exists());
    }
}

#[tokio::test]
async fn endless_or_broken_target_responses_fail_cleanly() {
    let mut env = Env::new();
    env.sim.add_target("targets", "big", vec![7u8; 100_000]);
    env.sim.publish();
    let mut updater = env.updater();
    let info = updater.target_info("big").await.unwrap();
    let url_path = format!("targets/{}.big", sha256(&[7u8; 100_000]));
    let tdir = env.target_dir();
    std::fs::create_dir_all(&tdir).unwrap();
    for how in [
        Misbehaviour::EndlessBody,
        Misbehaviour::WrongContentLength(200_000),
        Misbehaviour::WrongContentLength(10),
        Misbehaviour::Status(404),
        Misbehaviour::Status(500),
    ] {
        env.server.misbehave(&url_path, how.clone());
        let err = updater.download_target(&info, &tdir).await.unwrap_err();
        assert!(!err.to_string().is_empty());
        assert!(common::list_files(&tdir).is_empty(), "{how:?}");
    }
    env.server.misbehave(
        &url_path,
        Misbehaviour::SlowBody {
            chunk: 40_000,
            delay: std::time::Duration::from_millis(5),
        },
    );
    updater.download_target(&info, &tdir).await.unwrap();
    assert_eq!(common::list_files(&tdir), ["big"]);
}

#[tokio::test]
async fn a_failed_download_never_touches_the_good_file_already_there() {
    let mut env = Env::new();
    env.sim.add_target("targets", "app", "version 1");
    env.sim.publish();
    let mut updater = env.updater();
    let info = updater.target_info("app").await.unwrap();
    let file = updater.get_target(&info, &env.target_dir()).await.unwrap();
    // The repository lists new content but serves something else.
    env.sim.add_target("targets", "app", "version 2");
    env.sim.publish();
    env.sim.serve_target("targets", "app", "version X");
    let mut updater = env.updater();
    let info = updater.target_info("app").await.unwrap();
    assert!(updater.get_target(&info, &env.target_dir()).await.is_err());
    assert_eq!(std::fs::read(&file).unwrap(), b"version 1");
    assert_eq!(env.target_files(), ["app"]);
    // Once the right bytes are served, the same file is replaced.
    env.sim.serve_target("targets", "app", "version 2");
    let again = updater.get_target(&info, &env.target_dir()).await.unwrap();
    assert_eq!(again, file);
    assert_eq!(std::fs::read(&file).unwrap(), b"version 2");
}

#[tokio::test]
async fn a_cached_target_that_still_matches_is_not_downloaded_or_rewritten() {
    let mut env = Env::new();
    env.sim.add_target("targets", "t.bin", "cached bytes");
    env.sim.publish();
    let mut updater = env.updater();
    let info = updater.target_info("t.bin").await.unwrap();
    let tdir = env.target_dir();
    assert_eq!(updater.cached_target(&info, &tdir).await.unwrap(), None);
    let file = updater.get_target(&info, &tdir).await.unwrap();
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    env.server.clear_requests();
    assert_eq!(
        updater.cached_target(&info, &tdir).await.unwrap(),
        Some(file.clone())
    );
    updater.get_target(&info, &tdir).await.unwrap();
    assert!(env.server.requests().is_empty());
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified
    );
    // A local copy that no longer matches is not a cache hit.
    std::fs::write(&file, "cached bytez").unwrap();
    assert_eq!(updater.cached_target(&info, &tdir).await.unwrap(), None);
    updater.get_target(&info, &tdir).await.unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"cached bytes");
}

fn unverifiable_target(env: &mut Env, path: &str) {
    let info = TargetFile {
        length: 4,
        hashes: BTreeMap::from([(
            "unknown-hash".to_string(),
            HashAlgorithm::Sha512.hex_digest(b"data"),
        )]),
        custom: None,
        unknown: Map::new(),
    };
    env.sim.targets_mut().targets.insert(path.to_string(), info);
}

#[tokio::test]
async fn unknown_hash_algorithms_and_unsafe_paths_fail_before_any_request() {
    let mut env = Env::new();
    unverifiable_target(&mut env, "unknown");
    for path in ["../evil", "a/../../evil", "/abs", "a//b", "a\\b", "."] {
        unverifiable_target(&mut env, path);
    }
    env.sim.publish();
    let mut updater = env.updater();
    updater.refresh().await.unwrap();
    let tdir = env.target_dir();
    let info = updater.target_info("unknown").await.unwrap();
    env.server.clear_requests();
    let err = updater.download_target(&info, &tdir).await.unwrap_err();
    assert!(
        err.to_string().contains("unsupported hash algorithm"),
        "{err}"
    );
    for path in ["../evil", "a/../../evil", "/abs", "a//b", "a\\b", "."] {
        let info = updater.target_info(path).await.unwrap();
        let err = updater.download_target(&info, &tdir).await.unwrap_err();
        assert!(
            matches!(err, Error::UnsafeTargetPath { .. }),
            "{path}: {err}"
        );
        assert!(matches!(
            updater.cached_target(&info, &tdir).await,
            Err(Error::UnsafeTargetPath { .. })
        ));
    }
    assert!(env.server.requests().is_empty());
    assert_eq!(common::list_files(env.dir.path()), ["metadata"]);
}

/// Writes the simulator's served files under `root`, with the decoded names a static web
/// server would map the request paths to.
fn mirror(env: &Env, root: &Path) {
    let files = env.sim.files();
    for (path, bytes) in files.read().unwrap().iter() {
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .unwrap()
            .to_string();
        let dest = root.join(decoded);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
}

#[tokio::test]
async fn file_urls_serve_air_gapped_mirrors() {
    let mut env = Env::new();
    env.sim
        .add_delegation("targets", "team/x?", &["team/*"], false);
    env.sim.add_target("team/x?", "team/tool", "tool bytes");
    env.sim.publish();
    let mirror_root = env.dir.path().join("mirror dir");
    mirror(&env, &mirror_root);
    let base = format!("file://{}/", mirror_root.display()).replace(' ', "%20");
    let meta_dir = env.dir.path().join("file-meta");
    let mut updater = Updater::builder(
        env.bootstrap.clone(),
        &format!("{base}metadata/"),
        &meta_dir,
    )
    .targets_url(&format!("{base}targets"))
    .config(tufkit_client::Config::default().with_reference_time(env.now()))
    .build()
    .unwrap();
    updater.refresh().await.unwrap();
    let info = updater.target_info("team/tool").await.unwrap();
    assert_eq!(info.role, "team/x?");
    let file = updater.get_target(&info, &env.target_dir()).await.unwrap();
    assert_eq!(std::fs::read(file).unwrap(), b"tool bytes");
    let mut stored = common::list_files(&meta_dir);
    stored.sort();
    assert_eq!(
        stored,
        [
            "root.json",
            "snapshot.json",
            "targets.json",
            "team%2Fx%3F.json",
            "timestamp.json"
        ]
    );
    assert!(env.server.requests().is_empty());
}
