//! Target search through the delegation graph (spec 5.6.7), as pure logic.
//!
//! [`TargetSearch`] walks the graph in pre-order depth-first order, delegations in their
//! listed (priority) order. It never fetches anything: when it needs a role that is not
//! trusted yet it returns [`SearchStep::NeedRole`]; the caller loads the role into the
//! [`TrustedSet`] (or reports the failure with [`TargetSearch::role_failed`]) and calls
//! [`TargetSearch::step`] again.

use std::collections::HashSet;

use crate::crypto::hash::HashAlgorithm;
use crate::error::Error;
use crate::metadata::TargetFile;
use crate::trust::TrustedSet;

/// Default cap on the number of roles one search visits.
pub const DEFAULT_MAX_DELEGATIONS: usize = 32;

/// What the search needs or found.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchStep {
    /// Load `role` (delegated by `delegator`) into the trusted set, then call `step` again.
    NeedRole {
        /// Role to load.
        role: String,
        /// Role whose delegation leads to it (`root` for `targets`).
        delegator: String,
    },
    /// The target, and the role that signed it.
    Found {
        /// Target info.
        target: TargetFile,
        /// Role whose metadata lists the target.
        role: String,
    },
    /// No role on the search path lists the target.
    NotFound,
}

/// What is left to do at one level of the search.
#[derive(Debug)]
enum Pending {
    /// Visit `role`, reached through `delegator`.
    Role { role: String, delegator: String },
    /// Look for the next delegation of `delegator` at position `from` or later that is
    /// trusted for the path.
    Scan { delegator: String, from: usize },
}

/// A pre-order depth-first search for one target path.
///
/// Delegations are read one at a time, in order, when the search gets to them: a
/// delegator with 16,384 hashed bins is scanned only up to the bin that lists the target.
#[derive(Debug)]
pub struct TargetSearch {
    path: String,
    digest: String,
    stack: Vec<Pending>,
    visited: HashSet<String>,
    remaining: usize,
    failures: Vec<(String, Error)>,
}

impl TargetSearch {
    /// A search for `target_path` visiting at most `max_roles` delegated roles (the
    /// top-level targets role is not counted, as in python-tuf).
    pub fn new(target_path: &str, max_roles: usize) -> TargetSearch {
        TargetSearch {
            path: target_path.to_string(),
            digest: HashAlgorithm::Sha256.hex_digest(target_path.as_bytes()),
            stack: vec![Pending::Role {
                role: "targets".to_string(),
                delegator: "root".to_string(),
            }],
            visited: HashSet::new(),
            remaining: max_roles,
            failures: Vec::new(),
        }
    }

    /// The target path searched for.
    pub fn target_path(&self) -> &str {
        &self.path
    }

    /// Roles that failed to load during the search, with why. A failed role ends only its
    /// own branch; these explain a final `NotFound`.
    pub fn failures(&self) -> &[(String, Error)] {
        &self.failures
    }

    /// Records that the role last asked for could not be loaded; its branch is skipped.
    pub fn role_failed(&mut self, role: &str, error: Error) {
        let pos = self
            .stack
            .iter()
            .rposition(|p| matches!(p, Pending::Role { role: r, .. } if r == role));
        if let Some(pos) = pos {
            self.stack.remove(pos);
            self.visited.insert(role.to_string());
            self.remaining = self.remaining.saturating_sub(1);
        }
        self.failures.push((role.to_string(), error));
    }

    /// Advances the search as far as the trusted set allows.
    pub fn step(&mut self, trusted: &TrustedSet) -> SearchStep {
        while let Some(pending) = self.stack.last() {
            let (role, delegator) = match pending {
                Pending::Scan { delegator, from } => {
                    let (delegator, from) = (delegator.clone(), *from);
                    self.stack.pop();
                    if self.remaining > 0 {
                        self.scan(trusted, delegator, from);
                    }
                    continue;
                }
                Pending::Role { role, delegator } => (role.clone(), delegator.clone()),
            };
            if self.remaining == 0 && role != "targets" {
                break;
            }
            // Each role is visited once per search (cycles, diamonds).
            if self.visited.contains(&role) {
                self.stack.pop();
                continue;
            }
            let Some(targets) = trusted.targets_role(&role) else {
                return SearchStep::NeedRole { role, delegator };
            };
            // A role trusted through another delegator must also satisfy this one.
            if role != "targets" {
                if let Err(e) = trusted.verify_loaded_role_via(&role, &delegator) {
                    self.stack.pop();
                    self.visited.insert(role.clone());
                    self.remaining = self.remaining.saturating_sub(1);
                    self.failures.push((role, e));
                    continue;
                }
            }
            self.stack.pop();
            self.visited.insert(role.clone());
            if role != "targets" {
                self.remaining = self.remaining.saturating_sub(1);
            }
            // 5.6.7.1: the role lists the target. Its entry is built and validated now; a
            // malformed entry fails the role like any other invalid metadata.
            match targets.target(&self.path) {
                Ok(Some(target)) => return SearchStep::Found { target, role },
                Ok(None) => {}
                Err(e) => {
                    self.failures.push((role, e));
                    continue;
                }
            }
            // 5.6.7.2: then its delegations whose paths match, in priority order.
            if targets.delegations().is_some() {
                self.stack.push(Pending::Scan {
                    delegator: role,
                    from: 0,
                });
            }
        }
        SearchStep::NotFound
    }

    /// Finds the next delegation of `delegator` trusted for the path and queues it, with
    /// the rest of the scan behind it (5.6.7.2).
    fn scan(&mut self, trusted: &TrustedSet, delegator: String, from: usize) {
        let Some(delegations) = trusted
            .targets_role(&delegator)
            .and_then(|t| t.delegations())
        else {
            return;
        };
        match delegations.next_match(&self.path, &self.digest, from) {
            Ok(None) => {}
            Ok(Some((i, role, terminating))) => {
                if terminating {
                    // 5.6.7.2.1.4: a terminating role ends the search after its subtree.
                    self.stack.clear();
                } else {
                    self.stack.push(Pending::Scan {
                        delegator: delegator.clone(),
                        from: i + 1,
                    });
                }
                self.stack.push(Pending::Role { role, delegator });
            }
            // A malformed delegation on the path ends this delegator's branch.
            Err(e) => self.failures.push((delegator, e)),
        }
    }
}
