//! Runs one benchmark process and measures it: wall time from spawn to exit, and peak RSS
//! from the kernel's accounting of that child (`wait4`), with a timeout that kills it.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// How a measured process ended.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// Exit code, if it exited normally.
    pub exit_code: Option<i32>,
    /// True when the timeout killed it.
    pub timed_out: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (the last 4 KiB).
    pub stderr: String,
}

impl Measured {
    /// True when the process exited with status 0.
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// A one-line reason for a failure.
    pub fn failure(&self) -> String {
        if self.timed_out {
            return format!("> {} s timeout (not finished)", self.wall.as_secs());
        }
        let last = self
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        // The first 200 characters say what failed; chained causes repeat it.
        let last: String = last.chars().take(200).collect();
        match self.exit_code {
            Some(c) => format!("failed (exit {c}): {last}"),
            None => format!("killed by a signal: {last}"),
        }
    }
}

/// Arguments of the hidden `tufkit-bench measure` subcommand.
#[derive(Debug, clap::Args)]
pub struct MeasureArgs {
    /// Kill the program after this many milliseconds.
    #[arg(long)]
    pub timeout_ms: u64,
    /// Where to write the JSON report.
    #[arg(long)]
    pub report: PathBuf,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

/// What `tufkit-bench measure` reports.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    wall_ns: u64,
    max_rss_kib: u64,
    exit_code: Option<i32>,
    timed_out: bool,
}

/// Runs `cmd` to completion (or until `timeout`), capturing its output in `scratch`.
///
/// The program is started by a small `tufkit-bench measure` process rather than by this
/// one: Linux carries a parent's peak RSS over into a child through fork and exec, so a
/// child of this (large) driver would report the driver's peak instead of its own.
pub fn run(cmd: Command, scratch: &Path, timeout: Duration) -> Result<Measured> {
    std::fs::create_dir_all(scratch)?;
    let out_path = scratch.join("stdout.txt");
    let err_path = scratch.join("stderr.txt");
    let report_path = scratch.join("measure.json");
    let _ = std::fs::remove_file(&report_path);
    let mut wrapper = Command::new(std::env::current_exe()?);
    wrapper
        .arg("measure")
        .arg("--timeout-ms")
        .arg(timeout.as_millis().to_string())
        .arg("--report")
        .arg(&report_path)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        wrapper.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapper.env(k, v),
            None => wrapper.env_remove(k),
        };
    }
    wrapper
        .stdin(Stdio::null())
        .stdout(Stdio::from(File::create(&out_path)?))
        .stderr(Stdio::from(File::create(&err_path)?));
    let mut child = wrapper.spawn().context("starting tufkit-bench measure")?;
    let status = child.wait()?;
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = tail(
        &std::fs::read_to_string(&err_path).unwrap_or_default(),
        4096,
    );
    let report: Report = std::fs::read(&report_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .with_context(|| format!("tufkit-bench measure failed ({status}): {stderr}"))?;
    Ok(Measured {
        wall: Duration::from_nanos(report.wall_ns),
        max_rss_kib: report.max_rss_kib,
        exit_code: report.exit_code,
        timed_out: report.timed_out,
        stdout,
        stderr,
    })
}

/// `tufkit-bench measure`: runs the program with this process's standard streams and
/// writes wall time, peak RSS and exit status to the report file.
pub fn measure_main(args: &MeasureArgs) -> Result<()> {
    let (program, rest) = args
        .command
        .split_first()
        .context("measure needs a program to run")?;
    let mut cmd = Command::new(program);
    cmd.args(rest);
    let report = spawn_and_wait(cmd, Duration::from_millis(args.timeout_ms))?;
    std::fs::write(&args.report, serde_json::to_vec(&report)?)
        .with_context(|| format!("writing {}", args.report.display()))
}

fn spawn_and_wait(mut cmd: Command, timeout: Duration) -> Result<Report> {
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let mut timed_out = false;
    let (status, usage) = loop {
        if let Some(done) = wait4(pid, true)? {
            break done;
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            // SAFETY: `pid` is our own child, not reaped yet (wait4 above returned nothing),
            // so the id cannot have been reused.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            match wait4(pid, false)? {
                Some(done) => break done,
                None => anyhow::bail!("child {pid} vanished"),
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let wall = started.elapsed();
    // The child was reaped by wait4; the std handle is dropped without waiting again.
    drop(child);
    Ok(Report {
        wall_ns: wall.as_nanos() as u64,
        max_rss_kib: usage.ru_maxrss.max(0) as u64,
        exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        timed_out,
    })
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

/// `wait4` on one child; `None` while it is still running (only with `nohang`).
fn wait4(pid: libc::pid_t, nohang: bool) -> Result<Option<(libc::c_int, libc::rusage)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: both pointers point to live, writable locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if r == pid {
            return Ok(Some((status, usage)));
        }
        if r == 0 {
            return Ok(None);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4 on a benchmark process");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_exit_codes_rss_and_timeouts() {
        let mut ok = Command::new("sh");
        ok.args(["-c", "exit 3"]);
        let r = spawn_and_wait(ok, Duration::from_secs(30)).unwrap();
        assert_eq!((r.exit_code, r.timed_out), (Some(3), false));
        assert!(r.max_rss_kib > 0);
        let mut slow = Command::new("sleep");
        slow.arg("5");
        let r = spawn_and_wait(slow, Duration::from_millis(100)).unwrap();
        assert!(r.timed_out && r.exit_code.is_none());
        assert!(r.wall_ns < 5_000_000_000);
    }
}
