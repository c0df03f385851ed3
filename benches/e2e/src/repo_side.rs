//! Repository-side timings: build + sign from files (tufkit CLI, python-tuf's Metadata
//! API), the cost of hashing the bytes alone, and an incremental add to a hashed-bin
//! repository.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::measure::{self, Measured};
use crate::report::{Row, Sample};
use crate::run::Ctx;
use crate::shapes::{human_count, thousands, Layout, RepoInfo, Shape};

/// Most bytes of file names passed to one `tufkit add` (well under Linux's ARG_MAX).
const ADD_BATCH_BYTES: usize = 1 << 20;

/// Time one build (all its processes) may take before it is reported as not finished.
const BUILD_BUDGET: Duration = Duration::from_secs(120);

/// A build slower than this is not repeated (one run says enough, and keeps `make bench`
/// within its time budget).
const REPEAT_LIMIT: Duration = Duration::from_secs(30);

/// Runs the repository-side measurements.
pub fn run(
    ctx: &Ctx,
    rows: &mut Vec<Row>,
    repos: &mut Vec<RepoInfo>,
    remarks: &mut Vec<String>,
    only: &[String],
) -> Result<()> {
    let sizes: &[u64] = if ctx.quick {
        &[1_000]
    } else {
        &[10_000, 100_000]
    };
    let tufkit = ctx.exe.with_file_name("tufkit");
    if !tufkit.is_file() {
        remarks.push(format!(
            "the tufkit CLI was not found at {} (build it with `cargo build --release -p tufkit-cli`): its build rows are missing",
            tufkit.display()
        ));
    }
    for &n in sizes {
        if !only.is_empty() && !only.iter().any(|k| *k == format!("files-{n}")) {
            continue;
        }
        let files = ensure_files(&ctx.repos_dir, n)?;
        eprintln!("bench: repository side, {} files", thousands(n));
        let hash_row = hash_baseline(ctx, &files, n)?;
        let hash_ms = hash_row.median_ms();
        rows.push(hash_row);
        if tufkit.is_file() {
            rows.push(tufkit_build(ctx, &tufkit, &files, n, hash_ms, false)?);
            if crate::cli_add::add_supports(&tufkit, "--link") {
                rows.push(tufkit_build(ctx, &tufkit, &files, n, hash_ms, true)?);
            }
        }
        if ctx.python.is_some() {
            rows.push(python_build(ctx, &files, n)?);
        }
    }
    let shape = if ctx.quick {
        Shape::binned(Layout::Succinct, 10_000, 64)
    } else {
        Shape::binned(Layout::Succinct, 1_000_000, 16_384)
    };
    if only.is_empty() || only.iter().any(|k| *k == shape.key()) {
        let dir = ctx.repos_dir.join(shape.key());
        let info = crate::gen::ensure(&shape, &dir, false)?;
        if !repos.iter().any(|r| r.shape == shape) {
            repos.push(info);
        }
        let cli = tufkit.is_file() && crate::cli_add::add_supports(&tufkit, "--manifest");
        if cli {
            rows.push(crate::cli_add::add_one(ctx, &tufkit, &shape)?);
        }
        let mut core = add_one(ctx, &shape, &dir)?;
        if cli {
            // The goal is checked on the CLI row; this one shows the metadata work alone.
            core.key = format!("repo/add-one-core/{}", shape.key());
        }
        rows.push(core);
    }
    Ok(())
}

