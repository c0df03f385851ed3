//! `tufkit status`: versions, expiry, keys and thresholds of every role, staged changes
//! and warnings.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tufkit_core::crypto::KeyId;

use crate::duration::format_duration;
use crate::error::Result;
use crate::refresh::published_threshold_ok;
use crate::rootops::root_signature_status;
use crate::state::{authority_for, Authority};
use crate::workspace::Workspace;

/// The state of one role.
#[derive(Debug, Clone, Serialize)]
pub struct RoleStatus {
    /// Role name.
    pub role: String,
    /// Who delegates it (`root` for top-level roles).
    pub delegator: String,
    /// Published version (0 if not published).
    pub version: u64,
    /// Published expiry.
    pub expires: Option<DateTime<Utc>>,
    /// Seconds until expiry (negative when expired).
    pub seconds_left: Option<i64>,
    /// Authorised keyids.
    pub keyids: Vec<KeyId>,
    /// Threshold.
    pub threshold: u64,
    /// Authorised keys whose private key is reachable in the key directories.
    pub reachable_keys: Vec<KeyId>,
    /// Whether the published metadata meets its threshold.
    pub threshold_met: bool,
    /// A description of staged changes to the role, if any.
    pub staged: Option<String>,
}

/// The whole repository's state.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Reference time of the report.
    pub now: DateTime<Utc>,
    /// Every role, top-level first.
    pub roles: Vec<RoleStatus>,
    /// The staged next root, if any: version and what it still needs.
    pub staged_root: Option<String>,
    /// Things to act on.
    pub warnings: Vec<String>,
}

/// Gathers the status of the workspace.
pub fn status(ws: &Workspace) -> Result<Status> {
    let now = ws.now();
    let published = ws.published()?;
    let ring = ws.keyring()?;
    let drafts = ws.drafts().roles()?;
    let working = ws.working_roles(&published)?;
    let root = &published.root.signed;
    let mut roles = Vec::new();
    let mut warnings = Vec::new();
    let reachable = |auth: &Authority| -> Vec<KeyId> {
        auth.keyids
            .iter()
            .filter(|k| {
                auth.keys
                    .get(*k)
                    .is_some_and(|key| ring.find(key).is_some())
            })
            .cloned()
            .collect()
    };
    let mut push = |name: &str,
                    auth: Option<Authority>,
                    version: u64,
                    expires: Option<DateTime<Utc>>,
                    staged: Option<String>,
                    warnings: &mut Vec<String>| {
        let auth = auth.unwrap_or(Authority {
            delegator: "?".into(),
            keys: Default::default(),
            keyids: vec![],
            threshold: 0,
        });
        let reach = reachable(&auth);
        let threshold_met = version > 0 && published_threshold_ok(&published, name);
        if let Some(exp) = expires {
            let left = exp - now;
            if left <= chrono::Duration::zero() {
                warnings.push(format!(
                    "{name}: EXPIRED {} ago; clients refuse it",
                    format_duration(-left)
                ));
            } else if left < ws.config().refresh_window(name) {
                warnings.push(format!(
                    "{name}: expires in {} (re-sign: {})",
                    format_duration(left),
                    match name {
                        "timestamp" => "`tufkit timestamp DIR`".to_string(),
                        "snapshot" => "`tufkit snapshot DIR`".to_string(),
                        "root" => "root ceremony, `tufkit root expire DIR --in 365d`".to_string(),
                        _ => "`tufkit publish DIR`".to_string(),
                    }
                ));
            }
        }
        if version > 0 && !threshold_met {
            warnings.push(format!(
                "{name}: published signatures do not meet the threshold of {}",
                auth.threshold
            ));
        }
        if name != "root" && (reach.len() as u64) < auth.threshold {
            warnings.push(format!(
                "{name}: only {} of {} required key(s) reachable here; publishing it needs the other key holders (`tufkit sign`)",
                reach.len(),
                auth.threshold
            ));
        }
        if auth.threshold > 1 && auth.keyids.len() as u64 == auth.threshold {
            warnings.push(format!(
                "{name}: threshold at risk: all {} keys are needed, losing one locks the role",
                auth.threshold
            ));
        }
        if name == "root" && !reach.is_empty() {
            warnings.push(format!(
                "root: {} root key(s) are online in the key directories; move them to offline storage",
                reach.len()
            ));
        }
        roles.push(RoleStatus {
            role: name.to_string(),
            delegator: auth.delegator.clone(),
            version,
            expires,
            seconds_left: expires.map(|e| (e - now).num_seconds()),
            keyids: auth.keyids.clone(),
            threshold: auth.threshold,
            reachable_keys: reach,
            threshold_met,
            staged,
        });
    };
    push(
        "root",
        Authority::top_level(root, "root").ok(),
        root.version,
        Some(root.expires),
        None,
        &mut warnings,
    );
    push(
        "timestamp",
        Authority::top_level(root, "timestamp").ok(),
        published.timestamp.as_ref().map_or(0, |t| t.signed.version),
        published.timestamp.as_ref().map(|t| t.signed.expires),
        None,
        &mut warnings,
    );
    push(
        "snapshot",
        Authority::top_level(root, "snapshot").ok(),
        published.snapshot.as_ref().map_or(0, |s| s.signed.version),
        published.snapshot.as_ref().map(|s| s.signed.expires),
        None,
        &mut warnings,
    );
    let mut names: Vec<&String> = working.keys().collect();
    names.sort_by_key(|n| (*n != "targets", (*n).clone()));
    for name in names {
        let published_role = published.roles.get(name);
        let staged = drafts.get(name).map(|d| {
            let before = published_role.map(|p| &p.signed.targets);
            let added = d
                .signed
                .targets
                .iter()
                .filter(|(p, f)| before.and_then(|b| b.get(*p)) != Some(*f))
                .count();
            let removed = before.map_or(0, |b| {
                b.keys()
                    .filter(|p| !d.signed.targets.contains_key(*p))
                    .count()
            });
            let deleg_changed =
                published_role.map(|p| &p.signed.delegations) != Some(&d.signed.delegations);
            let mut parts = vec![
                format!("{added} target(s) added/changed"),
                format!("{removed} removed"),
            ];
            if deleg_changed {
                parts.push("delegations changed".into());
            }
            if !d.signatures.is_empty() {
                parts.push(format!("{} signature(s) collected", d.signatures.len()));
            }
            parts.join(", ")
        });
        push(
            name,
            authority_for(root, &working, name).ok(),
            published.role_version(name),
            published_role.map(|p| p.signed.expires),
            staged,
            &mut warnings,
        );
    }
    let staged_root = match ws.drafts().root()? {
        Some(staged) if staged.signed.version == root.version + 1 => {
            let s = root_signature_status(root, &staged)?;
            Some(format!(
                "root v{}: {}/{} signatures from current root keys, {}/{} from its own; still to sign: {}",
                s.version,
                s.old.0,
                s.old.1,
                s.new.0,
                s.new.1,
                if s.missing.is_empty() {
                    "none (run `tufkit root publish DIR`)".to_string()
                } else {
                    s.missing.iter().map(|k| k.0.clone()).collect::<Vec<_>>().join(", ")
                }
            ))
        }
        Some(staged) => Some(format!(
            "staged root v{} is stale (published root is v{}); delete staged/root.json",
            staged.signed.version, root.version
        )),
        None => None,
    };
    Ok(Status {
        now,
        roles,
        staged_root,
        warnings,
    })
}
