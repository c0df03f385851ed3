//! `tufkit verify`: checks the published tree exactly as a fresh client would.
//!
//! Starting from `1.root.json`, it walks the whole root chain, then timestamp, snapshot,
//! top-level targets and every delegated role through tufkit-core's [`TrustedSet`], and
//! resolves every listed target with [`TargetSearch`] before checking the target file's
//! length and hashes. No trust decision is made here: the client state machine makes
//! them all.

use std::collections::{BTreeSet, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use tufkit_core::crypto::hash::check_length_and_hashes;
use tufkit_core::{SearchStep, TargetSearch, TrustedSet, DEFAULT_MAX_DELEGATIONS};

use crate::publish::target_file_paths;
use crate::state::metadata_path;
use crate::storage::Storage;
use crate::workspace::Workspace;

/// Most root versions a verification walks (as a client's cap, spec 5.3.3).
pub const MAX_ROOT_ROTATIONS: u64 = 1024;

/// The result of a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Root versions accepted, in order.
    pub root_versions: Vec<u64>,
    /// Roles accepted with their versions (timestamp, snapshot, targets roles).
    pub roles: Vec<(String, u64)>,
    /// Target files whose content was checked.
    pub targets_checked: usize,
    /// Targets hosted elsewhere (no file here, see [`crate::hosted`]): metadata checked.
    pub hosted_elsewhere: usize,
    /// Failures: a client would refuse something. Empty means the repository verifies.
    pub problems: Vec<String>,
    /// Oddities that do not make a client fail.
    pub warnings: Vec<String>,
}

