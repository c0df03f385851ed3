//! Incremental publish on a hashed-bin repository: add one target, re-sign only its bin,
//! the snapshot and the timestamp. Written with tufkit-core directly (the bench's own
//! code, not tufkit-repo), to time the metadata work such an update needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Map;
use tufkit_core::crypto::hash::sha256_hex;
use tufkit_core::metadata::{MetaFile, Parsed, Snapshot, TargetFile, Targets, Timestamp};
use tufkit_core::rolename::role_file_name;

use crate::gen::{far_expiry, sign_role, timestamp_for, write_target_content, Keys};

/// Arguments of `tufkit-bench add-one`.
#[derive(Debug, clap::Args)]
pub struct AddOneArgs {
    /// A repository written by `tufkit-bench gen` (read only).
    #[arg(long)]
    pub repo: PathBuf,
    /// Where the new metadata and target file are written (the published delta).
    #[arg(long)]
    pub out: PathBuf,
    /// The file to add.
    #[arg(long)]
    pub file: PathBuf,
    /// Its target path.
    #[arg(long = "as")]
    pub target_path: String,
}

/// What an incremental add wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOneReport {
    /// The bin that now lists the target.
    pub role: String,
    /// Metadata files written (relative to `out/metadata`).
    pub written: Vec<String>,
}

fn read_json<T: tufkit_core::metadata::RoleMetadata>(path: &Path, role: &str) -> Result<Parsed<T>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Parsed::<T>::from_slice(&bytes, role)?)
}

/// Adds one target to the succinct (or classic) bin that owns its path and publishes the
/// new bin, snapshot and timestamp versions into `out`.
pub fn add_one(args: &AddOneArgs) -> Result<AddOneReport> {
    let keys = Keys::load(&args.repo)?;
    let meta = args.repo.join("metadata");
    let timestamp = read_json::<Timestamp>(&meta.join("timestamp.json"), "timestamp")?;
    let snap_version = timestamp.signed().snapshot_meta().version;
    let snapshot = read_json::<Snapshot>(
        &meta.join(role_file_name("snapshot", Some(snap_version))),
        "snapshot",
    )?;
    let targets_version = snapshot
        .signed()
        .role_meta("targets")
        .ok_or_else(|| anyhow!("snapshot does not list targets"))?
        .version;
    let top = read_json::<Targets>(
        &meta.join(role_file_name("targets", Some(targets_version))),
        "targets",
    )?;
    let delegations = top.signed().delegations.as_ref().ok_or_else(|| {
        anyhow!("targets delegates nothing: add-one needs a hashed-bin repository")
    })?;
    // The bin that owns the path, exactly as a client's search finds it (spec 5.6.7.2).
    let role = match delegations
        .roles_for_target(&args.target_path)
        .into_iter()
        .next()
    {
        Some((role, _)) => role,
        None => bail!("no bin is delegated {:?}", args.target_path),
    };
    let bin_version = snapshot
        .signed()
        .role_meta(&role)
        .ok_or_else(|| anyhow!("snapshot does not list {role}"))?
        .version;
    let bin = read_json::<Targets>(&meta.join(role_file_name(&role, Some(bin_version))), &role)?;

    let content =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let sha256 = sha256_hex(&content);
    let mut new_bin = bin.metadata.signed;
    new_bin.version += 1;
    new_bin.expires = far_expiry();
    new_bin.targets.insert(
        args.target_path.clone(),
        TargetFile {
            length: content.len() as u64,
            hashes: BTreeMap::from([("sha256".to_string(), sha256.clone())]),
            custom: None,
            unknown: Map::new(),
        },
    );
    let new_bin_version = new_bin.version;
    let bin_bytes = sign_role(new_bin, &keys.bins)?;

    let mut new_snapshot = snapshot.metadata.signed;
    new_snapshot.version += 1;
    new_snapshot.meta.insert(
        format!("{role}.json"),
        MetaFile {
            length: Some(bin_bytes.len() as u64),
            ..MetaFile::with_version(new_bin_version)
        },
    );
    let new_snapshot_version = new_snapshot.version;
    let snapshot_bytes = sign_role(new_snapshot, &keys.snapshot)?;
    let ts = timestamp_for(
        timestamp.signed().version + 1,
        &snapshot_bytes,
        new_snapshot_version,
    );
    let timestamp_bytes = sign_role(ts, &keys.timestamp)?;

    let out_meta = args.out.join("metadata");
    std::fs::create_dir_all(&out_meta)?;
    let written = vec![
        role_file_name(&role, Some(new_bin_version)),
        role_file_name("snapshot", Some(new_snapshot_version)),
        "timestamp.json".to_string(),
    ];
    for (name, bytes) in written
        .iter()
        .zip([&bin_bytes, &snapshot_bytes, &timestamp_bytes])
    {
        let path = out_meta.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    write_target_content(&args.out, &args.target_path, &sha256, &content)?;
    Ok(AddOneReport { role, written })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::{Layout, Shape};
    use chrono::{DateTime, Utc};
    use tufkit_core::{SearchStep, TargetSearch, TrustedSet};

    fn read(dirs: &[&Path], name: &str) -> Vec<u8> {
        dirs.iter()
            .find_map(|d| std::fs::read(d.join("metadata").join(name)).ok())
            .unwrap()
    }

    /// Generates a small succinct-bin repository, adds one target, and checks as a client
    /// would (through TrustedSet) that the new versions verify and list the target.
    #[test]
    fn added_target_is_found_by_a_client_and_only_three_roles_change() {
        let base = std::env::temp_dir().join(format!("tufkit-bench-addone-{}", std::process::id()));
        let repo = base.join("repo");
        let out = base.join("out");
        let shape = Shape::binned(Layout::Succinct, 300, 16);
        crate::gen::generate(&shape, &repo).unwrap();
        let file = base.join("new.tar.gz");
        std::fs::write(&file, b"new content").unwrap();
        let report = add_one(&AddOneArgs {
            repo: repo.clone(),
            out: out.clone(),
            file,
            target_path: "new/new-1.0.tar.gz".into(),
        })
        .unwrap();
        assert_eq!(report.written.len(), 3);
        assert_eq!(report.written[1], "2.snapshot.json");

        let now: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let dirs = [out.as_path(), repo.as_path()];
        let mut trusted = TrustedSet::new(&read(&dirs, "1.root.json"), now).unwrap();
        trusted
            .update_timestamp(&read(&dirs, "timestamp.json"))
            .unwrap();
        trusted
            .update_snapshot(read(&dirs, "2.snapshot.json"))
            .unwrap();
        trusted
            .update_targets(read(&dirs, "1.targets.json"))
            .unwrap();
        let mut search = TargetSearch::new("new/new-1.0.tar.gz", 32);
        loop {
            match search.step(&trusted) {
                SearchStep::NeedRole { role, delegator } => {
                    let v = trusted
                        .snapshot()
                        .unwrap()
                        .role_meta(&role)
                        .unwrap()
                        .unwrap()
                        .version;
                    let bytes = read(&dirs, &role_file_name(&role, Some(v)));
                    trusted
                        .update_delegated_targets(&bytes, &role, &delegator)
                        .unwrap();
                }
                SearchStep::Found { target, role } => {
                    assert_eq!(role, report.role);
                    assert_eq!(target.length, 11);
                    break;
                }
                SearchStep::NotFound => panic!("the added target was not found"),
            }
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
