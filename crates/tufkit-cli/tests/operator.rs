//! The operator commands driven end to end, as a user runs them.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const T0: &str = "2030-01-01T00:00:00Z";

fn tufkit(now: &str) -> Command {
    let mut c = Command::cargo_bin("tufkit").unwrap();
    c.env("TUFKIT_NOW", now);
    c
}

fn run(now: &str, args: &[&str]) -> String {
    let out = tufkit(now).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "tufkit {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn fail(now: &str, args: &[&str]) -> (i32, String) {
    let out = tufkit(now).args(args).output().unwrap();
    assert!(!out.status.success(), "tufkit {args:?} should fail");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn ts_version(repo: &Path) -> u64 {
    json(&repo.join("repository/metadata/timestamp.json"))["signed"]["version"]
        .as_u64()
        .unwrap()
}

fn init(dir: &Path, extra: &[&str]) -> PathBuf {
    let repo = dir.join("repo");
    let mut args = vec!["init", repo.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(T0, &args);
    assert!(out.contains("repository/metadata/1.root.json"), "{out}");
    assert!(
        out.contains("offline"),
        "next steps mention offline root keys: {out}"
    );
    repo
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn init_add_publish_status_verify() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &["--root-keys", "2", "--root-threshold", "2"]);
    for f in [
        "tufkit.toml",
        ".gitignore",
        "README.md",
        "repository/metadata/1.root.json",
    ] {
        assert!(repo.join(f).exists(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for e in std::fs::read_dir(repo.join("keys")).unwrap() {
            let mode = e.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    let root = json(&repo.join("repository/metadata/1.root.json"));
    assert_eq!(root["signed"]["roles"]["root"]["threshold"], 2);
    assert_eq!(root["signatures"].as_array().unwrap().len(), 2);

    std::fs::write(dir.path().join("app.tgz"), b"app v1").unwrap();
    let out = run(
        T0,
        &[
            "add",
            s(&repo),
            s(&dir.path().join("app.tgz")),
            "--as",
            "apps/app.tgz",
            "--custom",
            "release=1",
        ],
    );
    assert!(out.contains("Staged apps/app.tgz"), "{out}");
    let status: Value = serde_json::from_str(&run(T0, &["status", s(&repo), "--json"])).unwrap();
    let targets = status["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "targets")
        .unwrap();
    assert!(targets["staged"]
        .as_str()
        .unwrap()
        .contains("1 target(s) added"));

    let out = run(T0, &["publish", s(&repo)]);
    assert!(out.contains("Published targets v2"), "{out}");
    let t2 = json(&repo.join("repository/metadata/2.targets.json"));
    let entry = &t2["signed"]["targets"]["apps/app.tgz"];
    assert_eq!(entry["length"], 6);
    assert_eq!(entry["custom"]["release"], 1);
    assert!(entry["hashes"]["sha256"].is_string() && entry["hashes"]["sha512"].is_string());
    let sha = entry["hashes"]["sha256"].as_str().unwrap();
    assert!(repo
        .join(format!("repository/targets/apps/{sha}.app.tgz"))
        .exists());

    let out = run(T0, &["verify", s(&repo)]);
    assert!(out.contains("Target files checked: 1"), "{out}");
    let status: Value = serde_json::from_str(&run(T0, &["status", s(&repo), "--json"])).unwrap();
    for r in status["roles"].as_array().unwrap() {
        assert_eq!(r["threshold_met"], true, "{r}");
    }
    // Human status mentions the online root keys.
    assert!(run(T0, &["status", s(&repo)]).contains("move them to offline storage"));

    // Removing a target.
    run(T0, &["remove", s(&repo), "apps/app.tgz"]);
    run(T0, &["publish", s(&repo)]);
    let t3 = json(&repo.join("repository/metadata/3.targets.json"));
    assert!(t3["signed"]["targets"].as_object().unwrap().is_empty());
    run(T0, &["verify", s(&repo)]);
}

#[test]
fn key_generate_and_public() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let out = run(
        T0,
        &["key", "generate", "--type", "ecdsa", "--out", s(&key)],
    );
    let keyid = out
        .lines()
        .find_map(|l| l.strip_prefix("keyid: "))
        .unwrap()
        .to_string();
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let pubfile = dir.path().join("k.pub.json");
    let out = run(T0, &["key", "public", s(&key), "--out", s(&pubfile)]);
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["keytype"], "ecdsa");
    assert_eq!(printed["scheme"], "ecdsa-sha2-nistp256");
    assert_eq!(json(&pubfile), printed);
    // The keyid is the hash of the key JSON, the same from the public file.
    let again = run(T0, &["key", "public", s(&pubfile)]);
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap(), printed);
    assert_eq!(keyid.len(), 64);
    let (_, err) = fail(
        T0,
        &["key", "generate", "--type", "ecdsa", "--out", s(&key)],
    );
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn timestamp_and_snapshot_for_cron() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &[]);
    let out = run(T0, &["timestamp", s(&repo), "--if-expiring-within", "6h"]);
    assert!(out.contains("nothing to do"), "{out}");
    assert_eq!(ts_version(&repo), 1);
    run(T0, &["timestamp", s(&repo)]);
    assert_eq!(ts_version(&repo), 2);
    let later = "2030-01-01T20:00:00Z";
    let out = run(
        later,
        &["timestamp", s(&repo), "--if-expiring-within", "6h"],
    );
    assert!(out.contains("Published timestamp v3"), "{out}");
    let out = run(later, &["snapshot", s(&repo)]);
    assert!(
        out.contains("Published snapshot v2") && out.contains("Published timestamp v4"),
        "{out}"
    );
    let (_, err) = fail(T0, &["timestamp", s(&repo), "--if-expiring-within", "soon"]);
    assert!(
        err.contains("30d"),
        "duration errors show the accepted forms: {err}"
    );
}

#[test]
fn expired_timestamp_fails_verify_until_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &[]);
    let late = "2030-01-03T00:00:00Z";
    let (_, out) = fail(late, &["verify", s(&repo)]);
    assert!(
        out.contains("timestamp") && out.contains("expired"),
        "{out}"
    );
    let status = run(late, &["status", s(&repo)]);
    assert!(status.contains("timestamp: EXPIRED"), "{status}");
    run(late, &["timestamp", s(&repo)]);
    run(late, &["verify", s(&repo)]);
}

