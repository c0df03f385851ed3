//! The `tough` crate's repository loader consumes repositories published by tufkit,
//! before and after delegations (path and hash-prefix), a root rotation and a revocation,
//! and downloads every target from them.
//!
//! tough does not implement TAP 15 (`succinct_roles`) and loads every delegated role when
//! it loads a repository, so the hashed-bins part of the scenario is exercised against
//! python-tuf only (`interop_python.rs`). tough 0.24 also fetches a consistent-snapshot
//! target `dir/name` as `HASH.dir/name` instead of `dir/HASH.name` (spec 5.7.2), so this
//! scenario keeps target paths at the top level.

mod repo_support;

use futures_util::StreamExt as _;
use repo_support::Scenario;
use tough::{RepositoryLoader, TargetName};
use url::Url;

async fn tough_fetch_all(s: &Scenario, phase: &str) {
    let root = std::fs::read(s.root_v1()).unwrap();
    let base = Url::from_directory_path(s.published()).unwrap();
    let repo = RepositoryLoader::new(
        &root,
        base.join("metadata/").unwrap(),
        base.join("targets/").unwrap(),
    )
    .load()
    .await
    .unwrap_or_else(|e| panic!("tough cannot load the repository after {phase}: {e}"));
    for (path, content) in &s.expected {
        let name = TargetName::new(path.clone()).unwrap();
        let mut stream = repo
            .read_target(&name)
            .await
            .unwrap_or_else(|e| panic!("tough: {path} after {phase}: {e}"))
            .unwrap_or_else(|| panic!("tough: {path} not found after {phase}"));
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(&got, content, "tough: {path} after {phase}");
    }
}

#[tokio::test]
async fn tough_loads_a_tufkit_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Scenario::new(tmp.path(), false, true);
    tough_fetch_all(&s, "init").await;
    s.delegations();
    tough_fetch_all(&s, "delegations").await;
    s.rotate_targets_key();
    tough_fetch_all(&s, "a root rotation").await;
    s.revoke_team_key();
    s.verify();
    tough_fetch_all(&s, "a revocation").await;
}
