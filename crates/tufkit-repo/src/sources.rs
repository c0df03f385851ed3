//! Where new targets come from: files on the command line, every file under a folder
//! (`tufkit add --from-dir`), or a JSON-lines manifest of targets hosted elsewhere
//! (`tufkit add --manifest`).

use std::collections::BTreeMap;
use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tufkit_core::crypto::hash::HashAlgorithm;
use tufkit_core::metadata::Targets;

use crate::error::{invalid, Error, Result};

/// Where the content of a new target is.
#[derive(Debug, Clone)]
pub enum Source {
    /// A local file: hashed, and copied into `staged/files/` for `publish`.
    File(PathBuf),
    /// Content hosted elsewhere (not published by tufkit): its length and hashes.
    Hosted {
        /// Length in bytes.
        length: u64,
        /// Algorithm name to hex digest.
        hashes: BTreeMap<String, String>,
    },
}

/// One target to stage.
#[derive(Debug, Clone)]
pub struct NewTarget {
    /// Target path (`/`-separated).
    pub path: String,
    /// Its content.
    pub source: Source,
    /// Custom metadata.
    pub custom: Option<Value>,
    /// The manifest line it was given on, if any (for messages).
    pub line: Option<usize>,
}

impl NewTarget {
    /// Where the target was given, for messages: its file, or its manifest line.
    pub fn origin(&self) -> String {
        match (&self.source, self.line) {
            (_, Some(n)) => format!("manifest line {n}"),
            (Source::File(p), None) => p.display().to_string(),
            (Source::Hosted { .. }, None) => format!("the entry for {}", self.path),
        }
    }
}

/// Files `--from-dir` left out.
#[derive(Debug, Clone, Default)]
pub struct Skipped {
    /// Symbolic links (never followed).
    pub symlinks: usize,
    /// Hidden files and directories (names starting with `.`), unless included.
    pub hidden: usize,
    /// Sockets, pipes, devices.
    pub other: usize,
}

/// Every regular file under `folder`, as targets whose paths are relative to it (with
/// `/` separators) behind `prefix`. Symbolic links are not followed (a link is skipped,
/// whether it points to a file or a directory); hidden files and directories (names
/// starting with `.`, like `.git/`) are skipped unless `include_hidden`. Paths come out
/// sorted.
pub fn from_dir(
    folder: &Path,
    prefix: Option<&str>,
    include_hidden: bool,
    custom: Option<&Value>,
) -> Result<(Vec<NewTarget>, Skipped)> {
    let meta = fs::metadata(folder).map_err(|e| Error::io(folder, e))?;
    if !meta.is_dir() {
        return Err(invalid(format!(
            "--from-dir {}: not a directory",
            folder.display()
        )));
    }
    let prefix = match prefix.unwrap_or("") {
        "" => String::new(),
        p if p.ends_with('/') => p.to_string(),
        p => format!("{p}/"),
    };
    let mut skipped = Skipped::default();
    let mut out = Vec::new();
    // (directory, its target path prefix)
    let mut stack = vec![(folder.to_path_buf(), prefix)];
    while let Some((dir, base)) = stack.pop() {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(&dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(invalid(format!(
                    "{}: the file name is not valid UTF-8, so it cannot be a target path; rename it, or add it alone with `tufkit add DIR FILE --as PATH`",
                    path.display()
                )));
            };
            // `file_type` does not follow symbolic links.
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_symlink() {
                skipped.symlinks += 1;
                continue;
            }
            if name.starts_with('.') && !include_hidden {
                skipped.hidden += 1;
                continue;
            }
            let target = format!("{base}{name}");
            if kind.is_dir() {
                subdirs.push((path, format!("{target}/")));
            } else if kind.is_file() {
                Targets::check_target_path(&target).map_err(|e| {
                    invalid(format!("{}: target path {target:?}: {e}", path.display()))
                })?;
                out.push(NewTarget {
                    path: target,
                    source: Source::File(path),
                    custom: custom.cloned(),
                    line: None,
                });
            } else {
                skipped.other += 1;
            }
        }
        // Depth first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((out, skipped))
}

/// Most line errors a manifest error message lists.
pub(crate) const MAX_LINE_ERRORS: usize = 20;

/// Reads a JSON-lines manifest: one object per line with `path`, `length`, `hashes`
/// (algorithm to hex digest) and optionally `custom` (an object). Blank lines are
/// skipped. Every line is checked; the error lists the bad lines by number.
pub fn from_manifest(file: &Path) -> Result<Vec<NewTarget>> {
    let f = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let name = file.display().to_string();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut bad = 0usize;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| Error::io(file, e))?;
        if line.trim().is_empty() {
            continue;
        }
        match manifest_line(&line) {
            Ok((path, length, hashes, custom)) => out.push(NewTarget {
                path,
                source: Source::Hosted { length, hashes },
                custom,
                line: Some(n),
            }),
            Err(why) => {
                bad += 1;
                if errors.len() < MAX_LINE_ERRORS {
                    errors.push(format!("line {n}: {why}"));
                }
            }
        }
    }
    if bad > 0 {
        return Err(bad_lines(&name, bad, &errors));
    }
    if out.is_empty() {
        return Err(no_targets(&name));
    }
    Ok(out)
}

