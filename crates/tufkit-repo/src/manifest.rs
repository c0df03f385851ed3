//! `tufkit add --manifest` at registry scale: a million targets hosted elsewhere, staged
//! into the roles the delegations assign them to, with memory bounded by the manifest's
//! text and the roles being written, not by a parsed copy of every entry.
//!
//! 1. The manifest is read once; every line is parsed, checked and routed (on every
//!    core), keeping only where the line is and which role it goes to. Bad lines,
//!    repeated paths and paths no role may list stop the add before anything is written.
//! 2. The paths are recorded as hosted elsewhere (see [`crate::hosted`]).
//! 3. Role by role (in parallel), the lines routed to it are parsed again into its
//!    working copy, which is saved as its draft and dropped.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::Path;

use tufkit_core::metadata::TargetFile;

use crate::add::AddReport;
use crate::edit::{empty_targets, StagedTarget};
use crate::error::{invalid, Error, Result};
use crate::parallel;
use crate::roles::RoleStore;
use crate::sources::{bad_lines, manifest_line, no_targets, ManifestEntry, MAX_LINE_ERRORS};
use crate::workspace::Workspace;

/// Targets listed one by one in [`AddReport::staged`]; a larger add only counts them.
pub const LIST_LIMIT: usize = 100;

/// Lines parsed and routed together (one parallel step).
const CHUNK: usize = 1 << 14;

/// One good manifest line: where it is and which role it goes to.
struct Line {
    start: usize,
    end: usize,
    number: usize,
    role: u32,
}

/// What the first pass learnt from one line.
enum Checked {
    Good {
        entry: ManifestEntry,
        role: Result<String>,
    },
    Bad(String),
}

fn path_key(path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

/// The lines of `text` with their numbers (from 1) and byte ranges, without the line
/// ends (`\n` or `\r\n`); blank lines are left out.
fn lines(text: &str) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let end = start + line.len();
        let body = line.strip_suffix('\n').unwrap_or(line);
        let body = body.strip_suffix('\r').unwrap_or(body);
        if !body.trim().is_empty() {
            out.push((i + 1, start, start + body.len()));
        }
        start = end;
    }
    out
}

/// Everything the first pass found, in line order.
#[derive(Default)]
struct Scan {
    lines: Vec<Line>,
    roles: Vec<String>,
    /// Targets per role, by the role's place in `roles`.
    counts: Vec<usize>,
    role_index: HashMap<String, u32>,
    /// First line of each path, by a hash of the path (collisions are resolved by
    /// comparing the paths themselves).
    seen: HashMap<u64, usize>,
    /// Paths whose hash collided with another path's, with their first line.
    seen_exact: HashMap<String, usize>,
    bad: usize,
    errors: Vec<String>,
    duplicate: Option<Error>,
    unroutable: Option<Error>,
    hosted: Vec<u8>,
    report: AddReport,
}

impl Scan {
    /// The path of an earlier good line (re-parsed: only needed on a hash collision).
    fn path_of(&self, text: &str, i: usize) -> Option<String> {
        let l = &self.lines[i];
        manifest_line(&text[l.start..l.end]).ok().map(|e| e.0)
    }

    /// The line number that listed `path` before, if any (and records it otherwise).
    fn first_listing(&mut self, text: &str, path: &str, index: usize) -> Option<usize> {
        let key = path_key(path);
        let Some(&earlier) = self.seen.get(&key) else {
            self.seen.insert(key, index);
            return None;
        };
        if self.path_of(text, earlier).as_deref() == Some(path) {
            return Some(self.lines[earlier].number);
        }
        match self.seen_exact.get(path) {
            Some(&i) => Some(self.lines[i].number),
            None => {
                self.seen_exact.insert(path.to_string(), index);
                None
            }
        }
    }

    fn take(&mut self, text: &str, number: usize, range: (usize, usize), checked: Checked) {
        let (entry, role) = match checked {
            Checked::Bad(why) => {
                self.bad += 1;
                if self.errors.len() < MAX_LINE_ERRORS {
                    self.errors.push(format!("line {number}: {why}"));
                }
                return;
            }
            Checked::Good { entry, role } => (entry, role),
        };
        if self.bad > 0 {
            // Only the bad lines are reported now; nothing else is needed.
            return;
        }
        let (path, length, hashes, _) = entry;
        let index = self.lines.len();
        if let Some(first) = self.first_listing(text, &path, index) {
            if self.duplicate.is_none() {
                self.duplicate = Some(invalid(format!(
                    "target path {path:?} is given twice: by manifest line {first} and by manifest line {number}; each target path can list one file"
                )));
            }
        }
        let role = match role {
            Ok(r) => r,
            Err(e) => {
                self.unroutable.get_or_insert(e);
                return;
            }
        };
        let role_id = match self.role_index.get(&role) {
            Some(&id) => id,
            None => {
                let id = self.roles.len() as u32;
                self.roles.push(role.clone());
                self.counts.push(0);
                self.role_index.insert(role.clone(), id);
                id
            }
        };
        self.lines.push(Line {
            start: range.0,
            end: range.1,
            number,
            role: role_id,
        });
        self.report.bytes += length;
        self.counts[role_id as usize] += 1;
        if self.report.staged.len() <= LIST_LIMIT {
            self.report.staged.push(StagedTarget {
                sha256: hashes.get("sha256").cloned().unwrap_or_default(),
                path: path.clone(),
                role,
                length,
            });
        }
        // The hosted-elsewhere record, in its own format (one JSON string per line).
        if serde_json::to_writer(&mut self.hosted, &path).is_ok() {
            self.hosted.push(b'\n');
        }
    }
}