/// `DIR/files-N`: N small files `pkg-NNNNNN.tar.gz` (1 to 2 KiB each), made once.
fn ensure_files(repos_dir: &Path, n: u64) -> Result<PathBuf> {
    let dir = repos_dir.join(format!("files-{n}"));
    let stamp = dir.join(".complete");
    if stamp.is_file() {
        return Ok(dir);
    }
    eprintln!(
        "bench: writing {} target files into {}",
        thousands(n),
        dir.display()
    );
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let threads = std::thread::available_parallelism().map_or(2, |t| t.get()) as u64;
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let dir = &dir;
                s.spawn(move || -> Result<()> {
                    let mut i = t;
                    while i < n {
                        let len = 1024 + (i * 97) % 1024;
                        let content: Vec<u8> = (0..len)
                            .map(|j| (j.wrapping_mul(i | 1).wrapping_add(i) % 251) as u8)
                            .collect();
                        std::fs::write(dir.join(file_name(i)), content)?;
                        i += threads;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a file writer panicked")))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    std::fs::write(&stamp, n.to_string())?;
    Ok(dir)
}

fn file_name(i: u64) -> String {
    format!("pkg-{i:06}.tar.gz")
}

/// Reading and hashing (SHA-256) every file, in this process on one thread: the part of
/// a build that does not depend on the TUF implementation.
fn hash_baseline(ctx: &Ctx, files: &Path, n: u64) -> Result<Row> {
    let mut row = Row::new(
        format!("repo/hash/{n}"),
        "read + SHA-256 of the file bytes alone",
        format!("{} files", human_count(n)),
        "in-process, 1 thread (baseline)",
        true,
    );
    // One untimed pass first, so every timed pass reads from the page cache.
    for rep in 0..=ctx.reps {
        let started = Instant::now();
        for i in 0..n {
            let path = files.join(file_name(i));
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, &bytes));
        }
        if rep == 0 {
            continue;
        }
        row.samples.push(Sample {
            wall_ms: started.elapsed().as_secs_f64() * 1000.0,
            rss_mib: 0.0,
            requests: 0,
        });
    }
    row.remark("page cache warm");
    Ok(row)
}

/// `tufkit init`, `tufkit add` (in batches that fit the command line) and `tufkit publish`.
fn tufkit_build(
    ctx: &Ctx,
    tufkit: &Path,
    files: &Path,
    n: u64,
    hash_ms: Option<f64>,
    link: bool,
) -> Result<Row> {
    let mut row = Row::new(
        format!("repo/build{}/{n}", if link { "-link" } else { "" }),
        "build + sign from files, flat",
        format!("{} files", human_count(n)),
        "tufkit CLI (init + add + publish)",
        true,
    );
    // One `tufkit add --from-dir` when the CLI has it, else the file names in batches.
    let batches: Vec<Vec<OsString>> = if link {
        row.tool = "tufkit CLI (init + add --from-dir --link + publish)".into();
        vec![vec![
            "--from-dir".into(),
            files.into(),
            "--link".into(),
            "-q".into(),
        ]]
    } else if crate::cli_add::add_supports(tufkit, "--from-dir") {
        row.tool = "tufkit CLI (init + add --from-dir + publish)".into();
        vec![vec!["--from-dir".into(), files.into(), "-q".into()]]
    } else {
        let mut batches: Vec<Vec<OsString>> = vec![Vec::new()];
        let mut used = 0;
        for name in (0..n).map(file_name) {
            if used + name.len() + 1 > ADD_BATCH_BYTES {
                batches.push(Vec::new());
                used = 0;
            }
            used += name.len() + 1;
            if let Some(b) = batches.last_mut() {
                b.push(name.into());
            }
        }
        batches
    };
    // Phases of every successful run, to describe the median one.
    let mut phases: Vec<(f64, String)> = Vec::new();
    let mode = if link { "link" } else { "copy" };
    let out = ctx.scratch.join(format!("tufkit-build-{mode}-{n}-out"));
    for rep in 0..ctx.reps {
        let ws = ctx.scratch.join(format!("tufkit-build-{mode}-{n}-{rep}"));
        let mut build = Build {
            files,
            out: &out,
            total: Duration::ZERO,
            peak_kib: 0,
        };
        let mut init = Command::new(tufkit);
        init.arg("init").arg(&ws);
        let init_m = match build.phase("init", init) {
            Ok(m) => m,
            Err(why) => {
                row.remark(&why);
                break;
            }
        };
        set_sha256_only(&ws)?;
        let mut add_ms = 0.0;
        let mut failure = None;
        for batch in &batches {
            let mut add = Command::new(tufkit);
            add.arg("add").arg(&ws).args(batch);
            match build.phase("add", add) {
                Ok(m) => add_ms += m.wall.as_secs_f64() * 1000.0,
                Err(why) => {
                    failure = Some(why);
                    break;
                }
            }
        }
        if let Some(why) = failure {
            row.remark(&why);
            break;
        }
        let mut publish = Command::new(tufkit);
        publish.arg("publish").arg(&ws);
        let pub_m = match build.phase("publish", publish) {
            Ok(m) => m,
            Err(why) => {
                row.remark(&why);
                break;
            }
        };
        row.samples.push(Sample {
            wall_ms: build.total.as_secs_f64() * 1000.0,
            rss_mib: build.peak_kib as f64 / 1024.0,
            requests: 0,
        });
        phases.push((
            build.total.as_secs_f64(),
            format!(
                "init {} ms, add {} ms ({} process{}), publish {} ms",
                crate::report::ms(init_m.wall.as_secs_f64() * 1000.0),
                crate::report::ms(add_ms),
                batches.len(),
                if batches.len() == 1 { "" } else { "es" },
                crate::report::ms(pub_m.wall.as_secs_f64() * 1000.0),
            ),
        ));
        // Workspaces stay until the whole run ends: on ext4, creating many files right
        // after deleting many is slower, which would slow the next repetition.
        if build.total > REPEAT_LIMIT && rep + 1 < ctx.reps {
            row.remark(&format!(
                "not repeated: one run took over {} s",
                REPEAT_LIMIT.as_secs()
            ));
            break;
        }
    }
    phases.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, note)) = phases.get(phases.len() / 2) {
        row.remark(&format!("median run: {note}"));
    }
    if let (Some(total), Some(hash)) = (row.median_ms(), hash_ms) {
        let beyond = (total - hash).max(0.0);
        row.metric_ms = Some(beyond);
        row.remark(&format!(
            "{} ms beyond the hashing baseline; sha256 only (set in tufkit.toml)",
            crate::report::ms(beyond)
        ));
    }
    Ok(row)
}

