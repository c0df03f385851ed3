//! `tufkit-bench`: end-to-end benchmarks of tufkit next to python-tuf and tough.
//!
//! `tufkit-bench run` generates repositories of realistic shapes (flat, classic hashed
//! bins, TAP 15 succinct bins; up to a million targets), serves them on loopback, times
//! each client as its own process (wall time, peak RSS, requests) and the repository side,
//! and writes a Markdown table into `docs/performance.md`. The other subcommands are the
//! pieces it runs. See `docs/performance.md`.

mod addone;
mod cli_add;
mod clients;
mod gen;
mod machine;
mod measure;
mod repo_side;
mod report;
mod run;
mod server;
mod shapes;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::shapes::{Layout, Shape};

/// End-to-end TUF benchmarks: tufkit, python-tuf and tough on the same repositories.
#[derive(Parser, Debug)]
#[command(name = "tufkit-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a consistent-snapshot repository (cached: reused when already complete).
    Gen(GenArgs),
    /// Serve a directory on 127.0.0.1 until interrupted.
    Serve {
        /// Directory to serve.
        dir: PathBuf,
    },
    /// tufkit client: refresh, look up TARGET, download it (one timed run).
    Client(clients::ClientArgs),
    /// tough client: load the repository, download TARGET (one timed run).
    Tough(clients::ClientArgs),
    /// Add one target to a generated hashed-bin repository, re-signing its bin, the
    /// snapshot and the timestamp.
    AddOne(addone::AddOneArgs),
    /// Run every benchmark and write the results into docs/performance.md.
    Run(run::RunArgs),
    /// Run a program and report its wall time and peak RSS (used by `run`).
    #[command(hide = true)]
    Measure(measure::MeasureArgs),
}

#[derive(clap::Args, Debug)]
struct GenArgs {
    /// Where targets are listed.
    #[arg(long, value_enum)]
    shape: Layout,
    /// Number of targets.
    #[arg(long)]
    targets: u64,
    /// Number of bins (a power of two; for bins and succinct).
    #[arg(long, default_value_t = 0)]
    bins: u64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Regenerate even when a complete repository of this shape is there.
    #[arg(long)]
    force: bool,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(a) => gen_cmd(&a),
        Command::Serve { dir } => serve(&dir),
        Command::Client(a) => clients::tufkit(&a),
        Command::Tough(a) => clients::tough(&a),
        Command::AddOne(a) => addone::add_one(&a).map(|r| {
            println!("{} {}", r.role, r.written.join(" "));
        }),
        Command::Run(a) => run::run(&a),
        Command::Measure(a) => measure::measure_main(&a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn gen_cmd(a: &GenArgs) -> Result<()> {
    let shape = match a.shape {
        Layout::Flat => Shape::flat(a.targets),
        l => Shape::binned(l, a.targets, a.bins),
    };
    shape.validate()?;
    let info = if a.force {
        gen::generate(&shape, &a.out)?
    } else {
        gen::ensure(&shape, &a.out, false)?
    };
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(())
}

fn serve(dir: &std::path::Path) -> Result<()> {
    let server = server::Server::start(dir)?;
    println!(
        "serving {} at {}/ (Ctrl-C to stop)",
        dir.display(),
        server.base_url()
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
