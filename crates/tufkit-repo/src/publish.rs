//! Publishing: sign what changed, then write target files, targets metadata, snapshot,
//! timestamp and (during a root rotation) the new root, in that order (spec 6.2).
//!
//! Every threshold is checked before the first byte is written. Each write is atomic and
//! versioned files are never overwritten, so a crash at any point leaves the published
//! tree in its old state or its new state: the timestamp, written last among the online
//! roles, is what makes a new state visible. Running the command again resumes an
//! interrupted publish (see the `write` module).
//!
//! Only what changes is read: see [`publish_locked`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::crypto::KeyId;
use tufkit_core::metadata::{
    MetaFile, Metadata, Parsed, RoleMetadata, Root, Snapshot, Targets, Timestamp,
};

use crate::changes::changing_roles;
use crate::duration::format_duration;
use crate::error::{invalid, Error, Result};
use crate::index::ExpiryIndex;
use crate::keys::KeyRing;
use crate::resign::{expires_within, sign_all, staged_target_files, Context, Job};
pub use crate::resign::{same_content, target_file_paths};
use crate::roles::RoleStore;
use crate::signing::{check_threshold, sign_with_reachable};
use crate::state::{metadata_path, to_bytes, Authority};
use crate::storage::{BatchFile, Content};
use crate::workspace::Workspace;
use crate::write::{check_signable, place_roles, place_snapshot};

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

