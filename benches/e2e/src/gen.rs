//! The repository generator: complete consistent-snapshot repositories with ed25519 keys,
//! written with tufkit-core's metadata model and `SigningKey`.
//!
//! Targets are metadata only (their content is hosted elsewhere), except the one target
//! every client looks up, whose content is written under
//! `targets/{dirs}/{sha256}.{basename}` (consistent snapshots, spec 5.7.2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use serde_json::Map;
use tufkit_core::crypto::hash::sha256_hex;
use tufkit_core::crypto::{KeyKind, SigningKey};
use tufkit_core::metadata::{
    DelegatedRole, Delegations, MetaFile, Metadata, RoleKeys, RoleMetadata, Root, Signature,
    Snapshot, SuccinctRoles, TargetFile, Targets, Timestamp,
};

use crate::shapes::{Layout, RepoInfo, Shape, GENERATOR_VERSION};

/// `spec_version` written into every role.
pub const SPEC_VERSION: &str = "1.0.31";
/// Name prefix of the hashed bins (`bins-3ff`).
pub const BIN_PREFIX: &str = "bins";

/// Far-future expiry of every generated role.
pub fn far_expiry() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2099-01-01T00:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// The signing keys of a generated repository, one per role plus one shared by the bins.
pub struct Keys {
    /// Root key.
    pub root: SigningKey,
    /// Timestamp key.
    pub timestamp: SigningKey,
    /// Snapshot key.
    pub snapshot: SigningKey,
    /// Top-level targets key.
    pub targets: SigningKey,
    /// Key of every bin.
    pub bins: SigningKey,
}

const KEY_NAMES: [&str; 5] = ["root", "timestamp", "snapshot", "targets", "bins"];

impl Keys {
    /// Generates five ed25519 keys and stores them (PKCS#8 DER) in `dir/keys`.
    fn generate(dir: &Path) -> Result<Keys> {
        let keys_dir = dir.join("keys");
        std::fs::create_dir_all(&keys_dir)?;
        let mut keys = Vec::new();
        for name in KEY_NAMES {
            let (key, der) = SigningKey::generate(KeyKind::Ed25519)?;
            std::fs::write(keys_dir.join(format!("{name}.pk8")), der)?;
            keys.push(key);
        }
        Keys::from_vec(keys)
    }

    /// Loads the keys a generated repository stored in `dir/keys`.
    pub fn load(dir: &Path) -> Result<Keys> {
        let mut keys = Vec::new();
        for name in KEY_NAMES {
            let path = dir.join("keys").join(format!("{name}.pk8"));
            let der =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            keys.push(SigningKey::from_pkcs8_der(&der)?);
        }
        Keys::from_vec(keys)
    }

    fn from_vec(keys: Vec<SigningKey>) -> Result<Keys> {
        let [root, timestamp, snapshot, targets, bins]: [SigningKey; 5] =
            keys.try_into().map_err(|_| anyhow!("expected five keys"))?;
        Ok(Keys {
            root,
            timestamp,
            snapshot,
            targets,
            bins,
        })
    }
}

/// Signs `signed` with `key` and returns the published bytes: the envelope in canonical
/// JSON (`{"signatures":[...],"signed":{...}}` is itself canonical).
pub fn sign_role<T: RoleMetadata>(signed: T, key: &SigningKey) -> Result<Vec<u8>> {
    let md = Metadata::new(signed);
    let canonical = md.canonical_signed()?;
    let sig = key.sign(&canonical)?;
    envelope(&canonical, &[sig])
}

fn envelope(canonical_signed: &[u8], signatures: &[Signature]) -> Result<Vec<u8>> {
    let sigs = tufkit_core::canonical::to_canonical(&serde_json::to_value(signatures)?)?;
    let mut out = Vec::with_capacity(canonical_signed.len() + sigs.len() + 32);
    out.extend_from_slice(b"{\"signatures\":");
    out.extend_from_slice(&sigs);
    out.extend_from_slice(b",\"signed\":");
    out.extend_from_slice(canonical_signed);
    out.push(b'}');
    Ok(out)
}

/// The content of the looked-up target: 16 KiB of deterministic bytes.
pub fn lookup_content(shape: &Shape) -> Vec<u8> {
    let seed = shape.lookup_index();
    (0..16 * 1024u64)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8)
        .collect()
}

