//! Targets whose content is hosted elsewhere (`tufkit add --manifest`): the workspace
//! records their paths in `DIR/hosted-elsewhere.jsonl`, so that `publish` does not ask
//! for their content and `verify` does not expect their files in the published tree.
//!
//! One JSON string per line (target paths may contain any character). The record only
//! grows; a path in it that a role no longer lists is simply never consulted.

use std::collections::HashSet;
use std::fs;
use std::io::Write;

use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// The record's file name inside the workspace.
pub const HOSTED_FILE: &str = "hosted-elsewhere.jsonl";

/// Appends `paths` to the record of `ws`.
pub fn record(ws: &Workspace, paths: &[&str]) -> Result<()> {
    let path = ws.dir().join(HOSTED_FILE);
    let mut text = Vec::new();
    for p in paths {
        serde_json::to_writer(&mut text, p)
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        text.push(b'\n');
    }
    append(ws, &text)
}

/// Appends already encoded record lines (JSON strings, each ending in a newline) to the
/// record of `ws`, durably.
pub fn append(ws: &Workspace, text: &[u8]) -> Result<()> {
    let path = ws.dir().join(HOSTED_FILE);
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text).and_then(|_| f.sync_all()))
        .map_err(|e| Error::io(&path, e))
}

/// Every target path recorded as hosted elsewhere in `ws`.
pub fn load(ws: &Workspace) -> Result<HashSet<String>> {
    let path = ws.dir().join(HOSTED_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<String>(l).ok())
        .collect())
}
