//! The next version of targets roles: version, expiry, content checks and signatures,
//! for many roles in parallel (a hashed-bin delegation publishes thousands at once).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use tufkit_core::crypto::{KeyId, PublicKey};
use tufkit_core::metadata::{Metadata, TargetFile, Targets};

use crate::error::{invalid, Result};
use crate::keys::KeyRing;
use crate::links::LinkedSource;
use crate::roles::RoleStore;
use crate::signing::{canonical_signed, sign_over, valid_signers_over};
use crate::state::{to_bytes, Authority};
use crate::workspace::Workspace;

/// One targets role to re-sign. Its working copy (draft or published) is read by the
/// signing worker, so that only the roles being signed right now are in memory.
#[derive(Debug)]
pub struct Job {
    /// The role.
    pub name: String,
    /// Its published version number (0 if never published).
    pub published_version: u64,
    /// Who signs it now.
    pub auth: Authority,
    /// During a root rotation, who signed it under the old root (for `targets`).
    pub old_auth: Option<Authority>,
}

/// A signed role (or one that still needs signatures). A role that meets its threshold
/// is kept as its bytes only (a bin of a large repository lists many targets).
#[derive(Debug)]
pub struct Signed {
    /// The role.
    pub name: String,
    /// The new version.
    pub version: u64,
    /// The new expiry.
    pub expires: DateTime<Utc>,
    /// Its published bytes (only when the threshold is met).
    pub bytes: Option<Vec<u8>>,
    /// The new version signed with every reachable key, while it still needs
    /// signatures (`bytes` is `None`).
    pub pending: Option<Metadata<Targets>>,
    /// Its targets whose content is staged: (target path, file).
    pub staged: Vec<(String, TargetFile)>,
    /// Valid signatures from `auth`.
    pub valid: Vec<KeyId>,
    /// Who signs it.
    pub auth: Authority,
}

/// What signing needs besides the jobs.
pub struct Context<'a> {
    /// The workspace (clock, policy, drafts).
    pub ws: &'a Workspace,
    /// Where the working copies of the roles are read from.
    pub store: &'a RoleStore<'a>,
    /// Keys the new root trusts.
    pub ring: &'a KeyRing,
    /// Keys the old root trusts (during a rotation).
    pub transition_ring: &'a KeyRing,
    /// Consistent snapshots (versioned and content-addressed file names).
    pub consistent: bool,
    /// SHA-256 names of the staged target files: private copies and linked sources.
    pub staged: &'a HashSet<String>,
    /// SHA-256 names of the private copies in `staged/files/`.
    pub copies: &'a HashSet<String>,
    /// Staged content kept as a record of its source file (`target_files = "link"`),
    /// by SHA-256; content with a private copy is not here.
    pub linked: &'a BTreeMap<String, LinkedSource>,
    /// Target paths recorded as hosted elsewhere (read on first need).
    pub hosted: std::sync::OnceLock<std::result::Result<HashSet<String>, String>>,
}

pub(crate) fn expires_within(expires: DateTime<Utc>, now: DateTime<Utc>, window: Duration) -> bool {
    expires - now < window
}