/// Stages every target of the JSON-lines manifest `file` (see
/// [`crate::sources::from_manifest`] for its format) into the roles the delegations
/// assign them to (or all into `role`), under the workspace lock. Nothing is staged if
/// any line is bad, a path is given twice, or a path cannot go where it is sent.
///
/// The report counts the targets per role; [`AddReport::staged`] lists them only when
/// there are at most [`LIST_LIMIT`].
pub fn add_manifest(ws: &Workspace, file: &Path, role: Option<&str>) -> Result<AddReport> {
    let _lock = ws.lock()?;
    let name = file.display().to_string();
    let bytes = fs::read(file).map_err(|e| Error::io(file, e))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::io(
            file,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ),
        )
    })?;
    let head = ws.head()?;
    let store = RoleStore::new(ws, &head, true)?;
    let root = &head.root.signed;
    if let Some(r) = role.filter(|r| *r != "targets") {
        store.authority(root, r)?;
    }

    // 1. Parse, check and route every line, a chunk at a time on every core.
    let all = lines(&text);
    let mut scan = Scan::default();
    for chunk in all.chunks(CHUNK) {
        let checked =
            parallel::map(
                chunk.to_vec(),
                parallel::cpu_threads(),
                |(_, s, e)| match manifest_line(&text[s..e]) {
                    Err(why) => Checked::Bad(why),
                    Ok(entry) => {
                        let role = match role {
                            Some(r) => store.check_may_list(r, &entry.0).map(|_| r.to_string()),
                            None => store.route(&entry.0),
                        };
                        Checked::Good { entry, role }
                    }
                },
            );
        for (&(number, s, e), c) in chunk.iter().zip(checked) {
            scan.take(&text, number, (s, e), c);
        }
    }
    if scan.bad > 0 {
        return Err(bad_lines(&name, scan.bad, &scan.errors));
    }
    if let Some(e) = scan.duplicate.take() {
        return Err(e);
    }
    if let Some(e) = scan.unroutable.take() {
        return Err(e);
    }
    if scan.lines.is_empty() {
        return Err(no_targets(&name));
    }
    let mut report = std::mem::take(&mut scan.report);
    report.targets = scan.lines.len();
    report.roles = scan
        .roles
        .iter()
        .cloned()
        .zip(scan.counts.iter().copied())
        .collect();
    if report.staged.len() > LIST_LIMIT {
        report.staged.clear();
    }

    // 2. The record first: a draft listing content with no record is refused by
    // `publish`, never published.
    crate::hosted::append(ws, &scan.hosted)?;
    drop(std::mem::take(&mut scan.hosted));

    // Where `add` keeps staged content (none here): made as every add makes it.
    let files_dir = ws.drafts().dir().join("files");
    fs::create_dir_all(&files_dir).map_err(|e| Error::io(&files_dir, e))?;

    // 3. Each role's lines into its draft, one role at a time per thread.
    let mut by_role: Vec<Vec<&Line>> = vec![Vec::new(); scan.roles.len()];
    for l in &scan.lines {
        by_role[l.role as usize].push(l);
    }
    if by_role.len() > 64 {
        ws.progress(&format!("saving {} draft roles", by_role.len()));
    }
    let work: Vec<(&String, Vec<&Line>)> = scan.roles.iter().zip(by_role).collect();
    parallel::try_map(work, parallel::cpu_threads(), |(role, lines)| {
        let mut m = store.take(role)?.unwrap_or_else(|| empty_targets(ws));
        for l in lines {
            let (path, length, hashes, custom) =
                manifest_line(&text[l.start..l.end]).map_err(invalid)?;
            m.signed.targets.insert(
                path,
                TargetFile {
                    length,
                    hashes,
                    custom,
                    unknown: Default::default(),
                },
            );
        }
        // New content: earlier signatures no longer cover it.
        m.signatures.clear();
        ws.drafts().save_role(role, &m)
    })?;
    Ok(report)
}

/// Targets per role, most first (ties by name): for summaries.
pub fn busiest_roles(report: &AddReport) -> Vec<(&String, &usize)> {
    let mut roles: Vec<(&String, &usize)> = report.roles.iter().collect();
    roles.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn lines_skip_blanks_and_line_ends() {
        let text = "a\r\n\n  \nb\nc";
        let got: Vec<(usize, &str)> = lines(text)
            .into_iter()
            .map(|(n, s, e)| (n, &text[s..e]))
            .collect();
        assert_eq!(got, vec![(1, "a"), (4, "b"), (5, "c")]);
    }

    #[test]
    fn busiest_roles_come_first() {
        let r = AddReport {
            roles: BTreeMap::from([("b".into(), 1), ("a".into(), 2), ("c".into(), 2)]),
            ..AddReport::default()
        };
        let names: Vec<&str> = busiest_roles(&r).iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["a", "c", "b"]);
    }
}
