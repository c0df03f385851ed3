//! Incident response: `tufkit revoke KEYID`.
//!
//! Removes a compromised key from every role that trusts it: top-level roles through the
//! staged next root, delegated roles through drafts of their delegating roles. Because
//! whoever holds the key may have published inflated versions (a fast-forward attack),
//! the snapshot and timestamp keys are rotated too, which makes clients discard their
//! stored timestamp and snapshot (spec 5.3.11). `tufkit root publish` completes it.

use std::fs;
use std::path::PathBuf;

use tufkit_core::crypto::{Key, KeyId, KeyKind, PublicKey};
use tufkit_core::metadata::Metadata;

use crate::error::{invalid, Error, Result};
use crate::keys::{generate, write_private_key, KeyType};
use crate::rootops::{prune_root_keys, root_signature_status, staged_root, RootSignatureStatus};
use crate::signing::sign_with_reachable;
use crate::state::{authority_for, Authority};
use crate::workspace::Workspace;

/// What `revoke` changed and what is still needed.
#[derive(Debug, Clone)]
pub struct RevokeReport {
    /// Top-level roles the key was removed from.
    pub top_level_roles: Vec<String>,
    /// Delegated roles the key was removed from, with the role whose draft changed.
    pub delegated_roles: Vec<(String, String)>,
    /// Newly generated snapshot/timestamp keys.
    pub new_keys: Vec<(String, PathBuf, KeyId)>,
    /// Where the compromised private key file was moved, if it was in a key directory.
    pub quarantined: Option<PathBuf>,
    /// Signatures the staged root still needs.
    pub root: RootSignatureStatus,
    /// Delegating roles whose drafts need signatures that are not reachable here:
    /// (role, keyids that can sign it, threshold).
    pub delegators_to_sign: Vec<(String, Vec<KeyId>, u64)>,
}

fn key_type_of(key: Option<&Key>) -> KeyType {
    match key
        .and_then(|k| PublicKey::from_key(k).ok())
        .map(|p| p.kind())
    {
        Some(KeyKind::EcdsaP256) => KeyType::Ecdsa,
        Some(KeyKind::RsaPssSha256) => KeyType::Rsa,
        _ => KeyType::Ed25519,
    }
}

fn replace_keyid(
    keyids: &mut Vec<KeyId>,
    threshold: u64,
    revoked: &KeyId,
    replacement: Option<&KeyId>,
    role: &str,
) -> Result<bool> {
    if !keyids.contains(revoked) {
        return Ok(false);
    }
    keyids.retain(|k| k != revoked);
    if let Some(r) = replacement {
        if !keyids.contains(r) {
            keyids.push(r.clone());
        }
    }
    if (keyids.len() as u64) < threshold {
        return Err(invalid(format!(
            "removing {revoked} leaves {role} with {} key(s) for threshold {threshold}; give a new key with --replace-with PUBKEY_FILE",
            keyids.len()
        )));
    }
    Ok(true)
}