/// True if two roles differ only in version and expiry.
pub fn same_content(a: &Targets, b: &Targets) -> bool {
    a.type_ == b.type_
        && a.spec_version == b.spec_version
        && a.unknown == b.unknown
        && a.delegations == b.delegations
        && a.targets == b.targets
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

/// Fresh version and expiry, unless the draft is already sealed for that version by
/// someone's signature (key holders signed it with `tufkit sign`).
fn prepare(ctx: &Context<'_>, job: &Job, m: &mut Metadata<Targets>) -> Result<Vec<u8>> {
    let now = ctx.ws.now();
    let cfg = ctx.ws.config();
    let next = job.published_version + 1;
    if m.signed.version == next
        && !m.signatures.is_empty()
        && !expires_within(m.signed.expires, now, cfg.refresh_window(&job.name))
    {
        let msg = canonical_signed(m)?;
        let auths: Vec<&Authority> = std::iter::once(&job.auth)
            .chain(job.old_auth.as_ref())
            .collect();
        if auths
            .iter()
            .any(|a| !valid_signers_over(&msg, &m.signatures, a).is_empty())
        {
            // Keep only signatures that still verify over this content.
            m.signatures.retain(|sig| {
                auths.iter().any(|a| {
                    let one = std::slice::from_ref(sig);
                    !valid_signers_over(&msg, one, a).is_empty()
                })
            });
            return Ok(msg);
        }
    }
    m.signed.version = next;
    m.signed.expires = now + cfg.expiry_period(&job.name);
    m.signatures.clear();
    canonical_signed(m)
}

/// Refuses a role that lists a new target whose content is neither staged nor
/// published (nor recorded as hosted elsewhere).
fn check_content(ctx: &Context<'_>, job: &Job, m: &Metadata<Targets>) -> Result<()> {
    // The published version is what a draft is compared with.
    let before = if ctx.store.has_draft(&job.name) {
        ctx.store.published_once(&job.name)?
    } else {
        None
    };
    let Some(before) = before else {
        if job.published_version > 0 && !ctx.store.has_draft(&job.name) {
            // The published content itself: nothing new to check.
            return Ok(());
        }
        return check_targets(ctx, job, m, None);
    };
    check_targets(ctx, job, m, Some(&before.signed))
}

fn check_targets(
    ctx: &Context<'_>,
    job: &Job,
    m: &Metadata<Targets>,
    before: Option<&Targets>,
) -> Result<()> {
    for (path, file) in &m.signed.targets {
        if before.and_then(|b| b.targets.get(path)) == Some(file) {
            continue;
        }
        if file
            .hashes
            .get("sha256")
            .is_some_and(|h| ctx.staged.contains(h))
        {
            continue;
        }
        let hosted = ctx
            .hosted
            .get_or_init(|| crate::hosted::load(ctx.ws).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| invalid(e.clone()))?;
        if hosted.contains(path) {
            continue;
        }
        for p in target_file_paths(path, file, ctx.consistent) {
            if !ctx.ws.storage().exists(&p)? {
                return Err(invalid(format!(
                    "{}: target {path:?} has no content: neither staged nor published at repository/{p}; stage it with `tufkit add DIR FILE --as {path}` or remove it with `tufkit remove DIR {path}`",
                    job.name
                )));
            }
        }
    }
    Ok(())
}

fn sign_one(ctx: &Context<'_>, job: Job) -> Result<Signed> {
    let mut m = ctx
        .store
        .take(&job.name)?
        .ok_or_else(|| invalid(format!("{}: no metadata to publish", job.name)))?;
    let msg = prepare(ctx, &job, &mut m)?;
    check_content(ctx, &job, &m)?;
    let Job {
        name,
        auth,
        old_auth,
        ..
    } = job;
    // Signatures made just now are valid by construction (made by the authorised key
    // over `msg`): only those collected earlier are verified.
    let mut valid = if m.signatures.is_empty() {
        Vec::new()
    } else {
        valid_signers_over(&msg, &m.signatures, &auth)
    };
    let public = |k: &KeyId| auth.keys.get(k).and_then(|k| PublicKey::from_key(k).ok());
    let mut counted: HashSet<PublicKey> = valid.iter().filter_map(public).collect();
    for k in sign_over(&msg, &mut m.signatures, &auth, ctx.ring)? {
        // Each distinct key counts once, as for clients.
        if public(&k).is_some_and(|p| counted.insert(p)) {
            valid.push(k);
        }
    }
    if let Some(old) = old_auth.as_ref().filter(|o| **o != auth) {
        sign_over(&msg, &mut m.signatures, old, ctx.transition_ring)?;
    }
    let staged = m
        .signed
        .targets
        .iter()
        .filter(|(_, file)| {
            file.hashes
                .get("sha256")
                .is_some_and(|sha| ctx.staged.contains(sha))
        })
        .map(|(path, file)| (path.clone(), file.clone()))
        .collect();
    let (version, expires) = (m.signed.version, m.signed.expires);
    let (bytes, pending) = if (valid.len() as u64) >= auth.threshold {
        (Some(to_bytes(&m)?), None)
    } else {
        (None, Some(m))
    };
    Ok(Signed {
        name,
        version,
        expires,
        bytes,
        pending,
        staged,
        valid,
        auth,
    })
}

/// Prepares and signs every job, on every core. Results come back in job order.
pub fn sign_all(ctx: &Context<'_>, jobs: Vec<Job>) -> Result<Vec<Signed>> {
    let total = jobs.len() as u64;
    let done = AtomicU64::new(0);
    crate::parallel::try_map(jobs, crate::parallel::cpu_threads(), |job| {
        let r = sign_one(ctx, job);
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if total > 64 && (n % 64 == 0 || n == total) {
            ctx.ws.progress_count("signing", n, total);
        }
        r
    })
}

/// Where the content of a staged target file is.
#[derive(Debug, Clone)]
pub enum StagedFile<'a> {
    /// A private copy in `staged/files/`.
    Copy(PathBuf),
    /// The source file itself, as recorded by `add` (to be hard-linked).
    Linked(&'a LinkedSource),
}

/// Target files of the signed roles whose content is staged: (published path, where
/// the content is), each published path once.
pub fn staged_target_files<'a>(
    ctx: &Context<'a>,
    signed: &[Signed],
) -> Vec<(String, StagedFile<'a>)> {
    let mut out = BTreeMap::new();
    for s in signed {
        for (path, file) in &s.staged {
            let Some(sha) = file.hashes.get("sha256") else {
                continue;
            };
            for dest in target_file_paths(path, file, ctx.consistent) {
                out.entry(dest)
                    .or_insert_with(|| match ctx.linked.get(sha) {
                        // A private copy, when there is one, is preferred.
                        Some(rec) if !ctx.copies.contains(sha) => StagedFile::Linked(rec),
                        _ => StagedFile::Copy(ctx.ws.drafts().file_path(sha)),
                    });
            }
        }
    }
    out.into_iter().collect()
}
