//! The machine a run happened on: cores, CPU model, memory, kernel and load.

use std::fmt::Write as _;

/// What the report says about the machine.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Cores available to this process.
    pub nproc: usize,
    /// CPU model name.
    pub cpu: String,
    /// Total memory in GiB.
    pub memory_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// 1-minute load average when the run started.
    pub load_start: f64,
}

/// The 1-minute load average now (0 when unknown).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

impl Machine {
    /// Reads the machine facts from /proc.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            memory_gib: mem_kib / (1024.0 * 1024.0),
            kernel,
            load_start: load_average(),
        }
    }

    /// One Markdown line describing the machine.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{} cores (nproc), {}, {:.1} GiB memory, Linux {}; 1-minute load average {:.2} at the start and {:.2} at the end",
            self.nproc,
            self.cpu,
            self.memory_gib,
            self.kernel,
            self.load_start,
            load_average()
        );
        s
    }
}