/// Revokes `keyid` everywhere, optionally replacing it with `replacement`.
pub fn revoke_key(
    ws: &Workspace,
    keyid: &KeyId,
    replacement: Option<(KeyId, Key)>,
) -> Result<RevokeReport> {
    let _lock = ws.lock()?;
    let published = ws.published()?;
    let current = published.root.signed.clone();
    let mut working = ws.working_roles(&published)?;
    let mut staged = staged_root(ws)?;
    let revoked_key = staged
        .signed
        .keys
        .get(keyid)
        .cloned()
        .or_else(|| {
            working.values().find_map(|m| {
                m.signed.delegations.as_ref().and_then(|d| d.keys.get(keyid).cloned())
            })
        })
        .ok_or_else(|| {
            invalid(format!(
                "key {keyid} is not used by the root or by any delegation (see `tufkit status DIR` for keyids)"
            ))
        })?;
    let repl_id = replacement.as_ref().map(|(id, _)| id.clone());

    // Top-level roles, through the staged root.
    let mut top_level_roles = Vec::new();
    for (role, keys) in staged.signed.roles.iter_mut() {
        // Snapshot and timestamp get all-new keys below, so they may end up empty here.
        let threshold = match role.as_str() {
            "snapshot" | "timestamp" => 0,
            _ => keys.threshold,
        };
        if replace_keyid(&mut keys.keyids, threshold, keyid, repl_id.as_ref(), role)? {
            top_level_roles.push(role.clone());
        }
    }
    if let (Some((id, key)), false) = (&replacement, top_level_roles.is_empty()) {
        staged.signed.keys.insert(id.clone(), key.clone());
    }
    // Rotate the online keys so clients drop any fast-forwarded timestamp/snapshot.
    let key_dir = ws
        .config()
        .key_dirs(ws.dir())
        .into_iter()
        .next()
        .unwrap_or_else(|| ws.dir().join("keys"));
    let mut new_keys = Vec::new();
    for role in ["snapshot", "timestamp"] {
        let Some(keys) = staged.signed.roles.get(role).cloned() else {
            continue;
        };
        let kind = key_type_of(keys.keyids.first().and_then(|k| staged.signed.keys.get(k)));
        let mut ids = Vec::new();
        for _ in 0..keys.threshold.max(1) {
            let (key, pem) = generate(kind)?;
            let id = key.key_id().clone();
            let path = key_dir.join(format!("{role}-{}.pem", &id.0[..8]));
            write_private_key(&path, &pem)?;
            staged
                .signed
                .keys
                .insert(id.clone(), key.public_key().clone());
            ids.push(id.clone());
            new_keys.push((role.to_string(), path, id));
        }
        if let Some(r) = staged.signed.roles.get_mut(role) {
            r.keyids = ids;
        }
    }
    prune_root_keys(&mut staged.signed);
    staged.signatures.clear();

    // Delegations, through drafts of the delegating roles.
    let mut delegated_roles = Vec::new();
    let mut changed_delegators = Vec::new();
    let names: Vec<String> = working.keys().cloned().collect();
    for name in names {
        let Some(m) = working.get(&name) else {
            continue;
        };
        let Some(d) = &m.signed.delegations else {
            continue;
        };
        if !d.keys.contains_key(keyid) {
            continue;
        }
        let mut m: Metadata<_> = m.clone();
        if let Some(d) = m.signed.delegations.as_mut() {
            if let Some(list) = d.roles.as_mut() {
                for r in list.iter_mut() {
                    if replace_keyid(&mut r.keyids, r.threshold, keyid, repl_id.as_ref(), &r.name)?
                    {
                        delegated_roles.push((r.name.clone(), name.clone()));
                    }
                }
            }
            if let Some(s) = d.succinct_roles.as_mut() {
                if replace_keyid(
                    &mut s.keyids,
                    s.threshold,
                    keyid,
                    repl_id.as_ref(),
                    &s.name_prefix,
                )? {
                    delegated_roles.push((format!("{}-*", s.name_prefix), name.clone()));
                }
            }
            if let Some((id, key)) = &replacement {
                d.keys.insert(id.clone(), key.clone());
            }
            crate::edit::prune_unused_keys(d);
        }
        m.signatures.clear();
        ws.drafts().save_role(&name, &m)?;
        working.insert(name.clone(), m);
        changed_delegators.push(name);
    }

    // Take the compromised private key out of reach, if it is here.
    let ring = ws.keyring()?;
    let mut quarantined = None;
    if let Some(entry) = ring.find(&revoked_key) {
        let dir = key_dir.join("revoked");
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let dest = dir.join(
            entry
                .path
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "revoked.pem".into()),
        );
        fs::rename(&entry.path, &dest).map_err(|e| Error::io(&entry.path, e))?;
        quarantined = Some(dest);
    }
    let ring = ws.keyring()?;

    // Sign the staged root with root keys reachable here (never the revoked key).
    let mut old_auth = Authority::top_level(&current, "root")?;
    old_auth.keyids.retain(|k| k != keyid);
    sign_with_reachable(&mut staged, &old_auth, &ring)?;
    let new_auth = Authority::top_level(&staged.signed, "root")?;
    sign_with_reachable(&mut staged, &new_auth, &ring)?;
    ws.drafts().save_root(&staged)?;
    let root = root_signature_status(&current, &staged)?;

    let mut delegators_to_sign = Vec::new();
    for name in changed_delegators {
        let auth = authority_for(&staged.signed, &working, &name)?;
        let reachable = auth
            .keyids
            .iter()
            .filter(|k| {
                auth.keys
                    .get(*k)
                    .is_some_and(|key| ring.find(key).is_some())
            })
            .count() as u64;
        if reachable < auth.threshold {
            delegators_to_sign.push((name, auth.keyids.clone(), auth.threshold));
        }
    }
    Ok(RevokeReport {
        top_level_roles,
        delegated_roles,
        new_keys,
        quarantined,
        root,
        delegators_to_sign,
    })
}