/// What the metadata says about target `i` (a made-up length and digest, except for the
/// looked-up target whose content exists).
fn target_file(shape: &Shape, i: u64, lookup: &(u64, String)) -> TargetFile {
    let (length, digest) = if i == shape.lookup_index() {
        lookup.clone()
    } else {
        let path = Shape::target_path(i);
        let fake = sha256_hex(format!("content of {path}").as_bytes());
        (1_000 + i.wrapping_mul(2_654_435_761) % 9_000_000, fake)
    };
    TargetFile {
        length,
        hashes: BTreeMap::from([("sha256".to_string(), digest)]),
        custom: None,
        unknown: Map::new(),
    }
}

/// Target `i` of `shape` as the generated metadata lists it: its path and entry.
pub fn target_entry(shape: &Shape, i: u64) -> (String, TargetFile) {
    let lookup = if i == shape.lookup_index() {
        let content = lookup_content(shape);
        (content.len() as u64, sha256_hex(&content))
    } else {
        (0, String::new())
    };
    (Shape::target_path(i), target_file(shape, i, &lookup))
}

fn targets_role(
    targets: BTreeMap<String, TargetFile>,
    delegations: Option<Delegations>,
) -> Targets {
    Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: far_expiry(),
        targets,
        delegations,
        unknown: Map::new(),
    }
}

/// The bin (index) of a target path: the first `bits` bits of SHA-256(path). Classic
/// `path_hash_prefixes` bins and TAP 15 succinct bins agree on it here because every bin
/// owns a contiguous, aligned range of prefixes.
pub fn bin_index(path: &str, bits: u32) -> usize {
    let d = ring::digest::digest(&ring::digest::SHA256, path.as_bytes());
    let b = d.as_ref();
    let first = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (first as u64 >> (32 - bits)) as usize
}

/// Name of bin `index` out of 2^bits: `bins-` and the index in hex, as wide as the largest.
pub fn bin_name(index: usize, bits: u32) -> String {
    let width = (bits as usize).div_ceil(4).max(1);
    format!("{BIN_PREFIX}-{index:0width$x}")
}

