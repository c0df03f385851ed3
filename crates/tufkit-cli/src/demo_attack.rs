//! The attacker's side of `tufkit demo`: forged releases on a mirror of the repository.
//!
//! The attacker holds a stolen delegated key and write access to a server with the
//! repository's online (snapshot and timestamp) keys. It adds a malicious target to the
//! delegated role, signs that role with the stolen key, and re-signs snapshot and
//! timestamp, exactly as the real publishing pipeline would.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context};
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::metadata::{MetaFile, TargetFile};
use tufkit_repo::keys::{load_private_key, KeyRing};
use tufkit_repo::signing::sign_with_reachable;
use tufkit_repo::state::{metadata_path, to_bytes, Authority, Published};
use tufkit_repo::storage::{DirStorage, Storage};

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

fn meta(bytes: &[u8], version: u64) -> MetaFile {
    let mut m = MetaFile::with_version(version);
    m.length = Some(bytes.len() as u64);
    m.hashes = Some(BTreeMap::from([(
        "sha256".to_string(),
        HashAlgorithm::Sha256.hex_digest(bytes),
    )]));
    m
}

/// Builds `mirror` from the published tree in `repo` and publishes a forged `role`
/// listing `evil_path`, signed by `stolen_key` only, with snapshot and timestamp signed
/// by the online keys found in `online_keys`.
pub fn forge_release(
    repo: &Path,
    mirror: &Path,
    role: &str,
    stolen_key: &Path,
    online_keys: &Path,
    evil_path: &str,
    evil: &[u8],
) -> anyhow::Result<()> {
    if mirror.exists() {
        std::fs::remove_dir_all(mirror)?;
    }
    copy_tree(repo, mirror).context("copying the repository to the mirror")?;
    let storage = DirStorage::new(mirror, mirror.join(".tmp"));
    let published = Published::load(&storage)?;
    let mut forged = published
        .roles
        .get(role)
        .cloned()
        .ok_or_else(|| anyhow!("{role} is not published"))?;
    let hashes: BTreeMap<String, String> = [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
        .iter()
        .map(|a| (a.name().to_string(), a.hex_digest(evil)))
        .collect();
    let (dir, base) = evil_path.rsplit_once('/').unwrap_or(("", evil_path));
    for h in hashes.values() {
        let p = if dir.is_empty() {
            format!("targets/{h}.{base}")
        } else {
            format!("targets/{dir}/{h}.{base}")
        };
        storage.put_new(&p, evil)?;
    }
    forged.signed.targets.insert(
        evil_path.to_string(),
        TargetFile {
            length: evil.len() as u64,
            hashes,
            custom: None,
            unknown: Default::default(),
        },
    );
    forged.signed.version += 1;
    forged.signatures.clear();
    // Sign with the stolen key under the keyid the old delegation used for it.
    let key = load_private_key(stolen_key)?;
    let mut sig = key.sign(&tufkit_repo::signing::canonical_signed(&forged)?)?;
    let listed = published
        .roles
        .values()
        .filter_map(|m| m.signed.delegations.as_ref())
        .flat_map(|d| d.keys.iter())
        .find(|(_, k)| {
            tufkit_core::crypto::PublicKey::from_key(k).ok().as_ref() == Some(key.public())
        })
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| key.key_id().clone());
    sig.keyid = listed;
    forged.signatures.push(sig);
    let role_bytes = to_bytes(&forged)?;
    storage.put_new(
        &metadata_path(role, Some(forged.signed.version)),
        &role_bytes,
    )?;

    let ring = KeyRing::load(&[online_keys.to_path_buf()])?;
    let root = &published.root.signed;
    let mut snapshot = published
        .snapshot
        .clone()
        .ok_or_else(|| anyhow!("no snapshot"))?;
    snapshot.signed.version += 1;
    snapshot.signed.meta.insert(
        format!("{role}.json"),
        meta(&role_bytes, forged.signed.version),
    );
    snapshot.signatures.clear();
    sign_with_reachable(
        &mut snapshot,
        &Authority::top_level(root, "snapshot")?,
        &ring,
    )?;
    let snap_bytes = to_bytes(&snapshot)?;
    storage.put_new(
        &metadata_path("snapshot", Some(snapshot.signed.version)),
        &snap_bytes,
    )?;
    let mut timestamp = published
        .timestamp
        .clone()
        .ok_or_else(|| anyhow!("no timestamp"))?;
    timestamp.signed.version += 1;
    timestamp.signed.meta.insert(
        "snapshot.json".into(),
        meta(&snap_bytes, snapshot.signed.version),
    );
    timestamp.signatures.clear();
    sign_with_reachable(
        &mut timestamp,
        &Authority::top_level(root, "timestamp")?,
        &ring,
    )?;
    storage.put_replace(&metadata_path("timestamp", None), &to_bytes(&timestamp)?)?;
    Ok(())
}
