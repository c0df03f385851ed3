//! `tufkit status` and `tufkit verify`: looking at a repository.

use anyhow::bail;
use tufkit_repo::duration::format_duration;

use crate::commands::{DirArg, StatusArgs};
use crate::open_workspace;

/// Runs `tufkit status`.
pub fn status(a: StatusArgs) -> anyhow::Result<()> {
    let ws = open_workspace(&a.dir)?;
    let s = tufkit_repo::status::status(&ws)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("Repository {} at {}", a.dir.display(), s.now);
    println!(
        "{:<16} {:>4}  {:<21} {:>9}  {:<10} {:<8} staged",
        "ROLE", "VER", "EXPIRES", "LEFT", "THRESHOLD", "SIGNED"
    );
    for r in &s.roles {
        println!(
            "{:<16} {:>4}  {:<21} {:>9}  {:<10} {:<8} {}",
            r.role,
            r.version,
            r.expires
                .map(|e| tufkit_core::metadata::format_expires(&e))
                .unwrap_or_else(|| "-".into()),
            r.seconds_left
                .map(|s| format_duration(chrono::Duration::seconds(s)))
                .unwrap_or_else(|| "-".into()),
            format!(
                "{}/{} ({} here)",
                r.threshold,
                r.keyids.len(),
                r.reachable_keys.len()
            ),
            if r.version == 0 {
                "-"
            } else if r.threshold_met {
                "ok"
            } else {
                "NO"
            },
            r.staged.as_deref().unwrap_or("")
        );
    }
    println!();
    println!("Keys:");
    for r in &s.roles {
        let ids: Vec<String> = r
            .keyids
            .iter()
            .map(|k| {
                let short = k.0.chars().take(12).collect::<String>();
                if r.reachable_keys.contains(k) {
                    format!("{short}*")
                } else {
                    short.to_string()
                }
            })
            .collect();
        println!("  {:<16} (by {}) {}", r.role, r.delegator, ids.join(" "));
    }
    println!("  (* = private key reachable in the key directories)");
    if let Some(root) = &s.staged_root {
        println!();
        println!("Staged root: {root}");
    }
    if !s.warnings.is_empty() {
        println!();
        for w in &s.warnings {
            println!("warning: {w}");
        }
    }
    Ok(())
}

/// Runs `tufkit verify`.
pub fn verify(a: DirArg) -> anyhow::Result<()> {
    let ws = open_workspace(&a.dir)?;
    let report = tufkit_repo::verify::verify_workspace(&ws, &|l| eprintln!("  .. {l}"))?;
    println!(
        "Root chain: {}",
        report
            .root_versions
            .iter()
            .map(|v| format!("v{v}"))
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    for (role, v) in &report.roles {
        println!("  {role} v{v}: ok");
    }
    println!("Target files checked: {}", report.targets_checked);
    if report.hosted_elsewhere > 0 {
        println!(
            "Targets hosted elsewhere (metadata only): {}",
            report.hosted_elsewhere
        );
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if !report.ok() {
        for p in &report.problems {
            println!("FAILED: {p}");
        }
        bail!(
            "{}: the published repository does not verify ({} problem(s))",
            a.dir.display(),
            report.problems.len()
        );
    }
    println!("OK: a fresh client starting from 1.root.json accepts this repository.");
    Ok(())
}
