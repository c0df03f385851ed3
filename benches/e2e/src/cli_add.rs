//! The tufkit CLI on a published hashed-bin repository: build it once (targets hosted
//! elsewhere, from a manifest), then time adding one target and publishing.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};

use crate::measure;
use crate::report::{ms, Row, Sample};
use crate::run::Ctx;
use crate::shapes::{Shape, GENERATOR_VERSION};

/// Time the one-off setup (all its processes) may take.
const SETUP_BUDGET: Duration = Duration::from_secs(600);

/// True when `tufkit add --help` lists `flag` (the CLI is still growing).
pub fn add_supports(tufkit: &Path, flag: &str) -> bool {
    Command::new(tufkit)
        .args(["add", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(flag))
}

fn run_step(
    ctx: &Ctx,
    args: &[&std::ffi::OsStr],
    tufkit: &Path,
    budget: Duration,
) -> Result<measure::Measured> {
    let mut cmd = Command::new(tufkit);
    cmd.args(args);
    let m = measure::run(cmd, &ctx.scratch.join("cli-add-out"), budget)?;
    if !m.ok() {
        let words: Vec<String> = args
            .iter()
            .take(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        bail!("`tufkit {}` {}", words.join(" "), m.failure());
    }
    Ok(m)
}

/// Writes the JSON-lines manifest of every target of `shape` (hosted elsewhere).
fn write_manifest(shape: &Shape, path: &Path) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..shape.targets {
        let (target, file) = crate::gen::target_entry(shape, i);
        let line = serde_json::json!({
            "path": target,
            "length": file.length,
            "hashes": file.hashes,
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// The tufkit workspace for `shape`, built through the CLI once and then reused: `init`,
/// `key generate`, `delegate --succinct-bins`, `publish`, `add --manifest`, `publish`.
/// Returns the workspace and a note on what the setup took.
fn ensure_workspace(ctx: &Ctx, tufkit: &Path, shape: &Shape) -> Result<(PathBuf, Option<String>)> {
    let ws = ctx.repos_dir.join(format!("tufkit-ws-{}", shape.key()));
    let stamp = ws.join(".bench-complete");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == GENERATOR_VERSION.to_string()) {
        return Ok((ws, None));
    }
    eprintln!(
        "bench: building {} through the tufkit CLI into {}",
        shape.label(),
        ws.display()
    );
    if ws.exists() {
        std::fs::remove_dir_all(&ws)?;
    }
    let manifest = ctx
        .repos_dir
        .join(format!("manifest-{}.jsonl", shape.key()));
    write_manifest(shape, &manifest)?;
    let key = ws.join("keys/bins.pem");
    let bits = shape.bit_length().to_string();
    let mut spent = Duration::ZERO;
    let mut step = |args: &[&std::ffi::OsStr]| -> Result<Duration> {
        let m = run_step(ctx, args, tufkit, SETUP_BUDGET.saturating_sub(spent))?;
        spent += m.wall;
        Ok(m.wall)
    };
    step(&["init".as_ref(), ws.as_os_str()])?;
    crate::repo_side::set_sha256_only(&ws)?;
    step(&[
        "key".as_ref(),
        "generate".as_ref(),
        "--out".as_ref(),
        key.as_os_str(),
    ])?;
    step(&[
        "delegate".as_ref(),
        ws.as_os_str(),
        "--succinct-bins".as_ref(),
        bits.as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
    ])?;
    step(&["publish".as_ref(), ws.as_os_str(), "-q".as_ref()])?;
    let add = step(&[
        "add".as_ref(),
        ws.as_os_str(),
        "--manifest".as_ref(),
        manifest.as_os_str(),
        "-q".as_ref(),
    ])?;
    let publish = step(&["publish".as_ref(), ws.as_os_str(), "-q".as_ref()])?;
    std::fs::write(&stamp, GENERATOR_VERSION.to_string())?;
    let _ = std::fs::remove_file(&manifest);
    Ok((
        ws,
        Some(format!(
            "setting it up took `tufkit add --manifest` {} ms and the first full `tufkit publish` {} ms",
            ms(add.as_secs_f64() * 1000.0),
            ms(publish.as_secs_f64() * 1000.0)
        )),
    ))
}

fn metadata_listing(ws: &Path) -> BTreeSet<(String, Option<SystemTime>)> {
    std::fs::read_dir(ws.join("repository/metadata"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let modified = e.metadata().and_then(|m| m.modified()).ok();
                    (e.file_name().to_string_lossy().into_owned(), modified)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `tufkit add FILE --as NEW` and `tufkit publish` on the published repository, timed
/// together; the note names the metadata files the publish wrote.
pub fn add_one(ctx: &Ctx, tufkit: &Path, shape: &Shape) -> Result<Row> {
    let mut row = Row::new(
        format!("repo/add-one/{}", shape.key()),
        "add 1 target to a published repository",
        shape.label(),
        "tufkit CLI (add + publish)",
        true,
    );
    let ws = match ensure_workspace(ctx, tufkit, shape) {
        Ok((ws, setup)) => {
            if let Some(note) = setup {
                row.remark(&note);
            }
            ws
        }
        Err(e) => {
            row.remark(&format!("setup through the CLI failed: {e:#}"));
            return Ok(row);
        }
    };
    let file = ctx.scratch.join("new-cli-target.tar.gz");
    std::fs::write(&file, vec![7u8; 64 * 1024])?;
    let nonce = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut written = String::new();
    for rep in 0..ctx.reps {
        let before = metadata_listing(&ws);
        let target = format!("new-pkg-{nonce}-{rep}/new-pkg-{nonce}-{rep}-1.0.tar.gz");
        let steps: [Vec<&std::ffi::OsStr>; 2] = [
            vec![
                "add".as_ref(),
                ws.as_os_str(),
                file.as_os_str(),
                "--as".as_ref(),
                target.as_ref(),
                "-q".as_ref(),
            ],
            vec!["publish".as_ref(), ws.as_os_str(), "-q".as_ref()],
        ];
        let mut wall = Duration::ZERO;
        let mut peak = 0;
        for args in &steps {
            match run_step(ctx, args, tufkit, ctx.timeout) {
                Ok(m) => {
                    wall += m.wall;
                    peak = peak.max(m.max_rss_kib);
                }
                Err(e) => {
                    row.remark(&format!("{e:#}"));
                    return Ok(row);
                }
            }
        }
        row.samples.push(Sample {
            wall_ms: wall.as_secs_f64() * 1000.0,
            rss_mib: peak as f64 / 1024.0,
            requests: 0,
        });
        let changed: Vec<String> = metadata_listing(&ws)
            .difference(&before)
            .map(|(name, _)| name.clone())
            .collect();
        written = format!(
            "the last publish wrote {} metadata files ({})",
            changed.len(),
            changed.join(", ")
        );
    }
    if !written.is_empty() {
        row.remark(&written);
    }
    Ok(row)
}
