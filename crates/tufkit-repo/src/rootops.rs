//! The offline root ceremony: edit a staged next root, collect signatures, publish it.
//!
//! `DIR/staged/root.json` holds root version N+1. Edits (`add-key`, `remove-key`,
//! `set-threshold`, `expire`) drop its signatures; key holders then run `tufkit sign` on
//! it in any order (on air-gapped machines), and `root publish` checks that it carries a
//! threshold of signatures from root N's root keys *and* from its own (spec 5.3.4).

use std::path::Path;

use chrono::Duration;
use serde_json::Value;
use tufkit_core::canonical::to_canonical;
use tufkit_core::crypto::{Key, KeyId, PublicKey};
use tufkit_core::metadata::{Metadata, RoleKeys, Root, TOP_LEVEL_ROLES};

use crate::error::{invalid, Error, Result};
use crate::keys::load_private_key;
use crate::publish::{publish_locked, role_keys_changed, PublishOptions, PublishReport};
use crate::signing::{sign_with_reachable, valid_signers};
use crate::state::Authority;
use crate::workspace::Workspace;

/// The staged next root, starting it from the published root if there is none.
pub fn staged_root(ws: &Workspace) -> Result<Metadata<Root>> {
    let published = ws.head()?;
    if let Some(staged) = ws.drafts().root()? {
        if staged.signed.version == published.root.signed.version + 1 {
            return Ok(staged);
        }
        // A leftover from a rotation someone else completed: start again.
    }
    let mut next = published.root.clone();
    next.signatures.clear();
    next.signed.version += 1;
    next.signed.expires = ws.now() + ws.config().expiry_period("root");
    Ok(next)
}

fn check_role(role: &str) -> Result<()> {
    if !TOP_LEVEL_ROLES.contains(&role) {
        return Err(invalid(format!(
            "--role {role}: use root, targets, snapshot or timestamp (delegated roles are changed with `tufkit delegate`)"
        )));
    }
    Ok(())
}

fn role_mut<'a>(root: &'a mut Root, role: &str) -> Result<&'a mut RoleKeys> {
    root.roles
        .get_mut(role)
        .ok_or_else(|| invalid(format!("the staged root has no {role} role")))
}

/// Drops keys no top-level role uses.
pub fn prune_root_keys(root: &mut Root) {
    let used: std::collections::HashSet<KeyId> = root
        .roles
        .values()
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    root.keys.retain(|k, _| used.contains(k));
}

/// Applies `edit` to the staged root, drops its signatures and saves it.
pub fn edit_staged_root(
    ws: &Workspace,
    edit: impl FnOnce(&mut Root) -> Result<()>,
) -> Result<Metadata<Root>> {
    let _lock = ws.lock()?;
    let mut root = staged_root(ws)?;
    edit(&mut root.signed)?;
    prune_root_keys(&mut root.signed);
    root.signatures.clear();
    ws.drafts().save_root(&root)?;
    Ok(root)
}

/// `tufkit root add-key`.
pub fn add_key(ws: &Workspace, role: &str, keyid: KeyId, key: Key) -> Result<Metadata<Root>> {
    check_role(role)?;
    edit_staged_root(ws, |root| {
        root.keys.insert(keyid.clone(), key);
        let r = role_mut(root, role)?;
        if !r.keyids.contains(&keyid) {
            r.keyids.push(keyid);
        }
        Ok(())
    })
}

/// `tufkit root remove-key`.
pub fn remove_key(ws: &Workspace, role: &str, keyid: &KeyId) -> Result<Metadata<Root>> {
    check_role(role)?;
    edit_staged_root(ws, |root| {
        let r = role_mut(root, role)?;
        let before = r.keyids.len();
        r.keyids.retain(|k| k != keyid);
        if r.keyids.len() == before {
            return Err(invalid(format!("{role} does not list key {keyid}")));
        }
        if (r.keyids.len() as u64) < r.threshold {
            return Err(invalid(format!(
                "removing {keyid} would leave {role} with {} key(s) for threshold {}; add a replacement key first or lower the threshold",
                r.keyids.len(),
                r.threshold
            )));
        }
        Ok(())
    })
}

