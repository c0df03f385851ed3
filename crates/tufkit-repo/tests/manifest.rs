//! `add_manifest` (the registry-scale `tufkit add --manifest`): the same drafts and
//! record as staging the parsed manifest with `add`, and nothing staged on any error.

mod common;

use std::path::Path;

use common::*;
use tufkit_repo::add::add;
use tufkit_repo::edit::delegate_succinct_bins;
use tufkit_repo::hosted::HOSTED_FILE;
use tufkit_repo::keys::{generate, write_private_key, KeyType};
use tufkit_repo::manifest::{add_manifest, LIST_LIMIT};
use tufkit_repo::publish::{publish, PublishOptions};
use tufkit_repo::sources::from_manifest;
use tufkit_repo::Workspace;

fn sha256(data: &[u8]) -> String {
    tufkit_core::crypto::hash::sha256_hex(data)
}

/// A published repository delegating to 2^bits succinct bins, all signed by one key
/// (the same key in every repository made from `pem`).
fn bins_repo(dir: &Path, bits: u32, pem: &str) -> Workspace {
    let ws = new_repo(dir, t0());
    write_private_key(&ws.dir().join("keys/bins.pem"), pem).unwrap();
    let key = tufkit_repo::keys::load_private_key(&ws.dir().join("keys/bins.pem")).unwrap();
    delegate_succinct_bins(
        &ws,
        "targets",
        bits,
        "bins",
        &[(key.key_id().clone(), key.public_key().clone())],
        1,
    )
    .unwrap();
    publish(&ws, &PublishOptions::publish()).unwrap();
    ws
}

fn line(path: &str, length: u64, extra: &str) -> String {
    format!(
        "{{\"path\":\"{path}\",\"length\":{length},\"hashes\":{{\"sha256\":\"{}\"}}{extra}}}",
        sha256(path.as_bytes())
    )
}

/// Every draft of `ws`, by file name, with its bytes.
fn drafts(ws: &Workspace) -> Vec<(String, Vec<u8>)> {
    let dir = ws.drafts().dir().join("roles");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn add_manifest_stages_what_add_stages_from_the_parsed_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pem) = generate(KeyType::Ed25519).unwrap();
    let a = bins_repo(&dir.path().join("a"), 3, &pem);
    let b = bins_repo(&dir.path().join("b"), 3, &pem);
    // Blank lines, CRLF line ends, custom metadata; 150 targets (more than are listed).
    let mut text = String::from("\n");
    for i in 0..150 {
        let custom = if i % 10 == 0 {
            ",\"custom\":{\"n\":1}"
        } else {
            ""
        };
        text.push_str(&line(&format!("pkg-{}/p-{i}.tgz", i % 7), i, custom));
        text.push_str(if i % 3 == 0 { "\r\n\n" } else { "\n" });
    }
    let manifest = dir.path().join("m.jsonl");
    std::fs::write(&manifest, &text).unwrap();

    let expected = add(&a, from_manifest(&manifest).unwrap(), None).unwrap();
    let got = add_manifest(&b, &manifest, None).unwrap();
    assert_eq!(got.targets, 150);
    assert_eq!(
        (got.roles.clone(), got.bytes),
        (expected.roles, expected.bytes)
    );
    assert!(
        got.staged.is_empty(),
        "more than {LIST_LIMIT}: counted only"
    );
    let staged = drafts(&b);
    assert_eq!(staged.len(), 8, "every bin got targets");
    assert_eq!(staged, drafts(&a), "the same drafts, byte for byte");
    assert_eq!(
        std::fs::read(b.dir().join(HOSTED_FILE)).unwrap(),
        std::fs::read(a.dir().join(HOSTED_FILE)).unwrap()
    );

    // A small manifest lists each target, as `add` does.
    let small = dir.path().join("small.jsonl");
    std::fs::write(&small, line("extra/one.tgz", 5, "") + "\n").unwrap();
    let expected = add(&a, from_manifest(&small).unwrap(), None).unwrap();
    let got = add_manifest(&b, &small, None).unwrap();
    assert_eq!(got.targets, 1);
    assert_eq!(got.staged.len(), 1);
    assert_eq!(
        (
            &got.staged[0].path,
            &got.staged[0].role,
            &got.staged[0].sha256
        ),
        (
            &expected.staged[0].path,
            &expected.staged[0].role,
            &expected.staged[0].sha256
        )
    );
    assert_eq!(drafts(&b), drafts(&a), "added over the earlier drafts");
    publish(&b, &PublishOptions::publish()).unwrap();
    let p = b.published().unwrap();
    let listed: usize = p.roles.values().map(|m| m.signed.targets.len()).sum();
    assert_eq!(listed, 151);
}

#[test]
fn nothing_is_staged_when_a_line_is_bad_repeated_or_misplaced() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pem) = generate(KeyType::Ed25519).unwrap();
    let ws = bins_repo(dir.path(), 2, &pem);
    let manifest = dir.path().join("m.jsonl");
    let nothing_staged = |ws: &Workspace| {
        assert!(drafts(ws).is_empty(), "no draft");
        assert!(!ws.dir().join(HOSTED_FILE).exists(), "no hosted record");
    };

    let good = line("x/ok.tgz", 1, "");
    std::fs::write(
        &manifest,
        format!("{good}\n{{\"path\":\"x/no-length.tgz\",\"hashes\":{{}}}}\n\n{good}\n\"text\"\n"),
    )
    .unwrap();
    let e = add_manifest(&ws, &manifest, None).unwrap_err().to_string();
    assert!(e.contains("2 bad line(s), nothing was staged"), "{e}");
    assert!(e.contains("line 2: missing field `length`"), "{e}");
    assert!(e.contains("line 5: invalid type: string"), "{e}");
    assert!(!e.contains("line 4"), "bad lines come first: {e}");
    nothing_staged(&ws);

    std::fs::write(
        &manifest,
        format!("{good}\n{}\n\n{good}\n", line("x/b.tgz", 2, "")),
    )
    .unwrap();
    let e = add_manifest(&ws, &manifest, None).unwrap_err().to_string();
    assert!(
        e.contains("\"x/ok.tgz\" is given twice: by manifest line 1 and by manifest line 4"),
        "{e}"
    );
    nothing_staged(&ws);

    // A path outside the bin named with `role`: refused, naming the path.
    let bin = "bins-0";
    let mut misplaced = None;
    for i in 0..50 {
        let path = format!("y/{i}.tgz");
        let p = ws.published().unwrap();
        let s = p.roles["targets"].signed.delegations.clone().unwrap();
        if s.succinct_roles.unwrap().bin_for(&path) != bin {
            misplaced = Some(path);
            break;
        }
    }
    let misplaced = misplaced.unwrap();
    std::fs::write(&manifest, format!("{}\n", line(&misplaced, 3, ""))).unwrap();
    let e = add_manifest(&ws, &manifest, Some(bin))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("target {misplaced:?} is outside")),
        "{e}"
    );
    nothing_staged(&ws);

    std::fs::write(&manifest, "\n\n").unwrap();
    let e = add_manifest(&ws, &manifest, None).unwrap_err().to_string();
    assert!(e.contains("the manifest lists no targets"), "{e}");
    nothing_staged(&ws);
}
