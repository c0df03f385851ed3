//! Results, statistics and the Markdown written into `docs/performance.md`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::shapes::{thousands, RepoInfo};

/// Start marker of the generated part of the document.
pub const BEGIN: &str = "<!-- tufkit-bench:begin -->";
/// End marker of the generated part of the document.
pub const END: &str = "<!-- tufkit-bench:end -->";

/// One measured process run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall time in milliseconds.
    pub wall_ms: f64,
    /// Peak RSS in MiB.
    pub rss_mib: f64,
    /// Requests the server answered during the run.
    pub requests: u64,
}

/// One line of a results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stable key the goals refer to, e.g. `client/cold/flat-100000/tufkit`.
    pub key: String,
    /// What was timed.
    pub workload: String,
    /// The repository it ran on.
    pub repo: String,
    /// Who did it.
    pub tool: String,
    /// Successful runs.
    pub samples: Vec<Sample>,
    /// Failures, timeouts and remarks.
    pub note: String,
    /// The value goals are checked against when it is not the median wall time (ms).
    pub metric_ms: Option<f64>,
    /// True for repository-side rows (no requests column).
    pub repository: bool,
}

impl Row {
    /// A row with no samples yet.
    pub fn new(key: String, workload: &str, repo: String, tool: &str, repository: bool) -> Row {
        Row {
            key,
            workload: workload.into(),
            repo,
            tool: tool.into(),
            samples: Vec::new(),
            note: String::new(),
            metric_ms: None,
            repository,
        }
    }

    /// Appends a remark to the note.
    pub fn remark(&mut self, text: &str) {
        if !self.note.is_empty() {
            self.note.push_str("; ");
        }
        self.note.push_str(text);
    }

    /// Median wall time in ms, if any run succeeded.
    pub fn median_ms(&self) -> Option<f64> {
        median(self.samples.iter().map(|s| s.wall_ms).collect())
    }

    /// Median peak RSS in MiB.
    pub fn median_rss(&self) -> Option<f64> {
        median(self.samples.iter().map(|s| s.rss_mib).collect())
    }

    fn requests(&self) -> String {
        if self.tool.contains("file://") {
            return "-".into();
        }
        let mut r: Vec<u64> = self.samples.iter().map(|s| s.requests).collect();
        r.sort_unstable();
        r.dedup();
        match r.as_slice() {
            [] => "-".into(),
            [one] => thousands(*one),
            [lo, .., hi] => format!("{}–{}", thousands(*lo), thousands(*hi)),
        }
    }
}

/// Median of a list (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Milliseconds as the tables show them: `1,613`, `217`, `9.8`.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        thousands(v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

/// Bytes as `12.2 MB` / `574 KB`.
pub fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} KB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

fn table(out: &mut String, rows: &[&Row], repository: bool) {
    if repository {
        out.push_str(
            "| workload | repository | tool | median ms | min–max ms | peak RSS MiB | notes |\n",
        );
        out.push_str("|---|---|---|---:|---:|---:|---|\n");
    } else {
        out.push_str("| workload | repository | client | median ms | min–max ms | peak RSS MiB | requests | notes |\n");
        out.push_str("|---|---|---|---:|---:|---:|---:|---|\n");
    }
    for r in rows {
        let walls: Vec<f64> = r.samples.iter().map(|s| s.wall_ms).collect();
        let (med, range, rss) = match r.median_ms() {
            Some(m) => {
                let lo = walls.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = walls.iter().copied().fold(0.0, f64::max);
                (
                    ms(m),
                    format!("{}–{}", ms(lo), ms(hi)),
                    match r.median_rss() {
                        Some(v) if v > 0.0 => format!("{v:.0}"),
                        _ => "-".into(),
                    },
                )
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        let runs = format!(
            "{} run{}",
            r.samples.len(),
            if r.samples.len() == 1 { "" } else { "s" }
        );
        let note = if r.note.is_empty() {
            runs
        } else {
            format!("{runs}; {}", r.note)
        };
        if repository {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {med} | {range} | {rss} | {note} |",
                r.workload, r.repo, r.tool
            );
        } else {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {med} | {range} | {rss} | {} | {note} |",
                r.workload,
                r.repo,
                r.tool,
                r.requests()
            );
        }
    }
}

/// A performance goal checked against one row.
pub struct Goal {
    /// What the goal says.
    pub text: &'static str,
    /// The row it is checked on.
    pub key: String,
    /// Most milliseconds allowed.
    pub max_ms: f64,
    /// Most MiB of peak RSS allowed, if the goal limits memory.
    pub max_rss_mib: Option<f64>,
}

fn goal_status(goal: &Goal, rows: &[Row]) -> String {
    let Some(row) = rows.iter().find(|r| r.key == goal.key) else {
        return "not measured in this run".into();
    };
    let Some(value) = row.metric_ms.or_else(|| row.median_ms()) else {
        return format!("**missed**: no successful run ({})", row.note);
    };
    let mut misses = Vec::new();
    let mut facts = vec![format!("{} ms", ms(value))];
    if value > goal.max_ms {
        misses.push("time");
    }
    if let (Some(max), Some(rss)) = (goal.max_rss_mib, row.median_rss()) {
        facts.push(format!("{rss:.0} MiB"));
        if rss > max {
            misses.push("memory");
        }
    }
    if misses.is_empty() {
        format!("met ({})", facts.join(", "))
    } else {
        format!(
            "**missed** on {} ({})",
            misses.join(" and "),
            facts.join(", ")
        )
    }
}