impl VerifyReport {
    /// True when a client would accept everything.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the published tree in `storage` at reference time `now`.
pub fn verify(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    progress: &dyn Fn(&str),
) -> crate::Result<VerifyReport> {
    verify_with(storage, now, progress, &HashSet::new())
}

/// Verifies the published tree of a workspace at its reference time. Targets the
/// workspace records as hosted elsewhere (`tufkit add --manifest`) need no file in the
/// published tree.
pub fn verify_workspace(ws: &Workspace, progress: &dyn Fn(&str)) -> crate::Result<VerifyReport> {
    let hosted = crate::hosted::load(ws)?;
    verify_with(ws.storage(), ws.now(), progress, &hosted)
}

/// [`verify`], where a missing file for a target path in `hosted` is not a problem.
pub fn verify_with(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    progress: &dyn Fn(&str),
    hosted: &HashSet<String>,
) -> crate::Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let fail = |report: &mut VerifyReport, msg: String| {
        report.problems.push(msg);
    };
    // 5.2: the trusted root shipped to clients.
    let Some(first) = storage.read(&metadata_path("root", Some(1)))? else {
        fail(
            &mut report,
            "metadata/1.root.json is missing: clients have no root to start from".into(),
        );
        return Ok(report);
    };
    let mut trusted = match TrustedSet::new(&first, now) {
        Ok(t) => t,
        Err(e) => {
            fail(&mut report, format!("metadata/1.root.json: {e}"));
            return Ok(report);
        }
    };
    report.root_versions.push(1);
    // 5.3: the root chain.
    for v in 2..=MAX_ROOT_ROTATIONS {
        let path = metadata_path("root", Some(v));
        let Some(bytes) = storage.read(&path)? else {
            break;
        };
        if let Err(e) = trusted.update_root(&bytes) {
            fail(&mut report, format!("{path}: {e}"));
            return Ok(report);
        }
        report.root_versions.push(v);
    }
    if let Err(e) = trusted.check_final_root() {
        fail(&mut report, format!("final root: {e}"));
        return Ok(report);
    }
    let consistent = trusted.root().consistent();
    // 5.4: timestamp.
    let ts_path = metadata_path("timestamp", None);
    let Some(ts) = storage.read(&ts_path)? else {
        fail(&mut report, format!("{ts_path} is missing"));
        return Ok(report);
    };
    if let Err(e) = trusted.update_timestamp(&ts) {
        fail(&mut report, format!("{ts_path}: {e}"));
        return Ok(report);
    }
    let ts_version = trusted.timestamp().map(|t| t.version).unwrap_or(0);
    report.roles.push(("timestamp".into(), ts_version));
    // 5.5: snapshot.
    let snap_version = trusted
        .timestamp()
        .map(|t| t.snapshot_meta().version)
        .unwrap_or(0);
    let snap_path = metadata_path("snapshot", consistent.then_some(snap_version));
    let Some(snap) = storage.read(&snap_path)? else {
        fail(&mut report, format!("{snap_path} is missing"));
        return Ok(report);
    };
    if let Err(e) = trusted.update_snapshot(&snap) {
        fail(&mut report, format!("{snap_path}: {e}"));
        return Ok(report);
    }
    report.roles.push(("snapshot".into(), snap_version));
    // 5.6: targets, then every delegated role breadth-first.
    let mut queue = VecDeque::from([("targets".to_string(), "root".to_string())]);
    let mut loaded: BTreeSet<String> = BTreeSet::new();
    while let Some((role, delegator)) = queue.pop_front() {
        if loaded.contains(&role) {
            if let Err(e) = trusted.verify_loaded_role_via(&role, &delegator) {
                fail(&mut report, format!("{role} (via {delegator}): {e}"));
            }
            continue;
        }
        let meta = match trusted.snapshot_meta_for(&role) {
            Ok(m) => m.clone(),
            Err(e) => {
                if role == "targets" {
                    fail(&mut report, format!("targets: {e}"));
                } else {
                    report.warnings.push(format!(
                        "{role} (delegated by {delegator}) is not published: targets it would hold cannot be found"
                    ));
                }
                continue;
            }
        };
        let path = metadata_path(&role, consistent.then_some(meta.version));
        let Some(bytes) = storage.read(&path)? else {
            fail(
                &mut report,
                format!("{path} is missing although the snapshot lists it"),
            );
            continue;
        };
        match trusted.update_delegated_targets(&bytes, &role, &delegator) {
            Ok(t) => {
                report.roles.push((role.clone(), t.version()));
                // A client builds only the entries it looks up; a repository check builds
                // them all so a malformed entry is reported now.
                if let Err(e) = t.to_metadata() {
                    fail(&mut report, format!("{path}: {e}"));
                }
                loaded.insert(role.clone());
                if let Some(d) = t.delegations() {
                    for name in d.role_names() {
                        queue.push_back((name.to_string(), role.clone()));
                    }
                    if let Some(s) = d.succinct_roles() {
                        for i in 0..s.bin_count() {
                            queue.push_back((s.bin_name(i), role.clone()));
                        }
                    }
                }
            }
            Err(e) => fail(&mut report, format!("{path}: {e}")),
        }
    }
    if let Some(snapshot) = trusted.snapshot() {
        for name in snapshot.keys() {
            let role = name.trim_end_matches(".json");
            if !loaded.contains(role) {
                report.warnings.push(format!(
                    "{role} is listed in the snapshot but no longer delegated (revoked); clients ignore it"
                ));
            }
        }
    }
    // 5.6.7 / 5.7: resolve every target as a client would and check its content.
    let mut targets: Vec<(String, String)> = Vec::new();
    for role in &loaded {
        if let Some(t) = trusted.targets_role(role) {
            targets.extend(t.keys().map(|p| (p.to_string(), role.clone())));
        }
    }
    let total = targets.len();
    for (i, (path, role)) in targets.iter().enumerate() {
        if total > 200 && i % 200 == 0 {
            progress(&format!("checking target {}/{total}", i + 1));
        }
        let mut search = TargetSearch::new(path, DEFAULT_MAX_DELEGATIONS);
        let found = loop {
            match search.step(&trusted) {
                SearchStep::Found { target, role } => break Some((target, role)),
                SearchStep::NotFound => break None,
                SearchStep::NeedRole { role, .. } => {
                    search.role_failed(
                        &role,
                        tufkit_core::Error::MissingFromSnapshot { role: role.clone() },
                    );
                }
            }
        };
        let Some((file, found_role)) = found else {
            report.warnings.push(format!(
                "target {path:?} listed by {role} is not reachable by a client's search (its delegation does not cover it)"
            ));
            continue;
        };
        if &found_role != role {
            // Another role wins the search; that role's entry is checked on its own turn.
            report.warnings.push(format!(
                "target {path:?} in {role} is shadowed by {found_role}, which clients find first"
            ));
            continue;
        }
        let mut elsewhere = false;
        for p in target_file_paths(path, &file, consistent) {
            match storage.read(&p)? {
                None if hosted.contains(path) => {
                    elsewhere = true;
                    break;
                }
                None => fail(
                    &mut report,
                    format!("{p}: missing target file for {path:?} ({role})"),
                ),
                Some(bytes) => {
                    if let Err(e) =
                        check_length_and_hashes(&p, &bytes, Some(file.length), Some(&file.hashes))
                    {
                        fail(&mut report, format!("{p}: {e}"));
                    }
                }
            }
        }
        if elsewhere {
            report.hosted_elsewhere += 1;
        } else {
            report.targets_checked += 1;
        }
    }
    Ok(report)
}
