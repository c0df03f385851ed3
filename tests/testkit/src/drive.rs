//! A minimal in-process client over a [`RepoSim`]'s served files, for tests of the
//! sans-I/O core: it feeds `tufkit_core::TrustedSet` and `TargetSearch` exactly the bytes
//! a client would download, so attacks staged on the served files reach the core as they
//! would reach a real client.

use tufkit_core::delegation::{SearchStep, TargetSearch};
use tufkit_core::metadata::TargetFile;
use tufkit_core::{Error, TrustedSet};

use crate::repo::RepoSim;

fn not_served(role: &str, path: &str) -> Error {
    Error::Unavailable {
        role: role.to_string(),
        reason: format!("the repository serves nothing at {path}"),
    }
}

/// Fetches the served bytes of `role` at `version`, or an error naming the missing path.
pub fn fetch(sim: &RepoSim, role: &str, version: u64) -> Result<Vec<u8>, Error> {
    let path = sim.metadata_path(role, version);
    sim.file(&path).ok_or_else(|| not_served(role, &path))
}

/// Fetches a targets role at the version the trusted snapshot lists for it.
pub fn fetch_listed(set: &TrustedSet, sim: &RepoSim, role: &str) -> Result<Vec<u8>, Error> {
    let version = set.snapshot_meta_for(role)?.version;
    fetch(sim, role, version)
}

/// Spec 5.3: updates `set`'s root through every newer root served, then checks the final
/// root (5.3.10).
pub fn update_roots(set: &mut TrustedSet, sim: &RepoSim) -> Result<(), Error> {
    loop {
        let next = set.root().version + 1;
        let Some(bytes) = sim.file(&sim.metadata_path("root", next)) else {
            break;
        };
        set.update_root(&bytes)?;
    }
    set.check_final_root()
}

/// A whole top-level refresh from root v1 at `time`: roots, timestamp, snapshot, targets.
pub fn refresh(sim: &RepoSim, time: chrono::DateTime<chrono::Utc>) -> Result<TrustedSet, Error> {
    let mut set = TrustedSet::new(&sim.trusted_root_bytes(1), time)?;
    refresh_from(&mut set, sim)?;
    Ok(set)
}

/// Refreshes an already bootstrapped `set`: roots, timestamp, snapshot, targets.
pub fn refresh_from(set: &mut TrustedSet, sim: &RepoSim) -> Result<(), Error> {
    update_roots(set, sim)?;
    let ts = fetch(sim, "timestamp", 0)?;
    set.update_timestamp(&ts)?;
    let version = set
        .timestamp()
        .map(|t| t.snapshot_meta().version)
        .unwrap_or_default();
    let snap = fetch(sim, "snapshot", version)?;
    set.update_snapshot(&snap)?;
    let targets = fetch_listed(set, sim, "targets")?;
    set.update_targets(&targets)?;
    Ok(())
}

/// What one target search did.
#[derive(Debug)]
pub struct SearchRun {
    /// The role that lists the target, and the target, if found.
    pub found: Option<(String, TargetFile)>,
    /// Every role the search asked to load, in order, with its delegator.
    pub requested: Vec<(String, String)>,
    /// Roles that failed to load or to re-verify, with why.
    pub failures: Vec<(String, Error)>,
}

impl SearchRun {
    /// The name of the role that lists the target, if found.
    pub fn found_in(&self) -> Option<&str> {
        self.found.as_ref().map(|(r, _)| r.as_str())
    }

    /// The names of the roles requested, in order.
    pub fn requested_names(&self) -> Vec<&str> {
        self.requested.iter().map(|(r, _)| r.as_str()).collect()
    }
}

/// Runs a [`TargetSearch`] for `path` over `set`, loading each role the search asks for
/// from the served files at the version the snapshot lists. Panics if the search does not
/// end within 10,000 steps (it must always end).
pub fn search(set: &mut TrustedSet, sim: &RepoSim, path: &str, max_roles: usize) -> SearchRun {
    let mut search = TargetSearch::new(path, max_roles);
    let mut requested = Vec::new();
    for _ in 0..10_000 {
        match search.step(set) {
            SearchStep::NeedRole { role, delegator } => {
                requested.push((role.clone(), delegator.clone()));
                let loaded = fetch_listed(set, sim, &role).and_then(|bytes| {
                    set.update_delegated_targets(&bytes, &role, &delegator)
                        .map(|_| ())
                });
                if let Err(e) = loaded {
                    search.role_failed(&role, e);
                }
            }
            SearchStep::Found { target, role } => {
                return SearchRun {
                    found: Some((role, target)),
                    requested,
                    failures: search.failures().to_vec(),
                }
            }
            SearchStep::NotFound => {
                return SearchRun {
                    found: None,
                    requested,
                    failures: search.failures().to_vec(),
                }
            }
        }
    }
    panic!("target search for {path:?} did not end");
}