/// `tufkit root set-threshold`.
pub fn set_threshold(ws: &Workspace, role: &str, threshold: u64) -> Result<Metadata<Root>> {
    check_role(role)?;
    edit_staged_root(ws, |root| {
        let r = role_mut(root, role)?;
        if threshold == 0 || threshold > r.keyids.len() as u64 {
            return Err(invalid(format!(
                "{role} has {} key(s); a threshold of {threshold} could never be met",
                r.keyids.len()
            )));
        }
        r.threshold = threshold;
        Ok(())
    })
}

/// `tufkit root expire`.
pub fn expire_in(ws: &Workspace, period: Duration) -> Result<Metadata<Root>> {
    let expires = ws.now() + period;
    edit_staged_root(ws, |root| {
        root.expires = expires;
        Ok(())
    })
}

/// Adds a signature by the private key at `key_file` to any metadata file, keeping every
/// other field and signature as it is. Returns the keyid signed under.
///
/// The keyid is the one the file's own `keys` (root) or `delegations.keys` list for this
/// key, else the key's tufkit keyid.
pub fn sign_file(file: &Path, key_file: &Path) -> Result<KeyId> {
    let key = load_private_key(key_file)?;
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let mut value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("{}: not JSON metadata: {e}", file.display())))?;
    let signed = value
        .get("signed")
        .ok_or_else(|| invalid(format!("{}: no `signed` object", file.display())))?;
    let canonical =
        to_canonical(signed).map_err(|e| Error::metadata(file.display().to_string(), e))?;
    let keyid = listed_keyid(signed, key.public()).unwrap_or_else(|| key.key_id().clone());
    let mut sig = key
        .sign(&canonical)
        .map_err(|e| Error::metadata(key_file.display().to_string(), e))?;
    sig.keyid = keyid.clone();
    let sigs = value
        .get_mut("signatures")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| invalid(format!("{}: no `signatures` list", file.display())))?;
    sigs.retain(|s| s.get("keyid").and_then(Value::as_str) != Some(keyid.0.as_str()));
    sigs.push(serde_json::to_value(&sig).map_err(|e| invalid(e.to_string()))?);
    let mut out = serde_json::to_vec_pretty(&value).map_err(|e| invalid(e.to_string()))?;
    out.push(b'\n');
    crate::drafts::write_atomic(file, &out)?;
    Ok(keyid)
}

fn listed_keyid(signed: &Value, public: &PublicKey) -> Option<KeyId> {
    let maps = [
        signed.get("keys"),
        signed.get("delegations").and_then(|d| d.get("keys")),
    ];
    for map in maps.into_iter().flatten().filter_map(Value::as_object) {
        for (id, key) in map {
            let Ok(key) = serde_json::from_value::<Key>(key.clone()) else {
                continue;
            };
            if PublicKey::from_key(&key).is_ok_and(|p| &p == public) {
                return Some(KeyId(id.clone()));
            }
        }
    }
    None
}

/// What the staged root still needs.
#[derive(Debug, Clone)]
pub struct RootSignatureStatus {
    /// Version of the staged root.
    pub version: u64,
    /// Valid signatures from the current root's root keys, and its threshold.
    pub old: (u64, u64),
    /// Valid signatures from the staged root's own root keys, and its threshold.
    pub new: (u64, u64),
    /// Keyids (current or new root keys) that have not signed yet.
    pub missing: Vec<KeyId>,
}

impl RootSignatureStatus {
    /// True when both thresholds are met.
    pub fn complete(&self) -> bool {
        self.old.0 >= self.old.1 && self.new.0 >= self.new.1
    }
}

/// Counts the staged root's signatures against both thresholds (spec 5.3.4).
pub fn root_signature_status(
    current: &Root,
    staged: &Metadata<Root>,
) -> Result<RootSignatureStatus> {
    let old = Authority::top_level(current, "root")?;
    let new = Authority::top_level(&staged.signed, "root")?;
    let old_valid = valid_signers(staged, &old)?;
    let new_valid = valid_signers(staged, &new)?;
    let mut missing: Vec<KeyId> = Vec::new();
    for k in old.keyids.iter().chain(new.keyids.iter()) {
        if !old_valid.contains(k) && !new_valid.contains(k) && !missing.contains(k) {
            missing.push(k.clone());
        }
    }
    Ok(RootSignatureStatus {
        version: staged.signed.version,
        old: (old_valid.len() as u64, old.threshold),
        new: (new_valid.len() as u64, new.threshold),
        missing,
    })
}

