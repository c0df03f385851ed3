//! `tufkit-bench run`: generates the repositories, serves them, times every client and
//! the repository side, and writes the report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::machine::Machine;
use crate::measure;
use crate::report::{Goal, Report, Row, Sample};
use crate::server::Server;
use crate::shapes::{Layout, RepoInfo, Shape};

/// A client run slower than this (ms) is not repeated.
const SLOW_RUN_MS: f64 = 30_000.0;

/// Arguments of `tufkit-bench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Small shapes and one repetition: a smoke run of every part.
    #[arg(long)]
    pub quick: bool,
    /// Repetitions of every measurement (default 5, or 1 with --quick).
    #[arg(long)]
    pub reps: Option<usize>,
    /// Where generated repositories are cached (default: target/bench-repos).
    #[arg(long)]
    pub repos_dir: Option<PathBuf>,
    /// The document to write the results into (default: docs/performance.md for a full
    /// run; a --quick run writes only where this says).
    #[arg(long)]
    pub doc: Option<PathBuf>,
    /// Print the results without writing the document.
    #[arg(long)]
    pub no_doc: bool,
    /// Python interpreter with python-tuf (default: $TUFKIT_PYTHON, else .venv/bin/python).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Seconds before a tough run is stopped and reported as not finished.
    #[arg(long, default_value_t = 120)]
    pub tough_timeout: u64,
    /// Seconds before any other run is stopped.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Only these repositories (keys like flat-100000 or succinct-1000000x16384).
    #[arg(long)]
    pub only: Vec<String>,
    /// Skip the client measurements.
    #[arg(long)]
    pub skip_clients: bool,
    /// Skip the repository-side measurements.
    #[arg(long)]
    pub skip_repository: bool,
}

/// What every measurement needs.
pub struct Ctx {
    /// This executable (the tufkit and tough clients are its subcommands).
    pub exe: PathBuf,
    /// The workspace root.
    pub root: PathBuf,
    /// Python with python-tuf, if usable.
    pub python: Option<PathBuf>,
    /// Cached repositories.
    pub repos_dir: PathBuf,
    /// Per-run scratch space (emptied at the start).
    pub scratch: PathBuf,
    /// Repetitions.
    pub reps: usize,
    /// Timeout of tough runs.
    pub tough_timeout: Duration,
    /// Timeout of other runs.
    pub timeout: Duration,
    /// Small shapes.
    pub quick: bool,
}

