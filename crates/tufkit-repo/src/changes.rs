//! Which targets roles a publish gives a new version: changed drafts, roles whose
//! delegation keys changed, and roles about to expire. Only those roles are read.

use std::collections::BTreeSet;

use tufkit_core::metadata::Root;

use crate::duration::format_duration;
use crate::error::Result;
use crate::index::ExpiryIndex;
use crate::publish::{role_keys_changed, PublishOptions, PublishReport};
use crate::resign::{expires_within, same_content};
use crate::roles::{Layer, RoleStore};
use crate::workspace::Workspace;

/// Roles whose delegation entry (keys, threshold) differs between `before` and `after`
/// delegations of one delegator: every role either of them names.
fn delegated_names(d: Option<&tufkit_core::metadata::Delegations>) -> Vec<String> {
    let Some(d) = d else {
        return Vec::new();
    };
    let mut out: Vec<String> = d.roles.iter().flatten().map(|r| r.name.clone()).collect();
    if let Some(s) = &d.succinct_roles {
        out.extend((0..s.bin_count()).map(|i| s.bin_name(i)));
    }
    out
}

/// Which targets roles get a new version, and why (warnings for expiring roles).
pub(crate) fn changing_roles(
    ws: &Workspace,
    store: &RoleStore<'_>,
    root: &Root,
    opts: &PublishOptions,
    index: &mut ExpiryIndex,
    report: &mut PublishReport,
) -> Result<BTreeSet<String>> {
    let head = store.head();
    let old_root = &head.root.signed;
    let now = ws.now();
    let cfg = ws.config();
    let drafts = store.draft_names();
    // Each draft is compared with its published version and let go: a hashed-bin
    // delegation may have thousands of large drafts, read again when signed.
    let compared = crate::parallel::try_map(
        drafts.iter().collect(),
        crate::parallel::cpu_threads(),
        |name: &String| -> Result<Option<Vec<String>>> {
            let Some(d) = store.draft_once(name)? else {
                return Ok(None);
            };
            let p = store.published_once(name)?;
            if p.as_ref()
                .is_some_and(|p| same_content(&p.signed, &d.signed))
            {
                return Ok(None);
            }
            let before = p.as_ref().and_then(|p| p.signed.delegations.as_ref());
            let mut rekeyed = Vec::new();
            if before != d.signed.delegations.as_ref() {
                rekeyed.extend(delegated_names(before));
                rekeyed.extend(delegated_names(d.signed.delegations.as_ref()));
            }
            Ok(Some(rekeyed))
        },
    )?;
    let mut changing = BTreeSet::new();
    let mut rekeyed = BTreeSet::new();
    for (name, change) in drafts.iter().zip(compared) {
        if let Some(names) = change {
            changing.insert(name.clone());
            rekeyed.extend(names);
        }
    }
    if opts.include_drafts {
        if role_keys_changed(old_root, root, "targets") {
            changing.insert("targets".into());
        }
        // Published roles whose delegator changed their keys or threshold need new
        // signatures: only roles named by a changed delegation can be affected.
        for name in rekeyed {
            if changing.contains(&name) || head.role_version(&name) == 0 {
                continue;
            }
            let before = store.authority_in(Layer::Published, old_root, &name).ok();
            if let Ok(after) = store.authority(root, &name) {
                if before.as_ref() != Some(&after) {
                    changing.insert(name);
                }
            }
        }
    }
    if opts.refresh_expiring {
        let Some(snapshot) = head.snapshot.as_ref() else {
            return Ok(changing);
        };
        let listed = head.listed_roles();
        // Roles the expiry cache does not cover are read (once; then cached).
        let unknown: Vec<String> = listed
            .iter()
            .filter(|r| {
                snapshot
                    .signed
                    .role_meta(r)
                    .is_some_and(|m| index.get(r, m).is_none())
            })
            .cloned()
            .collect();
        if unknown.len() > 64 {
            ws.progress(&format!(
                "reading {} published roles to learn when they expire (once; then cached in {}/)",
                unknown.len(),
                crate::index::CACHE_DIR
            ));
        }
        // Only the expiry of each is kept.
        let expiries = crate::parallel::try_map(
            unknown.iter().collect(),
            crate::parallel::cpu_threads(),
            |r: &String| store.published_once(r).map(|m| m.map(|m| m.signed.expires)),
        )?;
        for (r, expires) in unknown.iter().zip(expiries) {
            if let (Some(expires), Some(meta)) = (expires, snapshot.signed.role_meta(r)) {
                index.set(r, meta, expires);
            }
        }
        let mut expiring = Vec::new();
        for name in listed {
            let Some(expires) = snapshot
                .signed
                .role_meta(&name)
                .and_then(|m| index.get(&name, m))
            else {
                continue;
            };
            if expires_within(expires, now, cfg.refresh_window(&name))
                && store.authority(root, &name).is_ok()
                && changing.insert(name.clone())
            {
                expiring.push((name, expires));
            }
        }
        if expiring.len() <= 10 {
            for (name, expires) in &expiring {
                report.warnings.push(format!(
                    "{name}: expires in {}, re-signing it",
                    format_duration(*expires - now)
                ));
            }
        } else if let (Some(first), Some(last)) = (expiring.first(), expiring.last()) {
            report.warnings.push(format!(
                "{} roles ({} .. {}) expire within their refresh window, re-signing them",
                expiring.len(),
                first.0,
                last.0
            ));
        }
    }
    Ok(changing)
}
