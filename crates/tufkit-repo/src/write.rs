//! Writing a signed publish in the safe order (spec 6.2): target files and targets
//! metadata as one durable batch, then the snapshot, then the timestamp, then a new root.
//!
//! An interrupted publish leaves new files that nothing names yet. Run again later, the
//! same roles get the same version numbers but a later expiry, so their bytes differ from
//! those leftovers. A leftover that is our own complete work (same content and version,
//! valid signatures) is then *resumed*: its bytes are kept and the publish goes on from
//! there. Anything else at a path tufkit wants to write is refused, never overwritten.

use std::collections::HashMap;

use tufkit_core::crypto::PublicKey;
use tufkit_core::metadata::{Metadata, Parsed, Root, Snapshot, Targets};

use crate::error::{invalid, Error, Result};
use crate::keys::KeyRing;
use crate::resign::{same_content, Signed, StagedFile};
use crate::signing::valid_signers;
use crate::state::{metadata_path, Authority};
use crate::storage::{BatchFile, Content, Storage};
use crate::workspace::Workspace;

/// Refuses to start writing when the reachable keys cannot sign top-level `role` (the
/// snapshot or timestamp written after the targets metadata).
pub(crate) fn check_signable(root: &Root, role: &str, ring: &KeyRing) -> Result<()> {
    let auth = Authority::top_level(root, role)?;
    let mut keys: Vec<PublicKey> = Vec::new();
    for id in &auth.keyids {
        let Some(public) = auth.keys.get(id).and_then(|k| PublicKey::from_key(k).ok()) else {
            continue;
        };
        if auth.keys.get(id).is_some_and(|k| ring.find(k).is_some()) && !keys.contains(&public) {
            keys.push(public);
        }
    }
    if (keys.len() as u64) < auth.threshold {
        return Err(invalid(format!(
            "{role}: the signing keys are not reachable; put the private key of one of [{}] into a key directory (keys/) and run the command again",
            auth.keyids.iter().map(|k| k.0.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// The batch of target files and versioned targets metadata. The last destination of
/// each staged file may take the file itself (`may_move`: nothing needs it after a
/// successful publish), a rename instead of a link and a later delete.
fn batch<'a>(
    consistent: bool,
    may_move: bool,
    files: &'a [(String, StagedFile<'a>)],
    signed: &'a [Signed],
) -> Vec<BatchFile<'a>> {
    // Keyed by the raw path bytes (hashing a `Path` parses its components).
    let mut last_use: HashMap<&std::ffi::OsStr, usize> = HashMap::new();
    for (i, (_, staged)) in files.iter().enumerate() {
        if let StagedFile::Copy(p) = staged {
            last_use.insert(p.as_os_str(), i);
        }
    }
    let mut out: Vec<BatchFile<'a>> = files
        .iter()
        .enumerate()
        .map(|(i, (dest, staged))| BatchFile {
            path: dest.clone(),
            content: match staged {
                StagedFile::Linked(rec) => Content::Linked(rec),
                StagedFile::Copy(p) if may_move && last_use.get(p.as_os_str()) == Some(&i) => {
                    Content::Move(p)
                }
                StagedFile::Copy(p) => Content::File(p),
            },
            // Without consistent snapshots a target path names one file whose content
            // changes from release to release.
            replace: !consistent,
        })
        .collect();
    out.extend(signed.iter().filter_map(|s| {
        s.bytes.as_ref().map(|b| BatchFile {
            path: metadata_path(&s.name, Some(s.version)),
            content: Content::Bytes(b),
            replace: false,
        })
    }));
    out
}

/// A published `path` holding our own complete version of `s` (whose bytes are `ours`),
/// if that is what it is: then its bytes and metadata. Only this resume path parses
/// signed roles again.
fn resumable(
    storage: &dyn Storage,
    path: &str,
    s: &Signed,
    ours: &[u8],
) -> Result<Option<(Vec<u8>, Metadata<Targets>)>> {
    let Some(existing) = storage.read(path)? else {
        return Ok(None);
    };
    let Ok(parsed) = Parsed::<Targets>::from_slice(&existing, &s.name) else {
        return Ok(None);
    };
    let m = parsed.metadata;
    let mine = Parsed::<Targets>::from_slice(ours, &s.name)
        .map_err(|e| Error::metadata(format!("new {} metadata", s.name), e))?
        .metadata;
    let ours = m.signed.version == s.version
        && same_content(&m.signed, &mine.signed)
        && valid_signers(&m, &s.auth).is_ok_and(|v| v.len() as u64 >= s.auth.threshold);
    Ok(ours.then_some((existing, m)))
}

/// Writes the target files and the new versions of the targets roles (as one durable
/// batch), resuming leftovers of an interrupted publish; the roles' bytes and metadata
/// in `signed` become what is published.
pub(crate) fn place_roles(
    ws: &Workspace,
    consistent: bool,
    may_move: bool,
    files: &[(String, StagedFile<'_>)],
    signed: &mut [Signed],
) -> Result<()> {
    let storage = ws.storage();
    let first = storage.put_batch(&batch(consistent, may_move, files, signed));
    let Err(Error::WouldOverwrite { path }) = first else {
        return first;
    };
    let mut resumed = 0;
    for s in signed.iter_mut() {
        let Some(ours) = &s.bytes else {
            continue;
        };
        let p = metadata_path(&s.name, Some(s.version));
        if storage.read(&p)?.is_some_and(|b| b != *ours) {
            let Some((existing, m)) = resumable(storage, &p, s, ours)? else {
                return Err(Error::WouldOverwrite { path: p });
            };
            s.expires = m.signed.expires;
            s.bytes = Some(existing);
            resumed += 1;
        }
    }
    if resumed == 0 {
        // The clash is a target file: never replaced.
        return Err(Error::WouldOverwrite { path });
    }
    ws.progress(&format!(
        "resuming an interrupted publish: kept {resumed} targets role file(s) it wrote"
    ));
    // Staged files moved before the clash are in place already.
    let left: Vec<(String, StagedFile<'_>)> = files
        .iter()
        .filter(|(_, staged)| match staged {
            StagedFile::Copy(p) => p.exists(),
            StagedFile::Linked(_) => true,
        })
        .cloned()
        .collect();
    storage.put_batch(&batch(consistent, may_move, &left, signed))
}

/// Writes `N.snapshot.json`, resuming a leftover from an interrupted publish that lists
/// exactly the same roles; returns the bytes published.
pub(crate) fn place_snapshot(
    storage: &dyn Storage,
    snap: &Metadata<Snapshot>,
    bytes: Vec<u8>,
    auth: &Authority,
) -> Result<Vec<u8>> {
    let path = metadata_path("snapshot", Some(snap.signed.version));
    match storage.put_new(&path, &bytes) {
        Ok(()) => Ok(bytes),
        Err(Error::WouldOverwrite { path }) => {
            let Some(existing) = storage.read(&path)? else {
                return Err(Error::WouldOverwrite { path });
            };
            let ours = Parsed::<Snapshot>::from_slice(&existing, "snapshot")
                .ok()
                .map(|p| p.metadata)
                .is_some_and(|m| {
                    m.signed.version == snap.signed.version
                        && m.signed.meta == snap.signed.meta
                        && valid_signers(&m, auth).is_ok_and(|v| v.len() as u64 >= auth.threshold)
                });
            if ours {
                Ok(existing)
            } else {
                Err(Error::WouldOverwrite { path })
            }
        }
        Err(e) => Err(e),
    }
}