#[test]
fn offline_root_ceremony_with_two_key_holders() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &["--root-keys", "2", "--root-threshold", "2"]);
    // The root keys go offline.
    let offline = dir.path().join("offline");
    std::fs::create_dir(&offline).unwrap();
    let mut root_keys = Vec::new();
    for e in std::fs::read_dir(repo.join("keys")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("root-")
        {
            let dest = offline.join(p.file_name().unwrap());
            std::fs::rename(&p, &dest).unwrap();
            root_keys.push(dest);
        }
    }
    let root1 = json(&repo.join("repository/metadata/1.root.json"));
    let old_targets = root1["signed"]["roles"]["targets"]["keyids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let new_key = repo.join("keys/targets-new.pem");
    run(T0, &["key", "generate", "--out", s(&new_key)]);
    run(
        T0,
        &[
            "root",
            "add-key",
            s(&repo),
            "--role",
            "targets",
            s(&new_key),
        ],
    );
    run(
        T0,
        &[
            "root",
            "remove-key",
            s(&repo),
            "--role",
            "targets",
            &old_targets,
        ],
    );
    run(T0, &["root", "expire", s(&repo), "--in", "200d"]);
    let (_, out) = fail(T0, &["root", "publish", s(&repo)]);
    assert!(out.contains("tufkit sign") && out.contains("0/2"), "{out}");
    let staged = repo.join("staged/root.json");
    run(T0, &["sign", s(&staged), "--key", s(&root_keys[1])]);
    let status = run(T0, &["status", s(&repo)]);
    assert!(
        status.contains("1/2 signatures from current root keys"),
        "{status}"
    );
    run(T0, &["sign", s(&staged), "--key", s(&root_keys[0])]);
    let out = run(T0, &["root", "publish", s(&repo)]);
    assert!(
        out.contains("Published root v2") && out.contains("Published targets v2"),
        "{out}"
    );
    let root2 = json(&repo.join("repository/metadata/2.root.json"));
    assert_eq!(root2["signed"]["expires"], "2030-07-20T00:00:00Z");
    assert_eq!(
        root2["signed"]["roles"]["targets"]["keyids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_ne!(
        root2["signed"]["roles"]["targets"]["keyids"][0],
        old_targets.as_str()
    );
    assert!(!staged.exists());
    let out = run(T0, &["verify", s(&repo)]);
    assert!(out.contains("v1 -> v2"), "{out}");
}

#[test]
fn delegation_pending_signatures_and_revocation_of_the_delegation() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &[]);
    let bob = dir.path().join("bob.pem");
    run(T0, &["key", "generate", "--out", s(&bob)]);
    let bob_pub = dir.path().join("bob.pub.json");
    run(T0, &["key", "public", s(&bob), "--out", s(&bob_pub)]);
    run(
        T0,
        &[
            "delegate",
            s(&repo),
            "--to",
            "bob",
            "--key",
            s(&bob_pub),
            "--paths",
            "bob/*",
            "--terminating",
        ],
    );
    std::fs::write(dir.path().join("tool"), b"bob's tool").unwrap();
    let out = run(
        T0,
        &[
            "add",
            s(&repo),
            s(&dir.path().join("tool")),
            "--as",
            "bob/tool",
        ],
    );
    assert!(out.contains("in bob"), "{out}");
    let (_, out) = fail(
        T0,
        &[
            "add",
            s(&repo),
            s(&dir.path().join("tool")),
            "--as",
            "elsewhere/tool",
            "--role",
            "bob",
        ],
    );
    assert!(out.contains("outside the paths delegated to bob"), "{out}");

    // Bob's key is not on this machine: publish stops and says who must sign.
    let (code, out) = fail(T0, &["publish", s(&repo)]);
    assert_eq!(code, 2);
    assert!(
        out.contains("bob: 0/1") && out.contains("tufkit sign"),
        "{out}"
    );
    assert_eq!(ts_version(&repo), 1);
    run(
        T0,
        &[
            "sign",
            s(&repo.join("staged/roles/bob.json")),
            "--key",
            s(&bob),
        ],
    );
    let out = run(T0, &["publish", s(&repo)]);
    assert!(out.contains("Published bob v1"), "{out}");
    let out = run(T0, &["verify", s(&repo)]);
    assert!(
        out.contains("bob v1: ok") && out.contains("Target files checked: 1"),
        "{out}"
    );

    run(T0, &["delegate", s(&repo), "--revoke", "bob"]);
    run(T0, &["publish", s(&repo)]);
    let out = run(T0, &["verify", s(&repo)]);
    assert!(out.contains("no longer delegated"), "{out}");
}