/// The hex `path_hash_prefixes` of classic bin `index` out of 2^bits (prefixes of
/// `ceil(bits / 4)` hex digits, each bin owning an aligned run of them).
pub fn bin_prefixes(index: usize, bits: u32) -> Vec<String> {
    let digits = (bits as usize).div_ceil(4).max(1);
    let per_bin = 1usize << (digits * 4 - bits as usize);
    (index * per_bin..(index + 1) * per_bin)
        .map(|p| format!("{p:0digits$x}"))
        .collect()
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Generates the repository `shape` into `dir` unless a complete one is cached there.
pub fn ensure(shape: &Shape, dir: &Path, quiet: bool) -> Result<RepoInfo> {
    if let Some(info) = RepoInfo::load_current(dir, shape) {
        return Ok(info);
    }
    if !quiet {
        eprintln!("bench: generating {} into {}", shape.label(), dir.display());
    }
    generate(shape, dir)
}

/// Generates the repository `shape` into `dir` (replacing whatever is there).
pub fn generate(shape: &Shape, dir: &Path) -> Result<RepoInfo> {
    shape.validate()?;
    let started = Instant::now();
    let tmp = tmp_dir(dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let meta_dir = tmp.join("metadata");
    std::fs::create_dir_all(&meta_dir)?;
    let keys = Keys::generate(&tmp)?;

    let content = lookup_content(shape);
    let lookup_path = Shape::target_path(shape.lookup_index());
    let lookup = (content.len() as u64, sha256_hex(&content));
    write_target_content(&tmp, &lookup_path, &lookup.1, &content)?;

    let mut snapshot_meta = BTreeMap::new();
    let mut info = RepoInfo {
        generator_version: GENERATOR_VERSION,
        shape: *shape,
        lookup_target: lookup_path.clone(),
        lookup_length: lookup.0,
        targets_json_bytes: 0,
        snapshot_json_bytes: 0,
        lookup_bin_bytes: 0,
        lookup_bin: String::new(),
        metadata_bytes: 0,
        metadata_files: 0,
        generate_seconds: 0.0,
    };
    let mut written = Written::default();

    let top_targets = match shape.layout {
        Layout::Flat => {
            let targets = (0..shape.targets)
                .map(|i| (Shape::target_path(i), target_file(shape, i, &lookup)))
                .collect();
            targets_role(targets, None)
        }
        Layout::Bins | Layout::Succinct => {
            let bits = shape.bit_length();
            let sizes = write_bins(shape, &meta_dir, &keys.bins, &lookup)?;
            let lookup_bin = bin_index(&lookup_path, bits);
            info.lookup_bin = bin_name(lookup_bin, bits);
            info.lookup_bin_bytes = sizes[lookup_bin];
            for (i, len) in sizes.iter().enumerate() {
                written.add(*len);
                snapshot_meta.insert(format!("{}.json", bin_name(i, bits)), meta(*len));
            }
            let bins_key = keys.bins.public_key().clone();
            let bins_id = keys.bins.key_id().clone();
            let delegations = Delegations {
                keys: BTreeMap::from([(bins_id.clone(), bins_key)]),
                roles: (shape.layout == Layout::Bins).then(|| {
                    (0..sizes.len())
                        .map(|i| DelegatedRole {
                            name: bin_name(i, bits),
                            keyids: vec![bins_id.clone()],
                            threshold: 1,
                            terminating: false,
                            paths: None,
                            path_hash_prefixes: Some(bin_prefixes(i, bits)),
                            unknown: Map::new(),
                        })
                        .collect()
                }),
                succinct_roles: (shape.layout == Layout::Succinct).then(|| SuccinctRoles {
                    keyids: vec![bins_id.clone()],
                    threshold: 1,
                    bit_length: bits,
                    name_prefix: BIN_PREFIX.into(),
                    unknown: Map::new(),
                }),
                unknown: Map::new(),
            };
            targets_role(BTreeMap::new(), Some(delegations))
        }
    };
    let targets_bytes = sign_role(top_targets, &keys.targets)?;
    info.targets_json_bytes = targets_bytes.len() as u64;
    write(
        &meta_dir.join("1.targets.json"),
        &targets_bytes,
        &mut written,
    )?;
    snapshot_meta.insert("targets.json".into(), meta(targets_bytes.len() as u64));
    drop(targets_bytes);

    let snapshot = Snapshot {
        type_: "snapshot".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: far_expiry(),
        meta: snapshot_meta,
        unknown: Map::new(),
    };
    let snapshot_bytes = sign_role(snapshot, &keys.snapshot)?;
    info.snapshot_json_bytes = snapshot_bytes.len() as u64;
    write(
        &meta_dir.join("1.snapshot.json"),
        &snapshot_bytes,
        &mut written,
    )?;
    let timestamp_bytes = sign_role(timestamp_for(1, &snapshot_bytes, 1), &keys.timestamp)?;
    write(
        &meta_dir.join("timestamp.json"),
        &timestamp_bytes,
        &mut written,
    )?;

    let root_bytes = sign_role(root_for(&keys), &keys.root)?;
    write(&meta_dir.join("1.root.json"), &root_bytes, &mut written)?;
    // The bootstrap root clients are given out of band (not served under this name by TUF,
    // but harmless and convenient).
    std::fs::write(tmp.join("root.json"), &root_bytes)?;

    info.metadata_bytes = written.bytes;
    info.metadata_files = written.files;
    info.generate_seconds = started.elapsed().as_secs_f64();
    info.store(&tmp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing old {}", dir.display()))?;
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&tmp, dir)
        .with_context(|| format!("moving {} to {}", tmp.display(), dir.display()))?;
    Ok(info)
}

fn tmp_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    dir.with_file_name(name)
}

#[derive(Default)]
struct Written {
    bytes: u64,
    files: u64,
}

impl Written {
    fn add(&mut self, len: u64) {
        self.bytes += len;
        self.files += 1;
    }
}

fn write(path: &Path, bytes: &[u8], written: &mut Written) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    written.add(bytes.len() as u64);
    Ok(())
}

/// A snapshot entry: version 1 and the length (so clients need no size cap for large roles).
fn meta(len: u64) -> MetaFile {
    MetaFile {
        length: Some(len),
        ..MetaFile::with_version(1)
    }
}

/// Timestamp version `version` listing snapshot version `snapshot_version`.
pub fn timestamp_for(version: u64, snapshot_bytes: &[u8], snapshot_version: u64) -> Timestamp {
    let entry = MetaFile {
        version: snapshot_version,
        length: Some(snapshot_bytes.len() as u64),
        hashes: Some(BTreeMap::from([(
            "sha256".to_string(),
            sha256_hex(snapshot_bytes),
        )])),
        unknown: Map::new(),
    };
    Timestamp {
        type_: "timestamp".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: far_expiry(),
        meta: BTreeMap::from([("snapshot.json".to_string(), entry)]),
        unknown: Map::new(),
    }
}

fn root_for(keys: &Keys) -> Root {
    let mut all = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for (name, key) in [
        ("root", &keys.root),
        ("timestamp", &keys.timestamp),
        ("snapshot", &keys.snapshot),
        ("targets", &keys.targets),
    ] {
        all.insert(key.key_id().clone(), key.public_key().clone());
        roles.insert(
            name.to_string(),
            RoleKeys {
                keyids: vec![key.key_id().clone()],
                threshold: 1,
                unknown: Map::new(),
            },
        );
    }
    Root {
        type_: "root".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: far_expiry(),
        consistent_snapshot: Some(true),
        keys: all,
        roles,
        unknown: Map::new(),
    }
}

