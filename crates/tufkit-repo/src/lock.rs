//! One writer at a time: an exclusive lock file in the workspace.
//!
//! The lock file holds the owner's process id. A lock left behind by a process that no
//! longer exists (a crash or `kill -9`) is taken over, on systems where that can be
//! checked (`/proc`); elsewhere the error names the file to delete.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the lock file inside a workspace.
pub const LOCK_FILE: &str = ".tufkit.lock";

/// A held workspace lock, released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock of the workspace at `dir`.
    pub fn acquire(dir: &Path) -> Result<Lock> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = fs::read_to_string(&path).unwrap_or_default();
                    let pid = pid.trim().to_string();
                    if owner_is_gone(&pid) {
                        // The owner died without cleaning up: take the lock over.
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    return Err(Error::Locked { path, pid });
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Locked {
            path,
            pid: "unknown".into(),
        })
    }
}

fn owner_is_gone(pid: &str) -> bool {
    let proc_dir = Path::new("/proc");
    if !proc_dir.join("self").exists() {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(p) => !proc_dir.join(p.to_string()).exists(),
        // An empty or garbled lock file is from a process killed while writing it.
        Err(_) => true,
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_refused_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::acquire(dir.path()).unwrap();
        assert!(matches!(
            Lock::acquire(dir.path()),
            Err(Error::Locked { .. })
        ));
        drop(lock);
        let again = Lock::acquire(dir.path()).unwrap();
        drop(again);
        if Path::new("/proc/self").exists() {
            // A pid that cannot be running.
            fs::write(dir.path().join(LOCK_FILE), "4294967295\n").unwrap();
            Lock::acquire(dir.path()).unwrap();
        }
    }
}