#[test]
fn succinct_hashed_bins() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &[]);
    let key = repo.join("keys/bins.pem");
    run(T0, &["key", "generate", "--out", s(&key)]);
    let out = run(
        T0,
        &[
            "delegate",
            s(&repo),
            "--succinct-bins",
            "2",
            "--key",
            s(&key),
        ],
    );
    assert!(out.contains("4 hashed bins bins-0 .. bins-3"), "{out}");
    let mut files = Vec::new();
    for i in 0..6 {
        let f = dir.path().join(format!("f{i}.txt"));
        std::fs::write(&f, format!("file {i}")).unwrap();
        files.push(f);
    }
    let mut args = vec!["add", s(&repo)];
    args.extend(files.iter().map(|f| s(f)));
    args.extend(["--as", "pkgs/"]);
    run(T0, &args);
    run(T0, &["publish", s(&repo)]);
    let targets = json(&repo.join("repository/metadata/2.targets.json"));
    assert_eq!(
        targets["signed"]["delegations"]["succinct_roles"]["bit_length"],
        2
    );
    let mut listed = 0;
    for b in 0..4 {
        let bin = json(&repo.join(format!("repository/metadata/1.bins-{b}.json")));
        listed += bin["signed"]["targets"].as_object().unwrap().len();
    }
    assert_eq!(listed, 6);
    let out = run(T0, &["verify", s(&repo)]);
    assert!(out.contains("Target files checked: 6"), "{out}");
}

