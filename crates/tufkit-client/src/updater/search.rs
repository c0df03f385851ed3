//! Target search through the delegation graph (spec 5.6.7), loading roles lazily.

use tufkit_core::{SearchStep, TargetSearch};

use super::{TargetInfo, Updater};
use crate::error::{Error, Result};

fn as_core_error(role: &str, error: Error) -> tufkit_core::Error {
    match error {
        Error::Metadata { source, .. } => *source,
        other => tufkit_core::Error::Unavailable {
            role: role.to_string(),
            reason: other.to_string(),
        },
    }
}

impl Updater {
    /// Finds a target's info by searching the delegation graph (spec 5.6.7).
    ///
    /// Refreshes first if this updater has not refreshed yet. Only roles on the search path
    /// are fetched, each at most once per updater; valid local copies are reused. A role
    /// that cannot be loaded ends only its own branch. Every role is re-checked against
    /// the delegator through which the search reaches it.
    pub async fn target_info(&mut self, target_path: &str) -> Result<TargetInfo> {
        if self.trusted.is_none() {
            self.refresh().await?;
        }
        let Some(mut trusted) = self.trusted.take() else {
            return Err(Error::TargetNotFound {
                path: target_path.to_string(),
                failures: Vec::new(),
            });
        };
        let result = self.search(&mut trusted, target_path).await;
        self.trusted = Some(trusted);
        result
    }

    async fn search(
        &self,
        trusted: &mut tufkit_core::TrustedSet,
        target_path: &str,
    ) -> Result<TargetInfo> {
        let mut search = TargetSearch::new(target_path, self.config.max_delegations);
        loop {
            match search.step(trusted) {
                SearchStep::Found { target, role } => {
                    return Ok(TargetInfo {
                        path: target_path.to_string(),
                        file: target,
                        role,
                    })
                }
                SearchStep::NotFound => {
                    let failures = search
                        .failures()
                        .iter()
                        .map(|(role, e)| (role.clone(), e.to_string()))
                        .collect();
                    return Err(Error::TargetNotFound {
                        path: target_path.to_string(),
                        failures,
                    });
                }
                SearchStep::NeedRole { role, delegator } => {
                    match self.load_targets_role(trusted, &role, &delegator).await {
                        Ok(()) => {}
                        // A local disk failure is not a property of the role: stop.
                        Err(e @ Error::Store { .. }) => return Err(e),
                        // The search visits each role once, so a failed role is not
                        // requested again through another delegator.
                        Err(e) => search.role_failed(&role, as_core_error(&role, e)),
                    }
                }
            }
        }
    }
}