/// The workspace root (this crate is `benches/e2e`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn find_python(arg: &Option<PathBuf>, root: &Path) -> Option<PathBuf> {
    let candidate = arg
        .clone()
        .or_else(|| std::env::var_os("TUFKIT_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import tuf.ngclient"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}

/// The client shapes of a run.
fn client_shapes(quick: bool) -> Vec<Shape> {
    if quick {
        vec![
            Shape::flat(1_000),
            Shape::flat(10_000),
            Shape::binned(Layout::Bins, 10_000, 64),
            Shape::binned(Layout::Succinct, 10_000, 64),
        ]
    } else {
        vec![
            Shape::flat(1_000),
            Shape::flat(10_000),
            Shape::flat(100_000),
            Shape::binned(Layout::Bins, 100_000, 1_024),
            Shape::binned(Layout::Succinct, 100_000, 1_024),
            Shape::binned(Layout::Bins, 1_000_000, 16_384),
            Shape::binned(Layout::Succinct, 1_000_000, 16_384),
        ]
    }
}

/// Runs everything and writes the report.
pub fn run(args: &RunArgs) -> Result<()> {
    let root = workspace_root();
    let repos_dir = args
        .repos_dir
        .clone()
        .unwrap_or_else(|| root.join("target/bench-repos"));
    let scratch = repos_dir.with_file_name("bench-runs");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("emptying {}", scratch.display()))?;
    }
    std::fs::create_dir_all(&scratch)?;
    let machine = Machine::detect();
    let ctx = Ctx {
        exe: std::env::current_exe()?,
        python: find_python(&args.python, &root),
        root: root.clone(),
        repos_dir,
        scratch,
        reps: args.reps.unwrap_or(if args.quick { 1 } else { 5 }).max(1),
        tough_timeout: Duration::from_secs(args.tough_timeout),
        timeout: Duration::from_secs(args.timeout),
        quick: args.quick,
    };
    let mut remarks = vec![versions(&ctx)];
    if ctx.python.is_none() {
        remarks.push("python-tuf was not found (run scripts/python-env.sh or set TUFKIT_PYTHON): its rows are missing".into());
    }
    if !cfg!(feature = "tough") {
        remarks.push("built without the `tough` feature: tough rows are missing".into());
    }
    let wanted = |s: &Shape| args.only.is_empty() || args.only.iter().any(|k| *k == s.key());
    let mut repos = Vec::new();
    let mut rows = Vec::new();
    if !args.skip_clients {
        let server = Server::start(&ctx.repos_dir)?;
        // Clients that did not finish on a classic-bins repository are not run on a larger one.
        let mut too_slow = std::collections::BTreeSet::new();
        for shape in client_shapes(ctx.quick).into_iter().filter(wanted) {
            let dir = ctx.repos_dir.join(shape.key());
            let info = crate::gen::ensure(&shape, &dir, false)?;
            eprintln!("bench: clients on {}", shape.label());
            client_rows(&ctx, &server, &shape, &info, &mut too_slow, &mut rows)?;
            repos.push(info);
        }
    }
    if !args.skip_repository {
        crate::repo_side::run(&ctx, &mut rows, &mut repos, &mut remarks, &args.only)?;
    }
    let mode = if ctx.quick {
        "quick (smoke) run"
    } else {
        "full run"
    };
    let report = Report {
        header: format!(
            "Measured by `tufkit-bench run{}` on {} ({mode}, {} repetition{} per row, medians).",
            if ctx.quick { " --quick" } else { "" },
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            ctx.reps,
            if ctx.reps == 1 { "" } else { "s" }
        ),
        machine: machine.describe(),
        repos,
        rows,
        goals: goals(),
        remarks,
    };
    let md = report.markdown();
    println!("{md}");
    // A smoke run does not replace the full run's figures unless asked to.
    let doc = match (&args.doc, ctx.quick) {
        (Some(doc), _) => Some(doc.clone()),
        (None, false) => Some(root.join("docs/performance.md")),
        (None, true) => None,
    };
    if let Some(doc) = doc.filter(|_| !args.no_doc) {
        report.write_into(&doc)?;
        eprintln!("bench: wrote {}", doc.display());
    }
    // Build outputs were kept while measuring (see repo_side); nothing is timed any more.
    let _ = std::fs::remove_dir_all(&ctx.scratch);
    Ok(())
}