/// Signs the staged root with root keys reachable in the key directories (old and new),
/// for setups where root keys are online (tests, demos, single-machine repositories).
pub fn sign_staged_root_with_reachable(ws: &Workspace) -> Result<Vec<KeyId>> {
    let Some(mut staged) = ws.drafts().root()? else {
        return Ok(Vec::new());
    };
    let published = ws.head()?;
    let ring = ws.keyring()?;
    let mut signed = sign_with_reachable(
        &mut staged,
        &Authority::top_level(&published.root.signed, "root")?,
        &ring,
    )?;
    let new_auth = Authority::top_level(&staged.signed, "root")?;
    signed.extend(sign_with_reachable(&mut staged, &new_auth, &ring)?);
    if !signed.is_empty() {
        ws.drafts().save_root(&staged)?;
    }
    Ok(signed)
}

/// `tufkit root publish`: checks the staged root, then publishes it together with new
/// versions of every role whose keys changed (and a new snapshot and timestamp).
pub fn publish_root(ws: &Workspace, sign_with_reachable_keys: bool) -> Result<PublishReport> {
    let _lock = ws.lock()?;
    if sign_with_reachable_keys {
        sign_staged_root_with_reachable(ws)?;
    }
    let published = ws.head()?;
    let staged = ws.drafts().root()?.ok_or_else(|| {
        invalid("there is no staged root (DIR/staged/root.json); start one with `tufkit root add-key`, `remove-key`, `set-threshold` or `expire`")
    })?;
    let current = &published.root.signed;
    if staged.signed == *current {
        // An earlier `root publish` wrote this root and stopped before cleaning up:
        // finish its work.
        let bytes = crate::state::to_bytes(&published.root)?;
        ws.storage()
            .put_replace(&crate::state::metadata_path("root", None), &bytes)?;
        ws.drafts().remove_root()?;
        let mut report = publish_locked(ws, &PublishOptions::publish())?;
        report.warnings.push(format!(
            "root v{} was already published; finished the interrupted publish",
            current.version
        ));
        return Ok(report);
    }
    // 5.3.5: the new root must be exactly N+1.
    if staged.signed.version != current.version + 1 {
        return Err(invalid(format!(
            "the staged root is version {} but the published root is version {}; it must be {}. Discard DIR/staged/root.json and start again",
            staged.signed.version,
            current.version,
            current.version + 1
        )));
    }
    // Validate the staged root as a client would parse it.
    let bytes = staged
        .to_json_bytes()
        .map_err(|e| Error::metadata("staged/root.json", e))?;
    tufkit_core::metadata::Parsed::<Root>::from_slice(&bytes, "root")
        .map_err(|e| Error::metadata("staged/root.json", e))?;
    let now = ws.now();
    if staged.signed.expires <= now + ws.config().refresh_window("root") {
        return Err(invalid(format!(
            "the staged root expires at {}, too soon to publish; run `tufkit root expire DIR --in 365d` (this drops its signatures, which must then be collected again)",
            staged.signed.expires
        )));
    }
    let status = root_signature_status(current, &staged)?;
    if !status.complete() {
        return Err(invalid(format!(
            "the staged root v{} is not signed enough: {}/{} signature(s) from the current root keys and {}/{} from its own root keys. Still to sign (`tufkit sign {} --key KEYFILE`): {}",
            status.version,
            status.old.0,
            status.old.1,
            status.new.0,
            status.new.1,
            ws.drafts().root_path().display(),
            status.missing.iter().map(|k| k.0.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut report = publish_locked(
        ws,
        &PublishOptions {
            include_drafts: true,
            refresh_expiring: true,
            force_snapshot: true,
            force_timestamp: true,
            new_root: Some(staged.clone()),
        },
    )?;
    if !report.pending.is_empty() {
        report.warnings.push(format!(
            "root v{} was NOT published: the roles above need signatures first (their new keys are not reachable); sign their drafts and run `tufkit root publish DIR` again",
            staged.signed.version
        ));
    }
    for role in ["targets", "snapshot", "timestamp"] {
        if role_keys_changed(current, &staged.signed, role) && report.pending.is_empty() {
            report
                .warnings
                .push(format!("{role}: keys changed, re-signed with the new keys"));
        }
    }
    Ok(report)
}