/// The processes of one build, sharing one time budget.
struct Build<'a> {
    files: &'a Path,
    out: &'a Path,
    total: Duration,
    peak_kib: u64,
}

impl Build<'_> {
    /// Runs one `tufkit` process of the build; `Err` says why the build stopped.
    fn phase(&mut self, label: &str, mut cmd: Command) -> Result<Measured, String> {
        let left = BUILD_BUDGET.saturating_sub(self.total);
        cmd.current_dir(self.files);
        let m = measure::run(cmd, self.out, left).map_err(|e| format!("{e:#}"))?;
        self.total += m.wall;
        self.peak_kib = self.peak_kib.max(m.max_rss_kib);
        if m.timed_out {
            return Err(format!(
                "> {} s (not finished; stopped in `tufkit {label}`)",
                BUILD_BUDGET.as_secs()
            ));
        }
        if !m.ok() {
            return Err(format!("`tufkit {label}` {}", m.failure()));
        }
        Ok(m)
    }
}

/// Lists only sha256 for targets, like the python-tuf build and the generated repositories.
pub(crate) fn set_sha256_only(ws: &Path) -> Result<()> {
    let path = ws.join("tufkit.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let new: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("hash_algorithms") {
                "hash_algorithms = [\"sha256\"]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, new.join("\n") + "\n")?;
    Ok(())
}

/// python-tuf: the Metadata API builds, signs and writes the same repository.
fn python_build(ctx: &Ctx, files: &Path, n: u64) -> Result<Row> {
    let mut row = Row::new(
        format!("repo/build/{n}/python"),
        "build + sign from files, flat",
        format!("{} files", human_count(n)),
        "python-tuf Metadata API (script)",
        true,
    );
    let python = ctx.python.as_deref().unwrap_or(Path::new("python3"));
    let mut phases = Vec::new();
    for rep in 0..ctx.reps {
        let out = ctx.scratch.join(format!("python-build-{n}-{rep}"));
        let mut cmd = Command::new(python);
        cmd.arg(ctx.root.join("scripts/bench-python-build.py"))
            .arg("--files")
            .arg(files)
            .arg("--out")
            .arg(&out);
        let m = measure::run(cmd, &ctx.scratch.join("python-build-out"), BUILD_BUDGET)?;
        if !m.ok() {
            row.remark(&m.failure());
            break;
        }
        row.samples.push(Sample {
            wall_ms: m.wall.as_secs_f64() * 1000.0,
            rss_mib: m.max_rss_kib as f64 / 1024.0,
            requests: 0,
        });
        if m.wall > REPEAT_LIMIT && rep + 1 < ctx.reps {
            row.remark(&format!(
                "not repeated: one run took over {} s",
                REPEAT_LIMIT.as_secs()
            ));
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(m.stdout.trim()) {
            let h = v["hash_seconds"].as_f64().unwrap_or(0.0) * 1000.0;
            let w = v["metadata_seconds"].as_f64().unwrap_or(0.0) * 1000.0;
            let l = v["link_seconds"].as_f64().unwrap_or(0.0) * 1000.0;
            phases.push((h, w, l));
        }
        if m.wall > REPEAT_LIMIT {
            break;
        }
    }
    let hash = crate::report::median(phases.iter().map(|p| p.0).collect());
    let work = crate::report::median(phases.iter().map(|p| p.1).collect());
    let link = crate::report::median(phases.iter().map(|p| p.2).collect());
    if let (Some(h), Some(w), Some(l)) = (hash, work, link) {
        row.remark(&format!(
            "inside the script: {} ms hashing (TargetFile.from_file), {} ms metadata work (build, sign, write), {} ms hard-linking the target files into place",
            crate::report::ms(h),
            crate::report::ms(w),
            crate::report::ms(l)
        ));
    }
    Ok(row)
}

/// `tufkit-bench add-one`: one new target into a published hashed-bin repository.
fn add_one(ctx: &Ctx, shape: &Shape, repo: &Path) -> Result<Row> {
    let mut row = Row::new(
        format!("repo/add-one/{}", shape.key()),
        "add 1 target to a published repository",
        shape.label(),
        "tufkit-core (bench code, not tufkit-repo)",
        true,
    );
    let file = ctx.scratch.join("new-target.tar.gz");
    std::fs::write(&file, vec![42u8; 64 * 1024])?;
    let mut written = String::new();
    for rep in 0..ctx.reps {
        let out = ctx.scratch.join(format!("add-one-{rep}"));
        let mut cmd = Command::new(&ctx.exe);
        cmd.arg("add-one")
            .arg("--repo")
            .arg(repo)
            .arg("--out")
            .arg(&out)
            .arg("--file")
            .arg(&file)
            .arg("--as")
            .arg("new-pkg/new-pkg-1.0.tar.gz");
        let m = measure::run(cmd, &ctx.scratch.join("add-one-out"), ctx.timeout)?;
        if !m.ok() {
            row.remark(&m.failure());
            break;
        }
        row.samples.push(Sample {
            wall_ms: m.wall.as_secs_f64() * 1000.0,
            rss_mib: m.max_rss_kib as f64 / 1024.0,
            requests: 0,
        });
        let files = std::fs::read_dir(out.join("metadata"))?.count();
        let mut words = m.stdout.split_whitespace();
        let role = words.next().unwrap_or("?");
        let names: Vec<&str> = words.collect();
        written = format!(
            "the target went to {role}; wrote {files} metadata files ({})",
            names.join(", ")
        );
        let _ = std::fs::remove_dir_all(&out);
    }
    if !written.is_empty() {
        row.remark(&written);
    }
    Ok(row)
}
