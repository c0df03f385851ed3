//! `tufkit timestamp` / `tufkit snapshot`: re-sign the online roles on a schedule, and
//! the threshold check `status` uses on published roles.

use chrono::{DateTime, Duration, Utc};

use crate::error::{invalid, Result};
use crate::publish::{publish_locked, PublishOptions, PublishReport};
use crate::signing::valid_signers;
use crate::state::{authority_for, Authority, Published};
use crate::workspace::Workspace;

/// Outcome of `tufkit timestamp` / `tufkit snapshot`.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The published role is not expiring within the given window.
    NotNeeded {
        /// Role checked.
        role: String,
        /// Its expiry.
        expires: DateTime<Utc>,
    },
    /// New metadata was published.
    Published(PublishReport),
}

/// Re-signs the timestamp (`role == "timestamp"`) or the snapshot and then the timestamp
/// (`role == "snapshot"`) with bumped versions, always or only when expiring within
/// `within`.
pub fn refresh(ws: &Workspace, role: &str, within: Option<Duration>) -> Result<RefreshOutcome> {
    let _lock = ws.lock()?;
    let published = ws.head()?;
    let expires = match role {
        "timestamp" => published.timestamp.as_ref().map(|t| t.signed.expires),
        "snapshot" => published.snapshot.as_ref().map(|s| s.signed.expires),
        other => return Err(invalid(format!("cannot refresh {other}"))),
    };
    let expires = expires.ok_or_else(|| {
        invalid(format!(
            "no {role} is published yet; run `tufkit publish DIR` first"
        ))
    })?;
    if let Some(w) = within {
        if expires - ws.now() >= w {
            return Ok(RefreshOutcome::NotNeeded {
                role: role.into(),
                expires,
            });
        }
    }
    let opts = PublishOptions {
        force_snapshot: role == "snapshot",
        force_timestamp: true,
        ..PublishOptions::default()
    };
    publish_locked(ws, &opts).map(RefreshOutcome::Published)
}

/// Verifies that published `role` metadata would still be accepted by its authority;
/// used by status to flag roles whose signatures no longer meet the threshold.
pub fn published_threshold_ok(published: &Published, role: &str) -> bool {
    let root = &published.root.signed;
    let check = |auth: Authority| -> bool {
        match role {
            "root" => valid_signers(&published.root, &auth)
                .is_ok_and(|v| v.len() as u64 >= auth.threshold),
            "timestamp" => published.timestamp.as_ref().is_some_and(|m| {
                valid_signers(m, &auth).is_ok_and(|v| v.len() as u64 >= auth.threshold)
            }),
            "snapshot" => published.snapshot.as_ref().is_some_and(|m| {
                valid_signers(m, &auth).is_ok_and(|v| v.len() as u64 >= auth.threshold)
            }),
            _ => published.roles.get(role).is_some_and(|m| {
                valid_signers(m, &auth).is_ok_and(|v| v.len() as u64 >= auth.threshold)
            }),
        }
    };
    let auth = match role {
        "root" | "timestamp" | "snapshot" => Authority::top_level(root, role),
        _ => authority_for(root, &published.roles, role),
    };
    auth.is_ok_and(check)
}
