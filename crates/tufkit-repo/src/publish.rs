//! Publishing: sign what changed, then write target files, targets metadata, snapshot,
//! timestamp and (during a root rotation) the new root, in that order (spec 6.2).
//!
//! Every threshold is checked before the first byte is written. Each write is atomic and
//! versioned files are never overwritten, so a crash at any point leaves the published
//! tree in its old state or its new state: the timestamp, written last among the online
//! roles, is what makes a new state visible.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::crypto::KeyId;
use tufkit_core::metadata::{
    MetaFile, Metadata, RoleMetadata, Root, Snapshot, TargetFile, Targets, Timestamp,
};

use crate::duration::format_duration;
use crate::error::{invalid, Error, Result};
use crate::keys::KeyRing;
use crate::signing::{
    check_threshold, drop_invalid_signatures, sign_with_reachable, valid_signers,
};
use crate::state::{authority_for, metadata_path, to_bytes, Authority, RoleSet};
use crate::workspace::Workspace;

/// What a publish run should cover.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// Publish the draft targets roles in `staged/roles/`.
    pub include_drafts: bool,
    /// Re-sign published roles that are expiring soon.
    pub refresh_expiring: bool,
    /// Write a new snapshot even if no targets role changed.
    pub force_snapshot: bool,
    /// Write a new timestamp even if the snapshot did not change.
    pub force_timestamp: bool,
    /// A new root to publish together with the roles it re-keys.
    pub new_root: Option<Metadata<Root>>,
}

impl PublishOptions {
    /// `tufkit publish`: drafts, and anything expiring soon.
    pub fn publish() -> PublishOptions {
        PublishOptions {
            include_drafts: true,
            refresh_expiring: true,
            ..PublishOptions::default()
        }
    }
}

/// A role left as a draft because reachable keys do not meet its threshold.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The role.
    pub role: String,
    /// Valid signatures it carries.
    pub have: u64,
    /// Its threshold.
    pub need: u64,
    /// Authorised keyids that have not signed.
    pub missing: Vec<KeyId>,
    /// The draft file key holders sign with `tufkit sign`.
    pub draft: PathBuf,
}

/// What a publish run did.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    /// Roles written, in write order, with their new versions.
    pub published: Vec<(String, u64)>,
    /// Roles that still need signatures (nothing was written when this is not empty).
    pub pending: Vec<Pending>,
    /// Things the operator should know.
    pub warnings: Vec<String>,
    /// Target files copied into the published tree.
    pub target_files: usize,
}

impl PublishReport {
    /// True when nothing needed publishing.
    pub fn nothing_to_do(&self) -> bool {
        self.published.is_empty() && self.pending.is_empty()
    }
}

/// Publishes drafts and refreshes expiring roles, under the workspace lock.
pub fn publish(ws: &Workspace, opts: &PublishOptions) -> Result<PublishReport> {
    let _lock = ws.lock()?;
    publish_locked(ws, opts)
}

/// True if the keys or threshold of top-level `role` differ between two roots.
pub fn role_keys_changed(a: &Root, b: &Root, role: &str) -> bool {
    match (a.role(role), b.role(role)) {
        (Some(x), Some(y)) => {
            let (sx, sy): (BTreeSet<_>, BTreeSet<_>) =
                (x.keyids.iter().collect(), y.keyids.iter().collect());
            x.threshold != y.threshold
                || sx != sy
                || x.keyids.iter().any(|k| a.keys.get(k) != b.keys.get(k))
        }
        _ => true,
    }
}

fn expires_within(expires: DateTime<Utc>, now: DateTime<Utc>, window: Duration) -> bool {
    expires - now < window
}