/// Everything one run produced.
pub struct Report {
    /// `quick` or `full`, repetitions, date.
    pub header: String,
    /// The machine line.
    pub machine: String,
    /// The repositories used.
    pub repos: Vec<RepoInfo>,
    /// Client and repository rows.
    pub rows: Vec<Row>,
    /// Goals to check.
    pub goals: Vec<Goal>,
    /// Extra remarks (versions, skipped parts).
    pub remarks: Vec<String>,
}

impl Report {
    /// The generated Markdown (without markers).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n\nMachine: {}.\n", self.header, self.machine);
        for r in &self.remarks {
            let _ = writeln!(out, "- {r}");
        }
        if !self.remarks.is_empty() {
            out.push('\n');
        }
        if !self.repos.is_empty() {
            out.push_str("Repositories (generated by `tufkit-bench gen`; metadata files are canonical JSON):\n\n");
            out.push_str("| repository | metadata files | metadata total | targets.json | snapshot.json | bin with the target | generated in |\n");
            out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
            for i in &self.repos {
                let bin = if i.lookup_bin.is_empty() {
                    "-".to_string()
                } else {
                    format!("{} ({})", size(i.lookup_bin_bytes), i.lookup_bin)
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {bin} | {:.1} s |",
                    i.shape.label(),
                    thousands(i.metadata_files),
                    size(i.metadata_bytes),
                    size(i.targets_json_bytes),
                    size(i.snapshot_json_bytes),
                    i.generate_seconds
                );
            }
            out.push('\n');
        }
        let clients: Vec<&Row> = self.rows.iter().filter(|r| !r.repository).collect();
        if !clients.is_empty() {
            out.push_str("Clients (each run is one process; wall time from spawn to exit):\n\n");
            table(&mut out, &clients, false);
            out.push('\n');
        }
        let repo: Vec<&Row> = self.rows.iter().filter(|r| r.repository).collect();
        if !repo.is_empty() {
            out.push_str("Repository side:\n\n");
            table(&mut out, &repo, true);
            out.push('\n');
        }
        let measured = self
            .goals
            .iter()
            .any(|g| self.rows.iter().any(|r| r.key == g.key));
        if !self.goals.is_empty() && !measured {
            out.push_str("Goals: none of their repositories is part of this run; a full run (`make bench`) checks them.\n");
        } else if !self.goals.is_empty() {
            out.push_str("Goals, checked on this run's medians:\n\n");
            for g in &self.goals {
                let _ = writeln!(out, "- {}: {}", g.text, goal_status(g, &self.rows));
            }
        }
        out
    }

    /// Replaces the generated part of `doc` (between the markers) with this report; adds
    /// the markers at the end when they are missing.
    pub fn write_into(&self, doc: &Path) -> Result<()> {
        let old = std::fs::read_to_string(doc).unwrap_or_default();
        let generated = format!("{BEGIN}\n{}{END}", self.markdown());
        let new = match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{generated}{}", &old[..b], &old[e + END.len()..])
            }
            _ => format!("{old}\n## Latest measurements\n\n{generated}\n"),
        };
        std::fs::write(doc, new).with_context(|| format!("writing {}", doc.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, walls: &[f64], rss: f64) -> Row {
        let mut r = Row::new(key.into(), "cold", "100k flat".into(), "tufkit", false);
        r.samples = walls
            .iter()
            .map(|&w| Sample {
                wall_ms: w,
                rss_mib: rss,
                requests: 6,
            })
            .collect();
        r
    }

    #[test]
    fn medians_goals_and_markers() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        let rows = vec![
            row("a", &[100.0, 300.0, 120.0], 80.0),
            row("b", &[10.0], 5.0),
        ];
        let goal = |key: &str, max_ms, max_rss_mib| Goal {
            text: "g",
            key: key.into(),
            max_ms,
            max_rss_mib,
        };
        assert!(goal_status(&goal("a", 200.0, Some(64.0)), &rows).contains("missed** on memory"));
        assert!(goal_status(&goal("a", 110.0, None), &rows).contains("missed** on time"));
        assert!(goal_status(&goal("b", 15.0, Some(64.0)), &rows).starts_with("met"));
        assert!(goal_status(&goal("c", 15.0, None), &rows).starts_with("not measured"));

        let doc = std::env::temp_dir().join(format!("tufkit-bench-doc-{}.md", std::process::id()));
        std::fs::write(&doc, format!("# Title\nkeep\n{BEGIN}\nold\n{END}\ntail\n")).unwrap();
        let report = Report {
            header: "Run".into(),
            machine: "m".into(),
            repos: vec![],
            rows,
            goals: vec![],
            remarks: vec![],
        };
        report.write_into(&doc).unwrap();
        let text = std::fs::read_to_string(&doc).unwrap();
        assert!(text.starts_with("# Title\nkeep\n"));
        assert!(text.ends_with(&format!("{END}\ntail\n")));
        assert!(!text.contains("\nold\n"), "{text}");
        assert!(
            text.contains("| cold | 100k flat | tufkit | 120 |"),
            "{text}"
        );
        std::fs::remove_file(&doc).unwrap();
    }
}