fn versions(ctx: &Ctx) -> String {
    let python_tuf = ctx.python.as_ref().and_then(|p| {
        Command::new(p)
            .args([
                "-c",
                "import tuf, sys; print(tuf.__version__, sys.version.split()[0])",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    let py = match python_tuf {
        Some(v) => {
            let mut parts = v.split(' ');
            format!(
                "python-tuf {} (ngclient, Python {})",
                parts.next().unwrap_or("?"),
                parts.next().unwrap_or("?")
            )
        }
        None => "python-tuf not available".into(),
    };
    format!("Versions: tufkit {} (release build), {py}, tough 0.24 (library, default HTTP transport and file://).", env!("CARGO_PKG_VERSION"))
}

/// The goals of issue 5, each checked on one row.
fn goals() -> Vec<Goal> {
    let g = |text, key: &str, max_ms, max_rss_mib| Goal {
        text,
        key: key.into(),
        max_ms,
        max_rss_mib,
    };
    vec![
        g("cold update + 1 target, 100k flat: <= 200 ms and <= 64 MiB peak RSS", "client/cold/flat-100000/tufkit", 200.0, Some(64.0)),
        g("cold update + 1 target, 1,024 bins (classic): <= 25 ms", "client/cold/bins-100000x1024/tufkit", 25.0, None),
        g("cold update + 1 target, 1,024 bins (succinct): <= 25 ms", "client/cold/succinct-100000x1024/tufkit", 25.0, None),
        g("cold update + 1 target, 1M targets / 16,384 bins (classic): <= 60 ms", "client/cold/bins-1000000x16384/tufkit", 60.0, None),
        g("cold update + 1 target, 1M targets / 16,384 bins (succinct): <= 60 ms", "client/cold/succinct-1000000x16384/tufkit", 60.0, None),
        g("warm update + lookup, 100k flat: <= 150 ms", "client/warm/flat-100000/tufkit", 150.0, None),
        g("warm update + lookup, 1,024 bins (classic): <= 15 ms", "client/warm/bins-100000x1024/tufkit", 15.0, None),
        g("warm update + lookup, 1,024 bins (succinct): <= 15 ms", "client/warm/succinct-100000x1024/tufkit", 15.0, None),
        g("warm update + lookup, 16,384 bins (classic): <= 15 ms", "client/warm/bins-1000000x16384/tufkit", 15.0, None),
        g("warm update + lookup, 16,384 bins (succinct): <= 15 ms", "client/warm/succinct-1000000x16384/tufkit", 15.0, None),
        g("build + sign 100k targets from files: <= 2 s beyond hashing their bytes (tufkit CLI, default: target files copied)", "repo/build/100000", 2_000.0, None),
        g("build + sign 100k targets from files: <= 2 s beyond hashing their bytes (tufkit CLI with `--link`: target files hard-linked, as python-tuf's script does)", "repo/build-link/100000", 2_000.0, None),
        g("add 1 target to a published 1M-target succinct-bin repository, re-signing only that bin, the snapshot and the timestamp: <= 1 s (tufkit CLI `add` + `publish`; when the CLI cannot, the bench's own tufkit-core code)", "repo/add-one/succinct-1000000x16384", 1_000.0, None),
    ]
}

/// A client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Tufkit,
    Python,
    Tough,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Tufkit => "tufkit",
            Tool::Python => "python-tuf",
            Tool::Tough => "tough",
        }
    }
}

/// One client configuration: tool, transport, and whether it has a warm run.
#[derive(Debug, Clone, Copy)]
struct Client {
    tool: Tool,
    file_url: bool,
}

impl Client {
    fn label(self) -> String {
        let transport = if self.file_url { "file://" } else { "HTTP" };
        format!("{} ({transport})", self.tool.name())
    }

    fn key(self) -> String {
        format!(
            "{}{}",
            self.tool.name(),
            if self.file_url { "-file" } else { "" }
        )
    }

    fn has_warm(self) -> bool {
        self.tool != Tool::Tough
    }
}

fn clients_for(ctx: &Ctx) -> Vec<Client> {
    let mut v = vec![Client {
        tool: Tool::Tufkit,
        file_url: false,
    }];
    if ctx.python.is_some() {
        v.push(Client {
            tool: Tool::Python,
            file_url: false,
        });
    }
    if cfg!(feature = "tough") {
        v.push(Client {
            tool: Tool::Tough,
            file_url: false,
        });
    }
    // file:// takes the HTTP stack out (tough's HTTP transport sleeps its 100 ms retry
    // backoff before every request, first tries included).
    v.push(Client {
        tool: Tool::Tufkit,
        file_url: true,
    });
    if cfg!(feature = "tough") {
        v.push(Client {
            tool: Tool::Tough,
            file_url: true,
        });
    }
    v
}

fn client_command(
    ctx: &Ctx,
    client: Client,
    urls: &(String, String),
    dir: &Path,
    target: &str,
) -> Command {
    let mut cmd = match client.tool {
        Tool::Tufkit => {
            let mut c = Command::new(&ctx.exe);
            c.arg("client");
            c
        }
        Tool::Tough => {
            let mut c = Command::new(&ctx.exe);
            c.arg("tough");
            c
        }
        Tool::Python => {
            let mut c = Command::new(ctx.python.as_deref().unwrap_or(Path::new("python3")));
            c.arg(ctx.root.join("scripts/bench-python-client.py"));
            c
        }
    };
    cmd.arg("--metadata-url")
        .arg(&urls.0)
        .arg("--targets-url")
        .arg(&urls.1)
        .arg("--dir")
        .arg(dir.join("metadata"))
        .arg("--download-dir")
        .arg(dir.join("downloads"))
        .arg(target);
    cmd
}

/// Reads every metadata file once so the first timed run does not pay for a cold page cache.
fn warm_page_cache(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir.join("metadata")) {
        for e in entries.flatten() {
            let _ = std::fs::read(e.path());
        }
    }
}

/// A fresh client directory holding only the trusted root.
fn fresh_client_dir(ctx: &Ctx, repo: &Path, name: &str) -> Result<PathBuf> {
    let dir = ctx.scratch.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(dir.join("metadata"))?;
    std::fs::create_dir_all(dir.join("downloads"))?;
    std::fs::copy(repo.join("root.json"), dir.join("metadata/root.json"))?;
    Ok(dir)
}