/// The published paths of a target file: `HASH.name` per hash with consistent snapshots.
pub fn target_file_paths(path: &str, file: &TargetFile, consistent: bool) -> Vec<String> {
    if !consistent {
        return vec![format!("targets/{path}")];
    }
    let (dir, base) = match path.rsplit_once('/') {
        Some((d, b)) => (format!("{d}/"), b),
        None => (String::new(), path),
    };
    file.hashes
        .values()
        .map(|h| format!("targets/{dir}{h}.{base}"))
        .collect()
}

fn same_content(a: &Targets, b: &Targets) -> bool {
    let mut b = b.clone();
    b.version = a.version;
    b.expires = a.expires;
    *a == b
}

/// Prepares the next version of a targets role: fresh version and expiry unless the
/// draft is already sealed for that version by someone's signature.
fn prepare_role(
    ws: &Workspace,
    name: &str,
    mut m: Metadata<Targets>,
    published_version: u64,
    auths: &[&Authority],
) -> Result<Metadata<Targets>> {
    let now = ws.now();
    let next = published_version + 1;
    let sealed = m.signed.version == next
        && !expires_within(m.signed.expires, now, ws.config().refresh_window(name))
        && auths
            .iter()
            .any(|a| valid_signers(&m, a).is_ok_and(|v| !v.is_empty()));
    if sealed {
        drop_invalid_signatures(&mut m, auths)?;
    } else {
        m.signed.version = next;
        m.signed.expires = now + ws.config().expiry_period(name);
        m.signatures.clear();
    }
    Ok(m)
}

fn missing_target_content(
    ws: &Workspace,
    role: &str,
    m: &Targets,
    before: Option<&Targets>,
    consistent: bool,
) -> Result<()> {
    for (path, file) in &m.targets {
        if before.and_then(|b| b.targets.get(path)) == Some(file) {
            continue;
        }
        let staged = file
            .hashes
            .get("sha256")
            .is_some_and(|h| ws.drafts().file_path(h).is_file());
        if staged {
            continue;
        }
        for p in target_file_paths(path, file, consistent) {
            if !ws.storage().exists(&p)? {
                return Err(invalid(format!(
                    "{role}: target {path:?} has no content: neither staged nor published at repository/{p}; stage it with `tufkit add DIR FILE --as {path}` or remove it with `tufkit remove DIR {path}`"
                )));
            }
        }
    }
    Ok(())
}

fn meta_for(bytes: &[u8], version: u64) -> MetaFile {
    let mut m = MetaFile::with_version(version);
    m.length = Some(bytes.len() as u64);
    m.hashes = Some(BTreeMap::from([(
        "sha256".to_string(),
        HashAlgorithm::Sha256.hex_digest(bytes),
    )]));
    m
}

/// Signs `m` with reachable keys of `auth` (and of `old`, during a rotation, so that
/// clients still on the old root accept it too) and checks `auth`'s threshold.
fn sign_online_role<T: RoleMetadata>(
    role: &str,
    m: &mut Metadata<T>,
    auth: &Authority,
    old: Option<&Authority>,
    rings: (&KeyRing, &KeyRing),
) -> Result<()> {
    sign_with_reachable(m, auth, rings.0)?;
    if let Some(old) = old.filter(|o| *o != auth) {
        sign_with_reachable(m, old, rings.1)?;
    }
    check_threshold(role, m, auth).map_err(|e| match e {
        Error::ThresholdNotMet { missing, .. } => invalid(format!(
            "{role}: the signing keys are not reachable; put the private key of one of [{}] into a key directory (keys/) and run the command again",
            missing.join(", ")
        )),
        other => other,
    })
}

