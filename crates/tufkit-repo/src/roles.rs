//! Targets roles loaded on demand: the published version a snapshot names, the draft laid
//! over it, and in-memory edits over both.
//!
//! A repository with hashed bins has tens of thousands of roles; adding one target must
//! read the top-level `targets` and the one bin its path maps to, not all of them. Every
//! command that changes the repository goes through a [`RoleStore`], which reads a role
//! the first time it is asked for and keeps it for the rest of the command, so memory is
//! bounded by the roles a command touches.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use tufkit_core::metadata::{Metadata, Root, Targets};

use crate::error::{invalid, Result};
use crate::routing::DelegationIndex;
use crate::state::{metadata_path, read_metadata, Authority, Head};
use crate::workspace::Workspace;

type Role = Arc<Metadata<Targets>>;
type Cache = Mutex<HashMap<String, Option<Role>>>;
type Routes = Mutex<HashMap<String, Arc<DelegationIndex>>>;

/// Which state of the repository a lookup sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// What clients see now: the roles the published snapshot names.
    Published,
    /// Drafts (and in-memory edits) laid over the published roles.
    Working,
}

/// Targets roles read lazily from the published tree and the drafts.
pub struct RoleStore<'a> {
    ws: &'a Workspace,
    head: &'a Head,
    consistent: bool,
    drafts: HashSet<String>,
    published: Cache,
    drafted: Cache,
    edits: HashMap<String, Role>,
    /// Delegations indexed for routing, by delegating role (working state).
    routes: Routes,
}

impl std::fmt::Debug for RoleStore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleStore")
            .field("drafts", &self.drafts.len())
            .field("edits", &self.edits.len())
            .finish_non_exhaustive()
    }
}