/// Writes a target's content where consistent-snapshot clients fetch it:
/// `targets/{dirs}/{sha256}.{basename}` (spec 5.7.2, python-tuf and tufkit), and also
/// `targets/{sha256}.{path}`, where tough 0.24 looks (it prefixes the whole path).
pub fn write_target_content(repo: &Path, path: &str, sha256: &str, content: &[u8]) -> Result<()> {
    let spec = match path.rsplit_once('/') {
        Some((dirs, base)) => format!("{dirs}/{sha256}.{base}"),
        None => format!("{sha256}.{path}"),
    };
    let whole = format!("{sha256}.{path}");
    for remote in [spec, whole] {
        let file = repo.join("targets").join(remote);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, content).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// Buckets every target into its bin, then builds, signs and writes the bins on all cores.
/// Returns the published size of each bin.
fn write_bins(
    shape: &Shape,
    meta_dir: &Path,
    key: &SigningKey,
    lookup: &(u64, String),
) -> Result<Vec<u64>> {
    let bits = shape.bit_length();
    let n = shape.targets as usize;
    let nthreads = threads();
    // Bin of every target, computed in parallel.
    let mut bin_of = vec![0u32; n];
    let chunk = n.div_ceil(nthreads).max(1);
    std::thread::scope(|s| {
        for (c, slice) in bin_of.chunks_mut(chunk).enumerate() {
            s.spawn(move || {
                for (j, slot) in slice.iter_mut().enumerate() {
                    let i = (c * chunk + j) as u64;
                    *slot = bin_index(&Shape::target_path(i), bits) as u32;
                }
            });
        }
    });
    // Counting sort: the targets of bin b are order[start[b]..start[b + 1]].
    let bins = 1usize << bits;
    let mut start = vec![0usize; bins + 1];
    for &b in &bin_of {
        start[b as usize + 1] += 1;
    }
    for b in 0..bins {
        start[b + 1] += start[b];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; n];
    for (i, &b) in bin_of.iter().enumerate() {
        order[fill[b as usize]] = i as u32;
        fill[b as usize] += 1;
    }
    drop(bin_of);

    let next = AtomicUsize::new(0);
    let results: Vec<Result<Vec<(usize, u64)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..nthreads)
            .map(|_| {
                s.spawn(|| -> Result<Vec<(usize, u64)>> {
                    let mut sizes = Vec::new();
                    loop {
                        let first = next.fetch_add(64, Ordering::Relaxed);
                        if first >= bins {
                            return Ok(sizes);
                        }
                        for b in first..(first + 64).min(bins) {
                            let targets = order[start[b]..start[b + 1]]
                                .iter()
                                .map(|&i| {
                                    let i = i as u64;
                                    (Shape::target_path(i), target_file(shape, i, lookup))
                                })
                                .collect();
                            let bytes = sign_role(targets_role(targets, None), key)?;
                            let path = meta_dir.join(format!("1.{}.json", bin_name(b, bits)));
                            std::fs::write(&path, &bytes)
                                .with_context(|| format!("writing {}", path.display()))?;
                            sizes.push((b, bytes.len() as u64));
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a bin writer panicked")))
            })
            .collect()
    });
    let mut sizes = vec![0u64; bins];
    for r in results {
        for (b, len) in r? {
            sizes[b] = len;
        }
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tufkit_core::metadata::SuccinctRoles;

    #[test]
    fn classic_prefixes_and_succinct_bins_agree() {
        let succinct = SuccinctRoles {
            keyids: vec![],
            threshold: 1,
            bit_length: 10,
            name_prefix: BIN_PREFIX.into(),
            unknown: Map::new(),
        };
        for i in [0u64, 1, 17, 4242, 99_999] {
            let path = Shape::target_path(i);
            let b = bin_index(&path, 10);
            assert_eq!(bin_name(b, 10), succinct.bin_for(&path));
            let digest = sha256_hex(path.as_bytes());
            assert!(bin_prefixes(b, 10).iter().any(|p| digest.starts_with(p)));
        }
        assert_eq!(bin_prefixes(1, 10), vec!["004", "005", "006", "007"]);
        assert_eq!(bin_prefixes(3, 4), vec!["3"]);
        assert_eq!(bin_name(1023, 10), "bins-3ff");
        assert_eq!(bin_name(16_383, 14), "bins-3fff");
    }
}