/// The next snapshot: the published one with the new versions of `signed` roles.
fn next_snapshot(
    ws: &Workspace,
    published: Option<&Metadata<Snapshot>>,
    signed: &[(String, u64, Vec<u8>)],
) -> Metadata<Snapshot> {
    let now = ws.now();
    let cfg = ws.config();
    let mut snap = match published {
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
    for (name, version, bytes) in signed {
        snap.signed
            .meta
            .insert(format!("{name}.json"), meta_for(bytes, *version));
    }
    snap
}

/// [`publish`] without taking the lock (the caller holds it).
///
/// Only the roles that change are read and signed: drafts, the published versions they
/// replace, roles whose delegation keys changed, and roles about to expire (known from
/// the expiry cache, see [`crate::index`]). Versions for the snapshot come from the
/// published snapshot.
pub fn publish_locked(ws: &Workspace, opts: &PublishOptions) -> Result<PublishReport> {
    let now = ws.now();
    let cfg = ws.config();
    let head = ws.head()?;
    let old_root = &head.root.signed;
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

    let store = RoleStore::new(ws, &head, opts.include_drafts)?;
    let mut index = ExpiryIndex::load(ws);
    let changing = changing_roles(ws, &store, root, opts, &mut index, &mut report)?;

    // Who signs each changing role; roles no longer delegated are dropped.
    let mut jobs = Vec::new();
    for name in &changing {
        let auth = match store.authority(root, name) {
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
        jobs.push(Job {
            name: name.clone(),
            published_version: head.role_version(name),
            auth,
            old_auth,
        });
    }
    let (copies, linked) = if jobs.is_empty() {
        (HashSet::new(), BTreeMap::new())
    } else {
        (
            ws.drafts().staged_files()?,
            crate::links::load(ws.drafts().dir())?,
        )
    };
    let mut staged = copies.clone();
    staged.extend(linked.keys().cloned());
    let ctx = Context {
        ws,
        store: &store,
        ring: &ring,
        transition_ring: &transition_ring,
        consistent,
        staged: &staged,
        copies: &copies,
        linked: &linked,
        hosted: Default::default(),
    };
    if jobs.len() > 64 {
        ws.progress(&format!("signing {} targets roles", jobs.len()));
    }
    let signed = sign_all(&ctx, jobs)?;
    for s in signed.iter().filter(|s| s.bytes.is_none()) {
        report.pending.push(Pending {
            role: s.name.clone(),
            have: s.valid.len() as u64,
            need: s.auth.threshold,
            missing: s
                .auth
                .keyids
                .iter()
                .filter(|k| !s.valid.contains(k))
                .cloned()
                .collect(),
            draft: ws.drafts().role_path(&s.name),
        });
    }
    if !report.pending.is_empty() {
        // Keep the signatures gathered so far; key holders add theirs to the drafts.
        // Roles that met their threshold are kept as bytes: read back for this.
        let complete = crate::parallel::try_map(
            signed.iter().filter(|s| s.pending.is_none()).collect(),
            crate::parallel::cpu_threads(),
            |s: &crate::resign::Signed| -> Result<(String, Metadata<Targets>)> {
                let bytes = s.bytes.as_deref().unwrap_or_default();
                let m = Parsed::<Targets>::from_slice(bytes, &s.name)
                    .map_err(|e| Error::metadata(format!("new {} metadata", s.name), e))?
                    .metadata;
                Ok((s.name.clone(), m))
            },
        )?;
        let mut drafts: Vec<(String, &Metadata<Targets>)> =
            complete.iter().map(|(n, m)| (n.clone(), m)).collect();
        drafts.extend(
            signed
                .iter()
                .filter_map(|s| s.pending.as_ref().map(|m| (s.name.clone(), m))),
        );
        ws.drafts().save_roles(drafts)?;
        return Ok(report);
    }

    // What follows the targets metadata, and whether it can be signed: checked before
    // the first byte is written.
    let snapshot_expiring = head.snapshot.as_ref().map_or(true, |s| {
        opts.refresh_expiring
            && expires_within(s.signed.expires, now, cfg.refresh_window("snapshot"))
    });
    let need_snapshot =
        !signed.is_empty() || opts.force_snapshot || opts.new_root.is_some() || snapshot_expiring;
    let timestamp_expiring = head.timestamp.as_ref().map_or(true, |t| {
        opts.refresh_expiring
            && expires_within(t.signed.expires, now, cfg.refresh_window("timestamp"))
    });
    let need_timestamp = need_snapshot || opts.force_timestamp || timestamp_expiring;
    if need_snapshot {
        check_signable(root, "snapshot", &ring)?;
    }
    if need_timestamp {
        check_signable(root, "timestamp", &ring)?;
        if !need_snapshot && head.timestamp.is_none() {
            return Err(invalid("no snapshot to list in the timestamp"));
        }
    }
    let root_out = match &opts.new_root {
        Some(r) => Some((r.signed.version, to_bytes(r)?)),
        None => None,
    };

    // 1. Target files and targets metadata (spec 6.2: consistent snapshots make new
    // versions invisible until the snapshot names them).
    let files = staged_target_files(&ctx, &signed);
    report.target_files = files.len();
    if files.len() + signed.len() > 64 {
        ws.progress(&format!(
            "writing {} target files and {} metadata files",
            files.len(),
            signed.len()
        ));
    }
    let mut signed = signed;
    place_roles(ws, consistent, opts.include_drafts, &files, &mut signed)?;
    let role_bytes: Vec<(String, u64, Vec<u8>)> = signed
        .iter_mut()
        .filter_map(|s| s.bytes.take().map(|b| (s.name.clone(), s.version, b)))
        .collect();
    let storage = ws.storage();
    if !consistent {
        // Unversioned copies: delegated roles before the top-level targets.
        let delegated: Vec<BatchFile<'_>> = role_bytes
            .iter()
            .filter(|r| r.0 != "targets")
            .map(|(name, _, bytes)| BatchFile {
                path: metadata_path(name, None),
                content: Content::Bytes(bytes),
                replace: true,
            })
            .collect();
        storage.put_batch(&delegated)?;
        if let Some((_, _, bytes)) = role_bytes.iter().find(|r| r.0 == "targets") {
            storage.put_replace(&metadata_path("targets", None), bytes)?;
        }
    }
    let mut order: Vec<&(String, u64, Vec<u8>)> = role_bytes.iter().collect();
    order.sort_by_key(|(name, _, _)| name == "targets");
    report
        .published
        .extend(order.iter().map(|(n, v, _)| (n.clone(), *v)));

    // 2. Snapshot (spec 6.2: produced strictly in sequence by this single writer).
    let mut snapshot_out: Option<(u64, Vec<u8>)> = None;
    if need_snapshot {
        let mut snap = next_snapshot(ws, head.snapshot.as_ref(), &role_bytes);
        let auth = Authority::top_level(root, "snapshot")?;
        let old_auth = opts
            .new_root
            .as_ref()
            .map(|_| Authority::top_level(old_root, "snapshot"))
            .transpose()?;
        sign_online_role(
            "snapshot",
            &mut snap,
            &auth,
            old_auth.as_ref(),
            (&ring, &transition_ring),
        )?;
        let bytes = place_snapshot(storage, &snap, to_bytes(&snap)?, &auth)?;
        if !consistent {
            storage.put_replace(&metadata_path("snapshot", None), &bytes)?;
        }
        for s in &signed {
            if let Some(meta) = snap.signed.role_meta(&s.name) {
                index.set(&s.name, meta, s.expires);
            }
        }
        index.retain(|r| snap.signed.role_meta(r).is_some());
        report
            .published
            .push(("snapshot".into(), snap.signed.version));
        snapshot_out = Some((snap.signed.version, bytes));
    }

    // 3. Timestamp, which makes the new state visible.
    if need_timestamp {
        let snapshot_meta = match (&snapshot_out, &head.timestamp) {
            (Some((v, bytes)), _) => meta_for(bytes, *v),
            (None, Some(t)) => t.signed.snapshot_meta().clone(),
            (None, None) => return Err(invalid("no snapshot to list in the timestamp")),
        };
        let (version, unknown, spec_version) = match &head.timestamp {
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
        storage.put_replace(&metadata_path("timestamp", None), &to_bytes(&ts)?)?;
        report.published.push(("timestamp".into(), version));
    }
    // 4. The new root goes last: the roles above carry signatures from the old keys too
    // (when reachable), so clients on either root accept them during the switch.
    if let Some((version, bytes)) = &root_out {
        storage.put_new(&metadata_path("root", Some(*version)), bytes)?;
        storage.put_replace(&metadata_path("root", None), bytes)?;
        report.published.push(("root".into(), *version));
    }
    drop(signed);
    // Clean up drafts that are now published (or identical to what is).
    let published_names: Vec<String> = role_bytes.iter().map(|r| r.0.clone()).collect();
    let mut done: HashSet<String> = published_names.iter().cloned().collect();
    if opts.include_drafts {
        for name in store.draft_names() {
            if !changing.contains(&name) {
                done.insert(name);
            }
        }
    }
    let doomed: Vec<String> = done.iter().cloned().collect();
    crate::parallel::try_map(doomed, crate::parallel::io_threads(), |n| {
        ws.drafts().remove_role(&n)
    })?;
    if opts.new_root.is_some() {
        ws.drafts().remove_root()?;
    }
    if opts.include_drafts {
        // Staged content no remaining draft refers to is published now.
        let remaining: Vec<String> = store
            .draft_names()
            .into_iter()
            .filter(|n| !done.contains(n))
            .collect();
        let mut keep = HashSet::new();
        for name in remaining {
            if let Some(m) = ws.drafts().role(&name)? {
                keep.extend(
                    m.signed
                        .targets
                        .values()
                        .filter_map(|f| f.hashes.get("sha256").cloned()),
                );
            }
        }
        ws.drafts().prune_files(&keep)?;
        crate::links::prune(ws.drafts().dir(), &keep)?;
    }
    index.save()?;
    Ok(report)
}
