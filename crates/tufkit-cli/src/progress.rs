//! Progress on stderr for long repository work: one line updated in place on a
//! terminal, a line every few seconds otherwise (logs, CI), nothing with `--quiet`.
//! Work that finishes within a second shows no counter at all.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shows nothing before work has run this long.
const SHOW_AFTER: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    task: String,
    started: Option<Instant>,
    last: Option<Instant>,
    /// A counter line is on screen without its newline (terminal only).
    open: bool,
}

/// The stderr progress display shared by a workspace's callbacks.
pub struct Progress {
    tty: bool,
    state: Mutex<State>,
}

impl Progress {
    /// A display on this process's stderr.
    pub fn stderr() -> Arc<Progress> {
        Arc::new(Progress {
            tty: std::io::stderr().is_terminal(),
            state: Mutex::new(State::default()),
        })
    }

    /// A progress line (`  .. text`).
    pub fn line(&self, text: &str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        if st.open {
            let _ = writeln!(err);
            st.open = false;
        }
        let _ = writeln!(err, "  .. {text}");
    }

    /// `done` of `total` items of `task`.
    pub fn count(&self, task: &str, done: u64, total: u64) {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.task != task {
            if st.open {
                eprintln!();
            }
            *st = State {
                task: task.to_string(),
                started: Some(now),
                ..State::default()
            };
        }
        let started = *st.started.get_or_insert(now);
        let finished = done >= total;
        let shown = st.last.is_some();
        if now.duration_since(started) < SHOW_AFTER && !(finished && shown) {
            return;
        }
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(2)
        };
        if !finished && st.last.is_some_and(|l| now.duration_since(l) < every) {
            return;
        }
        let pct = (done.saturating_mul(100)).checked_div(total).unwrap_or(100);
        let text = format!("  .. {task} {done}/{total} ({pct}%)");
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{text}");
            if finished {
                let _ = writeln!(err);
            }
            st.open = !finished;
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
        st.last = Some(now);
    }
}
