//! `tufkit fetch` end to end with `file://` URLs: a real-world repository (tuf-on-ci)
//! at its reference time, the per-URL default cache, and failures with one-line reasons.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TUFKIT: &str = env!("CARGO_BIN_EXE_tufkit");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/real-world/tuf-on-ci-0.11")
        .canonicalize()
        .unwrap()
}

fn fetch(cache: Option<&Path>, out: &Path, xdg: &Path, targets: &[&str]) -> Output {
    let base = format!("file://{}/", repo().display());
    let mut cmd = Command::new(TUFKIT);
    cmd.env("TUFKIT_NOW", "2025-02-09T09:17:23Z")
        .env("XDG_CACHE_HOME", xdg)
        .arg("fetch")
        .arg("--root")
        .arg(repo().join("initial_root.json"))
        .arg("--metadata-url")
        .arg(format!("{base}metadata/"))
        .arg("--targets-url")
        .arg(format!("{base}targets/"))
        .arg("--out")
        .arg(out);
    if let Some(c) = cache {
        cmd.arg("--cache").arg(c);
    }
    cmd.args(targets);
    let output = cmd.output().unwrap();
    eprintln!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn fetch_verifies_targets_and_reports_path_length_hash_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let xdg = dir.path().join("xdg");
    let output = fetch(None, &out, &xdg, &["delegatedrole/artifact"]);
    assert!(output.status.success());
    let content = std::fs::read(out.join("delegatedrole/artifact")).unwrap();
    let sha = tufkit_core::crypto::hash::sha256_hex(&content);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!(
            "delegatedrole/artifact\t{}\tsha256:{sha}\tdelegatedrole\n",
            content.len()
        )
    );
    // The default cache is keyed by the metadata URL under XDG_CACHE_HOME.
    let caches: Vec<_> = std::fs::read_dir(xdg.join("tufkit")).unwrap().collect();
    assert_eq!(caches.len(), 1);
    let cache = caches.into_iter().next().unwrap().unwrap().path();
    assert!(cache.join("delegatedrole.json").is_file());
    assert!(cache.join("timestamp.json").is_file());
}

#[test]
fn fetch_fails_with_a_one_line_reason_when_a_target_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cache = dir.path().join("cache");
    let output = fetch(
        Some(&cache),
        &out,
        dir.path(),
        &["delegatedrole/artifact", "delegatedrole/missing"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("delegatedrole/missing"), "{stderr}");
    // The target that verified is still delivered.
    assert!(out.join("delegatedrole/artifact").is_file());
    assert!(!out.join("delegatedrole/missing").exists());
}

#[test]
fn fetch_refuses_metadata_expired_at_the_reference_time() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("file://{}/", repo().display());
    let output = Command::new(TUFKIT)
        .env("TUFKIT_NOW", "2100-01-01T00:00:00Z")
        .args(["fetch", "--root"])
        .arg(repo().join("initial_root.json"))
        .args(["--metadata-url", &format!("{base}metadata/")])
        .args(["--targets-url", &format!("{base}targets/")])
        .arg("--cache")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("delegatedrole/artifact")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("expired"), "{stderr}");
    assert!(!dir.path().join("out").exists());
}