/// [`publish`] without taking the lock (the caller holds it).
pub fn publish_locked(ws: &Workspace, opts: &PublishOptions) -> Result<PublishReport> {
    let now = ws.now();
    let cfg = ws.config();
    let published = ws.published()?;
    let old_root = &published.root.signed;
    let root = opts
        .new_root
        .as_ref()
        .map(|m| &m.signed)
        .unwrap_or(old_root);
    let consistent = root.consistent();
    let ring = ws.keyring()?;
    // During a root rotation, roles are also signed with keys the *old* root trusts, so
    // that clients still on it accept them until the new root lands. A revoked key in
    // `keys/revoked/` may serve here: the old root trusts it anyway, and the new root
    // written last ends that trust.
    let transition_ring = if opts.new_root.is_some() {
        let mut dirs = cfg.key_dirs(ws.dir());
        dirs.extend(cfg.key_dirs(ws.dir()).iter().map(|d| d.join("revoked")));
        KeyRing::load(&dirs)?
    } else {
        KeyRing::default()
    };
    let mut report = PublishReport::default();

    if root.expires <= now {
        return Err(invalid(format!(
            "root v{} expired at {}: clients accept nothing from this repository until a new root is published; run `tufkit root expire DIR --in 365d`, have the root key holders `tufkit sign` DIR/staged/root.json, then `tufkit root publish DIR`",
            root.version, root.expires
        )));
    }
    if expires_within(root.expires, now, cfg.refresh_window("root")) {
        report.warnings.push(format!(
            "root v{} expires in {}: plan a root ceremony (`tufkit root expire DIR --in 365d`)",
            root.version,
            format_duration(root.expires - now)
        ));
    }

    let drafts = if opts.include_drafts {
        ws.drafts().roles()?
    } else {
        RoleSet::new()
    };
    let mut working = published.roles.clone();
    working.extend(drafts.clone());

    // Which targets roles get a new version.
    let mut changing: BTreeSet<String> = BTreeSet::new();
    for (name, draft) in &drafts {
        match published.roles.get(name) {
            Some(p) if same_content(&p.signed, &draft.signed) => {}
            _ => {
                changing.insert(name.clone());
            }
        }
    }
    if opts.include_drafts {
        if role_keys_changed(old_root, root, "targets") {
            changing.insert("targets".into());
        }
        // Delegated roles whose delegator changed their keys need new signatures.
        for name in published.roles.keys().filter(|n| *n != "targets") {
            let before = authority_for(old_root, &published.roles, name).ok();
            if let Ok(after) = authority_for(root, &working, name) {
                if before.as_ref() != Some(&after) {
                    changing.insert(name.clone());
                }
            }
        }
    }
    if opts.refresh_expiring {
        for (name, m) in &published.roles {
            if expires_within(m.signed.expires, now, cfg.refresh_window(name))
                && authority_for(root, &working, name).is_ok()
                && changing.insert(name.clone())
            {
                report.warnings.push(format!(
                    "{name}: expires in {}, re-signing it",
                    format_duration(m.signed.expires - now)
                ));
            }
        }
    }

    // Sign every changing role; nothing is written unless all of them meet thresholds.
    let mut signed: BTreeMap<String, Metadata<Targets>> = BTreeMap::new();
    for name in &changing {
        let auth = match authority_for(root, &working, name) {
            Ok(a) => a,
            Err(_) => {
                report.warnings.push(format!(
                    "{name}: draft dropped, the role is no longer delegated by any targets role"
                ));
                ws.drafts().remove_role(name)?;
                continue;
            }
        };
        let old_auth = if name == "targets" && opts.new_root.is_some() {
            Some(Authority::top_level(old_root, "targets")?)
        } else {
            None
        };
        let mut auths = vec![&auth];
        auths.extend(old_auth.as_ref());
        let m = working
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(format!("{name}: no metadata to publish")))?;
        let mut m = prepare_role(ws, name, m, published.role_version(name), &auths)?;
        missing_target_content(
            ws,
            name,
            &m.signed,
            published.roles.get(name).map(|p| &p.signed),
            consistent,
        )?;
        sign_with_reachable(&mut m, &auth, &ring)?;
        if let Some(old) = old_auth.as_ref().filter(|o| **o != auth) {
            sign_with_reachable(&mut m, old, &transition_ring)?;
        }
        let valid = valid_signers(&m, &auth)?;
        if (valid.len() as u64) < auth.threshold {
            report.pending.push(Pending {
                role: name.clone(),
                have: valid.len() as u64,
                need: auth.threshold,
                missing: auth
                    .keyids
                    .iter()
                    .filter(|k| !valid.contains(k))
                    .cloned()
                    .collect(),
                draft: ws.drafts().role_path(name),
            });
        }
        signed.insert(name.clone(), m);
    }
    if !report.pending.is_empty() {
        // Keep the signatures gathered so far; key holders add theirs to the drafts.
        for (name, m) in &signed {
            ws.drafts().save_role(name, m)?;
        }
        return Ok(report);
    }

    // Snapshot (spec 6.2: produced strictly in sequence by this single writer).
    let old_snapshot_auth = opts
        .new_root
        .as_ref()
        .map(|_| Authority::top_level(old_root, "snapshot"))
        .transpose()?;
    let snapshot_expiring = published.snapshot.as_ref().map_or(true, |s| {
        opts.refresh_expiring
            && expires_within(s.signed.expires, now, cfg.refresh_window("snapshot"))
    });
    let need_snapshot =
        !signed.is_empty() || opts.force_snapshot || opts.new_root.is_some() || snapshot_expiring;
    let mut role_bytes: Vec<(String, u64, Vec<u8>)> = Vec::new();
    for (name, m) in &signed {
        role_bytes.push((name.clone(), m.signed.version, to_bytes(m)?));
    }
    let mut snapshot_out: Option<(u64, Vec<u8>)> = None;
    if need_snapshot {
        let mut snap = match &published.snapshot {
            Some(s) => {
                let mut s = s.clone();
                s.signatures.clear();
                s
            }
            None => Metadata::new(Snapshot {
                type_: "snapshot".into(),
                spec_version: cfg.repository.spec_version.clone(),
                version: 0,
                expires: now,
                meta: BTreeMap::new(),
                unknown: Default::default(),
            }),
        };
        snap.signed.version += 1;
        snap.signed.expires = now + cfg.expiry_period("snapshot");
        for (name, version, bytes) in &role_bytes {
            snap.signed
                .meta
                .insert(format!("{name}.json"), meta_for(bytes, *version));
        }
        let auth = Authority::top_level(root, "snapshot")?;
        sign_online_role(
            "snapshot",
            &mut snap,
            &auth,
            old_snapshot_auth.as_ref(),
            (&ring, &transition_ring),
        )?;
        snapshot_out = Some((snap.signed.version, to_bytes(&snap)?));
    }

    // Timestamp.
    let timestamp_expiring = published.timestamp.as_ref().map_or(true, |t| {
        opts.refresh_expiring
            && expires_within(t.signed.expires, now, cfg.refresh_window("timestamp"))
    });
    let need_timestamp = snapshot_out.is_some() || opts.force_timestamp || timestamp_expiring;
    let mut timestamp_out: Option<(u64, Vec<u8>)> = None;
    if need_timestamp {
        let snapshot_meta = match (&snapshot_out, &published.timestamp) {
            (Some((v, bytes)), _) => meta_for(bytes, *v),
            (None, Some(t)) => t.signed.snapshot_meta().clone(),
            (None, None) => return Err(invalid("no snapshot to list in the timestamp")),
        };
        let (version, unknown, spec_version) = match &published.timestamp {
            Some(t) => (
                t.signed.version + 1,
                t.signed.unknown.clone(),
                t.signed.spec_version.clone(),
            ),
            None => (1, Default::default(), cfg.repository.spec_version.clone()),
        };
        let mut ts = Metadata::new(Timestamp {
            type_: "timestamp".into(),
            spec_version,
            version,
            expires: now + cfg.expiry_period("timestamp"),
            meta: BTreeMap::from([("snapshot.json".to_string(), snapshot_meta)]),
            unknown,
        });
        let auth = Authority::top_level(root, "timestamp")?;
        let old = opts
            .new_root
            .as_ref()
            .map(|_| Authority::top_level(old_root, "timestamp"))
            .transpose()?;
        sign_online_role(
            "timestamp",
            &mut ts,
            &auth,
            old.as_ref(),
            (&ring, &transition_ring),
        )?;
        timestamp_out = Some((version, to_bytes(&ts)?));
    }
    let root_out = match &opts.new_root {
        Some(r) => Some((r.signed.version, to_bytes(r)?)),
        None => None,
    };

    // Everything is signed and checked: write, in the safe order.
    let storage = ws.storage();
    let mut copied = HashSet::new();
    let total: usize = signed.values().map(|m| m.signed.targets.len()).sum();
    let mut seen = 0usize;
    for m in signed.values() {
        for (path, file) in &m.signed.targets {
            seen += 1;
            let Some(sha) = file.hashes.get("sha256") else {
                continue;
            };
            let staged = ws.drafts().file_path(sha);
            if !staged.is_file() {
                continue;
            }
            for dest in target_file_paths(path, file, consistent) {
                if !copied.insert(dest.clone()) {
                    continue;
                }
                if consistent {
                    storage.put_new_from_file(&dest, &staged)?;
                } else {
                    // Without consistent snapshots a target path names one file whose
                    // content changes from release to release.
                    let data = std::fs::read(&staged).map_err(|e| Error::io(&staged, e))?;
                    storage.put_replace(&dest, &data)?;
                }
                report.target_files += 1;
            }
            if report.target_files > 0 && report.target_files % 500 == 0 {
                ws.progress(&format!(
                    "copied {} target files ({seen}/{total} targets checked)",
                    report.target_files
                ));
            }
        }
    }
    // Delegated roles before top-level targets, all before the snapshot that names them.
    role_bytes.sort_by_key(|(name, _, _)| name == "targets");
    for (name, version, bytes) in &role_bytes {
        storage.put_new(&metadata_path(name, Some(*version)), bytes)?;
        if !consistent {
            storage.put_replace(&metadata_path(name, None), bytes)?;
        }
        report.published.push((name.clone(), *version));
    }
    if let Some((version, bytes)) = &snapshot_out {
        storage.put_new(&metadata_path("snapshot", Some(*version)), bytes)?;
        if !consistent {
            storage.put_replace(&metadata_path("snapshot", None), bytes)?;
        }
        report.published.push(("snapshot".into(), *version));
    }
    if let Some((version, bytes)) = &timestamp_out {
        storage.put_replace(&metadata_path("timestamp", None), bytes)?;
        report.published.push(("timestamp".into(), *version));
    }
    // The new root goes last: the roles above carry signatures from the old keys too
    // (when reachable), so clients on either root accept them during the switch.
    if let Some((version, bytes)) = &root_out {
        storage.put_new(&metadata_path("root", Some(*version)), bytes)?;
        storage.put_replace(&metadata_path("root", None), bytes)?;
        report.published.push(("root".into(), *version));
    }

    // Clean up drafts that are now published.
    for name in signed.keys() {
        ws.drafts().remove_role(name)?;
    }
    if opts.include_drafts {
        for (name, draft) in &drafts {
            if !signed.contains_key(name) && !changing.contains(name) {
                // A draft identical to what is published: nothing to keep.
                if published
                    .roles
                    .get(name)
                    .is_some_and(|p| same_content(&p.signed, &draft.signed))
                {
                    ws.drafts().remove_role(name)?;
                }
            }
        }
    }
    if opts.new_root.is_some() {
        ws.drafts().remove_root()?;
    }
    let keep: HashSet<String> = ws
        .drafts()
        .roles()?
        .values()
        .flat_map(|m| m.signed.targets.values())
        .filter_map(|f| f.hashes.get("sha256").cloned())
        .collect();
    ws.drafts().prune_files(&keep)?;
    Ok(report)
}