fn lock(cache: &Cache) -> std::sync::MutexGuard<'_, HashMap<String, Option<Role>>> {
    // A panic while holding the lock cannot leave the map inconsistent (single inserts).
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a> RoleStore<'a> {
    /// A store over the published state `head` and, when `with_drafts`, the drafts in
    /// `staged/roles/` (only their names are read here).
    pub fn new(ws: &'a Workspace, head: &'a Head, with_drafts: bool) -> Result<RoleStore<'a>> {
        let drafts = if with_drafts {
            ws.drafts().role_names()?.into_iter().collect()
        } else {
            HashSet::new()
        };
        Ok(RoleStore {
            ws,
            head,
            consistent: head.root.signed.consistent(),
            drafts,
            published: Mutex::new(HashMap::new()),
            drafted: Mutex::new(HashMap::new()),
            edits: HashMap::new(),
            routes: Mutex::new(HashMap::new()),
        })
    }

    /// The published state the store reads from.
    pub fn head(&self) -> &Head {
        self.head
    }

    /// Names of the roles that have a draft.
    pub fn draft_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.drafts.iter().cloned().collect();
        names.sort();
        names
    }

    /// The published version of `role`, read on first use (`None` if never published).
    pub fn published(&self, role: &str) -> Result<Option<Role>> {
        if let Some(hit) = lock(&self.published).get(role) {
            return Ok(hit.clone());
        }
        let loaded = self.read_published(role)?;
        lock(&self.published).insert(role.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// The published version of `role`, from the cache or read without keeping it (a
    /// publish of thousands of roles looks at each one once).
    pub fn published_once(&self, role: &str) -> Result<Option<Role>> {
        if let Some(hit) = lock(&self.published).get(role) {
            return Ok(hit.clone());
        }
        self.read_published(role)
    }

    fn read_published(&self, role: &str) -> Result<Option<Role>> {
        let version = self.head.role_version(role);
        if version == 0 {
            return Ok(None);
        }
        let path = metadata_path(role, self.consistent.then_some(version));
        let m = read_metadata::<Targets>(self.ws.storage(), &path, role)?.ok_or_else(|| {
            invalid(format!(
                "repository/{path} is missing although the snapshot lists {role} v{version}: the published tree is damaged; run `tufkit verify DIR`"
            ))
        })?;
        Ok(Some(Arc::new(m)))
    }

    /// True if `role` has a draft.
    pub fn has_draft(&self, role: &str) -> bool {
        self.drafts.contains(role)
    }

    /// The draft of `role`, from the cache or read without keeping it.
    pub fn draft_once(&self, role: &str) -> Result<Option<Role>> {
        if !self.drafts.contains(role) {
            return Ok(None);
        }
        if let Some(hit) = lock(&self.drafted).get(role) {
            return Ok(hit.clone());
        }
        Ok(self.ws.drafts().role(role)?.map(Arc::new))
    }

    /// The draft of `role`, read on first use.
    pub fn draft(&self, role: &str) -> Result<Option<Role>> {
        if !self.drafts.contains(role) {
            return Ok(None);
        }
        if let Some(hit) = lock(&self.drafted).get(role) {
            return Ok(hit.clone());
        }
        let loaded = self.ws.drafts().role(role)?.map(Arc::new);
        lock(&self.drafted).insert(role.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// The role as `layer` sees it.
    pub fn get_in(&self, layer: Layer, role: &str) -> Result<Option<Role>> {
        if layer == Layer::Working {
            if let Some(m) = self.edits.get(role) {
                return Ok(Some(m.clone()));
            }
            if let Some(m) = self.draft(role)? {
                return Ok(Some(m));
            }
        }
        self.published(role)
    }

    /// The working copy of `role`: an edit, else its draft, else its published version.
    pub fn get(&self, role: &str) -> Result<Option<Role>> {
        self.get_in(Layer::Working, role)
    }

    /// True if `role` has metadata in the working state (published, drafted or edited).
    pub fn exists(&self, role: &str) -> bool {
        self.edits.contains_key(role)
            || self.drafts.contains(role)
            || self.head.role_version(role) > 0
    }

    /// Reads `roles` in parallel in `layer` (a warm-up: later lookups hit the cache).
    pub fn preload(&self, layer: Layer, roles: &[String]) -> Result<()> {
        let names: Vec<&String> = roles.iter().collect();
        crate::parallel::try_map(names, crate::parallel::cpu_threads(), |r| {
            self.get_in(layer, r).map(|_| ())
        })
        .map(|_| ())
    }

    /// The working copy of `role` to edit in memory; `new` makes it if the role has no
    /// metadata yet. Saved by [`RoleStore::save_edits`].
    pub fn edit(
        &mut self,
        role: &str,
        new: impl FnOnce() -> Metadata<Targets>,
    ) -> Result<&mut Metadata<Targets>> {
        // The role may change: its delegations are indexed again when next needed.
        self.routes
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .remove(role);
        if !self.edits.contains_key(role) {
            let m = self.get(role)?;
            // Out of the caches, so that the edit holds the only reference and changing
            // it does not copy it (a bin of a large repository lists many targets).
            if self.drafts.contains(role) {
                lock(&self.drafted).remove(role);
            } else {
                lock(&self.published).remove(role);
            }
            let m = m.unwrap_or_else(|| Arc::new(new()));
            self.edits.insert(role.to_string(), m);
        }
        let m = self
            .edits
            .get_mut(role)
            .ok_or_else(|| invalid(format!("{role}: edit vanished")))?;
        Ok(Arc::make_mut(m))
    }

    /// Takes the working copy of `role` out of the store (for signing): it is not kept
    /// in the caches, and no copy is made unless someone else still holds it.
    pub fn take(&self, role: &str) -> Result<Option<Metadata<Targets>>> {
        let m = match self.edits.get(role) {
            Some(m) => Some(m.clone()),
            None => {
                let drafted = if self.drafts.contains(role) {
                    match lock(&self.drafted).remove(role) {
                        Some(hit) => hit,
                        None => self.ws.drafts().role(role)?.map(Arc::new),
                    }
                } else {
                    None
                };
                match drafted {
                    Some(m) => Some(m),
                    None => match lock(&self.published).remove(role) {
                        Some(hit) => hit,
                        None => self.read_published(role)?,
                    },
                }
            }
        };
        Ok(m.map(|m| Arc::try_unwrap(m).unwrap_or_else(|shared| (*shared).clone())))
    }

    /// Roles edited in memory so far.
    pub fn edited(&self) -> Vec<String> {
        let mut names: Vec<String> = self.edits.keys().cloned().collect();
        names.sort();
        names
    }

    /// Writes every edit to its draft (in parallel). Edited content is new content, so
    /// earlier signatures no longer cover it and are dropped.
    pub fn save_edits(&mut self) -> Result<usize> {
        for m in self.edits.values_mut() {
            Arc::make_mut(m).signatures.clear();
        }
        let list: Vec<(String, &Metadata<Targets>)> = self
            .edits
            .iter()
            .map(|(n, m)| (n.clone(), m.as_ref()))
            .collect();
        let n = list.len();
        self.ws.drafts().save_roles(list)?;
        for name in self.edits.keys() {
            self.drafts.insert(name.clone());
        }
        Ok(n)
    }

    /// Who may sign `role` in `layer`: the first delegation to it found breadth-first
    /// from `targets`, as [`crate::state::authority_for`] does on a full role set.
    /// Hashed bins are descended into last (they rarely delegate further), so a lookup
    /// reads only the delegators on the way.
    pub fn authority_in(&self, layer: Layer, root: &Root, role: &str) -> Result<Authority> {
        if role == "targets" {
            return Authority::top_level(root, "targets");
        }
        match self.find_delegator(layer, role)? {
            Some((delegator, auth)) => Ok(Authority { delegator, ..auth }),
            None => Err(invalid(format!(
                "role {role:?} is not delegated by any targets role; delegate it first with `tufkit delegate DIR --to {role} ...`"
            ))),
        }
    }

    /// [`RoleStore::authority_in`] on the working state.
    pub fn authority(&self, root: &Root, role: &str) -> Result<Authority> {
        self.authority_in(Layer::Working, root, role)
    }

    fn find_delegator(&self, layer: Layer, role: &str) -> Result<Option<(String, Authority)>> {
        let mut queue = VecDeque::from(["targets".to_string()]);
        let mut bins: VecDeque<String> = VecDeque::new();
        let mut seen = HashSet::new();
        loop {
            let Some(name) = queue.pop_front().or_else(|| bins.pop_front()) else {
                return Ok(None);
            };
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(m) = self.get_in(layer, &name)? else {
                continue;
            };
            let Some(d) = m.signed.delegations.as_ref() else {
                continue;
            };
            if let Some(keys) = d.role_keys(role) {
                let auth = Authority {
                    delegator: name.clone(),
                    keys: keys
                        .keyids
                        .iter()
                        .filter_map(|k| d.keys.get(k).map(|v| (k.clone(), v.clone())))
                        .collect(),
                    keyids: keys.keyids.to_vec(),
                    threshold: keys.threshold,
                };
                return Ok(Some((name, auth)));
            }
            if let Some(list) = &d.roles {
                queue.extend(list.iter().map(|r| r.name.clone()));
            }
            if let Some(s) = &d.succinct_roles {
                bins.extend(
                    (0..s.bin_count())
                        .map(|i| s.bin_name(i))
                        .filter(|b| self.exists(b)),
                );
            }
        }
    }

    /// The role a new target at `path` belongs in: the role a client's search would reach
    /// first that lists it already, else the deepest first-priority delegation matching
    /// it (as [`crate::state::role_for_target`] on a full role set).
    pub fn route(&self, path: &str) -> Result<String> {
        self.walk_route(path, |role, m| {
            self.delegation_index(role, m)
                .first_match(path)
                .map(|(child, _)| child)
        })
    }

    /// 5.6.7: a client searches pre-order from the top-level targets role, following the
    /// first delegation `next` says is trusted for the path (5.6.7.2.1.3), until a role
    /// lists the path already or delegates it no further.
    fn walk_route(
        &self,
        path: &str,
        next: impl Fn(&str, &Role) -> Option<String>,
    ) -> Result<String> {
        let mut current = "targets".to_string();
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(current.clone()) {
                return Ok(current);
            }
            let Some(m) = self.get(&current)? else {
                return Ok(current);
            };
            if m.signed.targets.contains_key(path) {
                return Ok(current);
            }
            match next(&current, &m) {
                Some(child) => current = child,
                None => return Ok(current),
            }
        }
    }

    /// The delegations of `role` (whose working copy is `m`) indexed for routing, built
    /// on first use and kept for the rest of the command.
    fn delegation_index(&self, role: &str, m: &Role) -> Arc<DelegationIndex> {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = routes.get(role) {
            return hit.clone();
        }
        let built = Arc::new(DelegationIndex::new(m.signed.delegations.as_ref()));
        routes.insert(role.to_string(), built.clone());
        built
    }

    /// [`RoleStore::route`] by trying every delegated role in turn: the reference the
    /// indexed routing is checked against.
    #[doc(hidden)]
    pub fn route_by_scan(&self, path: &str) -> Result<String> {
        self.walk_route(path, |_, m| {
            m.signed
                .delegations
                .as_ref()
                .and_then(|d| d.roles_for_target(path).into_iter().next())
                .map(|(child, _)| child)
        })
    }

    /// Refuses to list `path` in delegated `role` unless the delegation to it covers the
    /// path: clients would never trust it from there (spec 5.6.7.2.1.3).
    pub fn check_may_list(&self, role: &str, path: &str) -> Result<()> {
        if role == "targets" {
            return Ok(());
        }
        let Some((delegator, _)) = self.find_delegator(Layer::Working, role)? else {
            return Err(invalid(format!(
                "role {role:?} is not delegated by any targets role; delegate it first with `tufkit delegate DIR --to {role} ...`"
            )));
        };
        let covered = self
            .get(&delegator)?
            .and_then(|m| {
                m.signed
                    .delegations
                    .as_ref()
                    .map(|d| match (&d.roles, &d.succinct_roles) {
                        (Some(list), _) => list.iter().any(|r| r.name == role && r.matches(path)),
                        (None, Some(s)) => s.bin_for(path) == role,
                        _ => false,
                    })
            })
            .unwrap_or(false);
        if !covered {
            return Err(invalid(format!(
                "target {path:?} is outside the paths delegated to {role}; clients would not trust it there. Choose a matching --as path or another --role"
            )));
        }
        Ok(())
    }
}