/// The error for a manifest with `bad` bad lines, `errors` describing the first ones.
pub(crate) fn bad_lines(name: &str, bad: usize, errors: &[String]) -> Error {
    let more = if bad > errors.len() {
        format!("\n  ... and {} more bad line(s)", bad - errors.len())
    } else {
        String::new()
    };
    invalid(format!(
        "{name}: {bad} bad line(s), nothing was staged. Each line must be a JSON object {{\"path\": ..., \"length\": ..., \"hashes\": {{\"sha256\": ...}}, \"custom\": {{...}}}}:\n  {}{more}",
        errors.join("\n  ")
    ))
}

/// The error for a manifest without a single target.
pub(crate) fn no_targets(name: &str) -> Error {
    invalid(format!("{name}: the manifest lists no targets"))
}

pub(crate) type ManifestEntry = (String, u64, BTreeMap<String, String>, Option<Value>);

/// One manifest line as written; checked further by [`manifest_line`].
#[derive(serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with path, length, hashes and optionally custom"
)]
struct Line {
    path: String,
    length: u64,
    hashes: Map<String, Value>,
    #[serde(default)]
    custom: Option<Value>,
}

pub(crate) fn manifest_line(line: &str) -> std::result::Result<ManifestEntry, String> {
    let Line {
        path,
        length,
        hashes,
        custom,
    } = serde_json::from_str(line).map_err(|e| {
        // serde_json's own words, without its position (always line 1 here).
        let text = e.to_string();
        match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    })?;
    Targets::check_target_path(&path).map_err(|e| format!("path {path:?}: {e}"))?;
    let hashes = check_hashes(&path, hashes)?;
    let custom = match custom {
        None => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => return Err(format!("{path}: \"custom\" must be an object")),
    };
    Ok((path, length, hashes, custom))
}

fn check_hashes(
    path: &str,
    hashes: Map<String, Value>,
) -> std::result::Result<BTreeMap<String, String>, String> {
    if hashes.is_empty() {
        return Err(format!("{path}: \"hashes\" lists no hash"));
    }
    let mut out = BTreeMap::new();
    let mut verifiable = false;
    for (alg, v) in hashes {
        let Value::String(hex) = v else {
            return Err(format!("{path}: hashes.{alg} must be a hex string"));
        };
        if hex.is_empty() || hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{path}: hashes.{alg} is not a hex digest"));
        }
        if let Some(known) = HashAlgorithm::from_name(&alg) {
            if hex.len() != 2 * known.output_len() {
                return Err(format!(
                    "{path}: hashes.{alg} has {} bytes, a {alg} digest has {}",
                    hex.len() / 2,
                    known.output_len()
                ));
            }
            verifiable = true;
        }
        out.insert(alg, hex.to_ascii_lowercase());
    }
    if !verifiable {
        return Err(format!(
            "{path}: hashes must include sha256, sha384 or sha512, or clients cannot check the download"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lines_are_checked_one_by_one() {
        let ok = format!(
            "{{\"path\":\"a/b.tgz\",\"length\":3,\"hashes\":{{\"sha256\":\"{}\"}},\"custom\":{{\"v\":1}}}}",
            "ab".repeat(32)
        );
        let (p, l, h, c) = manifest_line(&ok).unwrap();
        assert_eq!((p.as_str(), l), ("a/b.tgz", 3));
        assert_eq!(h["sha256"].len(), 64);
        assert!(c.is_some());
        for (bad, why) in [
            (
                "\"text\"",
                "expected a JSON object with path, length, hashes",
            ),
            (
                "{\"path\":1}",
                "invalid type: integer `1`, expected a string",
            ),
            ("{\"path\":\"../x\",\"length\":1,\"hashes\":{}}", "path"),
            ("{\"path\":\"x\",\"hashes\":{}}", "missing field `length`"),
            (
                "{\"path\":\"x\",\"length\":-1,\"hashes\":{}}",
                "expected u64",
            ),
            (
                "{\"path\":\"x\",\"length\":1,\"hashes\":{\"sha256\":\"zz\"}}",
                "not a hex",
            ),
            (
                "{\"path\":\"x\",\"length\":1,\"hashes\":{\"sha256\":\"abcd\"}}",
                "has 2 bytes",
            ),
            (
                "{\"path\":\"x\",\"length\":1,\"hashes\":{\"md5\":\"abcd\"}}",
                "must include",
            ),
            (
                "{\"path\":\"x\",\"length\":1,\"lenght\":2}",
                "unknown field `lenght`",
            ),
            (
                "{\"path\":\"x\",\"length\":1,\"hashes\":{\"sha256\":\"ab\"},\"custom\":3}",
                "bytes",
            ),
            ("not json", "expected ident"),
        ] {
            let e = manifest_line(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