#[test]
fn bulk_adds_from_a_folder_and_from_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &[]);
    let key = repo.join("keys/bins.pem");
    run(T0, &["key", "generate", "--out", s(&key)]);
    run(
        T0,
        &[
            "delegate",
            s(&repo),
            "--succinct-bins",
            "3",
            "--key",
            s(&key),
        ],
    );
    run(T0, &["publish", s(&repo)]);
    let src = dir.path().join("dist");
    std::fs::create_dir_all(src.join("app/v1")).unwrap();
    std::fs::write(src.join("app/v1/app.tgz"), b"app one").unwrap();
    std::fs::write(src.join("readme.txt"), b"readme").unwrap();
    std::fs::write(src.join(".DS_Store"), b"junk").unwrap();
    let out = tufkit(T0)
        .args(["add", s(&repo), "--from-dir", s(&src), "--prefix", "rel"])
        .args(["--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Staged rel/app/v1/app.tgz"), "{stdout}");
    assert!(stdout.contains("Staged rel/readme.txt"), "{stdout}");
    assert!(
        !stdout.contains("DS_Store"),
        "hidden files are skipped: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 hidden name(s)"), "{stderr}");
    assert!(!stderr.contains(".. "), "--quiet: no progress: {stderr}");

    let sha = |s: &str| tufkit_core::crypto::hash::sha256_hex(s.as_bytes());
    let manifest = dir.path().join("hosted.jsonl");
    std::fs::write(
        &manifest,
        format!(
            "{{\"path\":\"ext/lib-1.0.tgz\",\"length\":10,\"hashes\":{{\"sha256\":\"{}\"}}}}\n{{\"path\":\"ext/bad.tgz\",\"length\":\"ten\",\"hashes\":{{}}}}\n",
            sha("lib")
        ),
    )
    .unwrap();
    let (_, out) = fail(T0, &["add", s(&repo), "--manifest", s(&manifest)]);
    assert!(
        out.contains("line 2:") && out.contains("nothing was staged"),
        "{out}"
    );
    assert!(!out.contains("line 1:"), "{out}");
    std::fs::write(
        &manifest,
        format!(
            "{{\"path\":\"ext/lib-1.0.tgz\",\"length\":10,\"hashes\":{{\"sha256\":\"{}\"}}}}\n",
            sha("lib")
        ),
    )
    .unwrap();
    run(T0, &["add", s(&repo), "--manifest", s(&manifest)]);
    let (_, out) = fail(
        T0,
        &["add", s(&repo), "--manifest", s(&manifest), "--as", "x"],
    );
    assert!(out.contains("cannot be used with"), "{out}");

    let out = run(T0, &["publish", s(&repo), "--quiet"]);
    assert!(out.contains("Published snapshot v3"), "{out}");
    let out = run(T0, &["verify", s(&repo)]);
    assert!(out.contains("Target files checked: 2"), "{out}");
    assert!(
        out.contains("Targets hosted elsewhere (metadata only): 1"),
        "{out}"
    );
}

#[test]
fn revoke_a_compromised_targets_key() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &[]);
    let root1 = json(&repo.join("repository/metadata/1.root.json"));
    let roles = &root1["signed"]["roles"];
    let compromised = roles["targets"]["keyids"][0].as_str().unwrap().to_string();
    let replacement = repo.join("keys/targets-replacement.pem");
    run(T0, &["key", "generate", "--out", s(&replacement)]);
    let out = run(
        T0,
        &[
            "revoke",
            s(&repo),
            &compromised,
            "--replace-with",
            s(&replacement),
        ],
    );
    assert!(
        out.contains("removed from top-level role(s) targets"),
        "{out}"
    );
    assert!(
        out.contains("new snapshot key") && out.contains("new timestamp key"),
        "{out}"
    );
    assert!(out.contains("tufkit root publish"), "{out}");
    let out = run(T0, &["root", "publish", s(&repo)]);
    assert!(out.contains("Published root v2"), "{out}");
    let root2 = json(&repo.join("repository/metadata/2.root.json"));
    let r2 = &root2["signed"]["roles"];
    assert!(!root2["signed"]["keys"]
        .as_object()
        .unwrap()
        .contains_key(&compromised));
    for role in ["snapshot", "timestamp"] {
        assert_ne!(r2[role]["keyids"], roles[role]["keyids"], "{role} rotated");
    }
    run(T0, &["verify", s(&repo)]);
    let (_, out) = fail(T0, &["revoke", s(&repo), "0123"]);
    assert!(
        out.contains("not used by the root or by any delegation"),
        "{out}"
    );
}

#[test]
fn serve_publishes_the_tree_over_http() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let repo = init(dir.path(), &[]);
    // Find a free port, then serve on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tufkit"))
        .args(["serve", s(&repo), "--addr", &addr])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut body = String::new();
    for _ in 0..200 {
        if let Ok(mut c) = std::net::TcpStream::connect(&addr) {
            write!(c, "GET /metadata/1.root.json HTTP/1.0\r\n\r\n").unwrap();
            c.read_to_string(&mut body).unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("\"_type\": \"root\""));
}

#[test]
fn the_demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let out = Command::cargo_bin("tufkit")
        .unwrap()
        .env_remove("TUFKIT_NOW")
        .args(["demo", "--dir", s(&demo_dir)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "demo failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "Published root v2",
        "partner/evil.bin\t7\t",
        "REFUSED (as it should be)",
        "signature threshold not met",
        "rollback attack",
        "expired",
        "Demo finished",
    ] {
        assert!(
            text.contains(expected),
            "demo transcript lacks {expected:?}:\n{text}"
        );
    }
    // After revocation the legitimate targets still download.
    assert!(text.matches("hello.txt\t29\t").count() >= 3, "{text}");
}