fn client_rows(
    ctx: &Ctx,
    server: &Server,
    shape: &Shape,
    info: &RepoInfo,
    too_slow: &mut std::collections::BTreeSet<String>,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let repo = ctx.repos_dir.join(shape.key());
    warm_page_cache(&repo);
    let http = (
        format!("{}/{}/metadata/", server.base_url(), shape.key()),
        format!("{}/{}/targets/", server.base_url(), shape.key()),
    );
    let file = (
        format!("file://{}/", repo.join("metadata").display()),
        format!("file://{}/", repo.join("targets").display()),
    );
    let clients = clients_for(ctx);
    let repo_label = shape.label();
    let mut cold: Vec<Row> = Vec::new();
    let mut warm: Vec<Option<Row>> = Vec::new();
    for c in &clients {
        cold.push(Row::new(
            format!("client/cold/{}/{}", shape.key(), c.key()),
            "cold update + 1 target",
            repo_label.clone(),
            &c.label(),
            false,
        ));
        warm.push(c.has_warm().then(|| {
            Row::new(
                format!("client/warm/{}/{}", shape.key(), c.key()),
                "warm update, nothing changed, same lookup",
                repo_label.clone(),
                &c.label(),
                false,
            )
        }));
    }
    let mut gave_up = vec![false; clients.len()];
    for (i, c) in clients.iter().enumerate() {
        if shape.layout == Layout::Succinct && c.tool == Tool::Tough {
            cold[i].remark("tough 0.24 does not read TAP 15 succinct_roles");
        }
        if shape.layout == Layout::Bins && too_slow.contains(&c.key()) {
            gave_up[i] = true;
            cold[i].remark(
                "not run: did not finish on a smaller classic-bins repository within its timeout",
            );
        }
    }
    for rep in 0..ctx.reps {
        // Tools interleaved within a repetition, so load changes hit all of them alike.
        for (i, c) in clients.iter().enumerate() {
            if gave_up[i] {
                continue;
            }
            let urls = if c.file_url { &file } else { &http };
            let dir = fresh_client_dir(ctx, &repo, &format!("{}-{}-{rep}", shape.key(), c.key()))?;
            let timeout = if c.tool == Tool::Tough {
                ctx.tough_timeout
            } else {
                ctx.timeout
            };
            let ok = one_run(
                ctx,
                server,
                *c,
                urls,
                &dir,
                &info.lookup_target,
                timeout,
                &mut cold[i],
            )?;
            if !ok {
                // A timeout or failure repeats the same way: do not spend the time again.
                gave_up[i] = true;
                if shape.layout == Layout::Bins && cold[i].note.contains("timeout") {
                    too_slow.insert(c.key());
                }
                continue;
            }
            if cold[i]
                .samples
                .last()
                .is_some_and(|s| s.wall_ms > SLOW_RUN_MS)
                && rep + 1 < ctx.reps
            {
                // One run of this length says enough and keeps the whole run within budget.
                gave_up[i] = true;
                cold[i].remark("not repeated: one run took over 30 s");
            }
            if let Some(w) = warm[i].as_mut() {
                one_run(ctx, server, *c, urls, &dir, &info.lookup_target, timeout, w)?;
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    for (c, w) in cold.into_iter().zip(warm) {
        rows.push(c);
        rows.extend(w);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn one_run(
    ctx: &Ctx,
    server: &Server,
    client: Client,
    urls: &(String, String),
    dir: &Path,
    target: &str,
    timeout: Duration,
    row: &mut Row,
) -> Result<bool> {
    let cmd = client_command(ctx, client, urls, dir, target);
    server.reset();
    let m = measure::run(cmd, &dir.join("out"), timeout)?;
    let counts = server.counts();
    if !m.ok() {
        let why = m.failure();
        eprintln!("bench:   {} {}: {why}", row.tool, row.workload);
        if !row.note.contains(&why) {
            row.remark(&why);
        }
        return Ok(false);
    }
    let sample = Sample {
        wall_ms: m.wall.as_secs_f64() * 1000.0,
        rss_mib: m.max_rss_kib as f64 / 1024.0,
        requests: if client.file_url { 0 } else { counts.requests },
    };
    eprintln!(
        "bench:   {:18} {:42} {:>9.1} ms {:>6.0} MiB {:>6} requests",
        row.tool, row.workload, sample.wall_ms, sample.rss_mib, sample.requests
    );
    row.samples.push(sample);
    Ok(true)
}
