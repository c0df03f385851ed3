//! The top-level update: root chain, timestamp, snapshot, targets (spec 5.1 to 5.6).

use chrono::{DateTime, Utc};
use tufkit_core::{TimestampUpdate, TrustedSet};

use super::Updater;
use crate::error::{Error, Result};
use crate::urls::{role_remote_name, root_file_name};

impl Updater {
    /// Updates the top-level metadata (spec 5.1 to 5.6).
    ///
    /// Each accepted role is persisted at once, so a failure later in the same refresh
    /// leaves what was accepted before it. With nothing new on the repository this makes
    /// two requests: the next root version (404) and `timestamp.json`.
    pub async fn refresh(&mut self) -> Result<()> {
        self.trusted = None;
        // 5.1: the reference time is read once for the whole update.
        let now = self.config.now();
        let mut trusted = self.load_trusted_root(now)?;
        self.update_root_chain(&mut trusted).await?;
        // 5.3.10: the final root must not be expired.
        trusted
            .check_final_root()
            .map_err(|e| Error::metadata("root", None, e))?;
        // 5.3.11: after a timestamp/snapshot key rotation the local copies must not be used
        // as rollback baselines (fast-forward attack recovery).
        if trusted.fast_forward_recovery_needed() {
            self.store.remove("timestamp")?;
            self.store.remove("snapshot")?;
        }
        self.update_timestamp(&mut trusted).await?;
        self.update_snapshot(&mut trusted).await?;
        // 5.6: top-level targets, delegated by root.
        self.load_targets_role(&mut trusted, "targets", "root")
            .await?;
        self.trusted = Some(trusted);
        Ok(())
    }

    /// 5.2: the local root (or the bootstrap root), verified before any request.
    fn load_trusted_root(&self, now: DateTime<Utc>) -> Result<TrustedSet> {
        let local_path = self.store.path("root")?;
        let local = self.store.read("root")?;
        let bootstrap = || {
            TrustedSet::new(&self.bootstrap_root, now)
                .map_err(|e| Error::metadata("root", Some("bootstrap root"), e))
        };
        let Some(local) = local else {
            let trusted = bootstrap()?;
            self.store.write("root", &self.bootstrap_root)?;
            return Ok(trusted);
        };
        let trusted = TrustedSet::new(&local, now).map_err(|e| {
            let path = local_path.display().to_string();
            Error::metadata("root", Some(&path), e)
        })?;
        // A newer bootstrap root (e.g. shipped with a newer application) wins.
        if self.bootstrap_root != local {
            if let Ok(boot) = TrustedSet::new(&self.bootstrap_root, now) {
                if boot.root().version > trusted.root().version {
                    self.store.write("root", &self.bootstrap_root)?;
                    return Ok(boot);
                }
            }
        }
        Ok(trusted)
    }

    /// 5.3: fetch `N+1.root.json` until not found, at most `max_root_rotations` times.
    async fn update_root_chain(&self, trusted: &mut TrustedSet) -> Result<()> {
        for _ in 0..self.config.max_root_rotations {
            let Some(next) = trusted.root().version.checked_add(1) else {
                return Ok(());
            };
            let url = self.metadata_url(&root_file_name(next));
            let what = format!("root v{next}");
            let bytes = match self
                .fetch_metadata(&what, &url, self.config.max_root_size)
                .await
            {
                Ok(bytes) => bytes,
                // 5.3.2: no newer root published.
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            };
            // 5.3.4 to 5.3.7: signatures of old and new root keys, version N+1.
            trusted
                .update_root(&bytes)
                .map_err(|e| Error::metadata("root", Some(&url), e))?;
            // 5.3.8: persist each accepted root at once.
            self.store.write("root", &bytes)?;
        }
        Ok(())
    }

    /// 5.4: the local timestamp as rollback baseline, then the new one.
    async fn update_timestamp(&self, trusted: &mut TrustedSet) -> Result<()> {
        if let Some(local) = self.store.read("timestamp")? {
            // A local copy that no longer verifies is simply not a baseline.
            let _ = trusted.load_local_timestamp(&local);
        }
        let url = self.metadata_url("timestamp.json");
        let bytes = self
            .fetch_metadata("timestamp", &url, self.config.max_timestamp_size)
            .await?;
        let update = trusted
            .update_timestamp(&bytes)
            .map_err(|e| Error::metadata("timestamp", Some(&url), e))?;
        // 5.4.3: the same version again means nothing changed: keep the trusted copy.
        if update == TimestampUpdate::Updated {
            self.store.write("timestamp", &bytes)?;
        }
        Ok(())
    }

    /// 5.5: reuse the local snapshot when it is what timestamp names, else fetch it.
    async fn update_snapshot(&self, trusted: &mut TrustedSet) -> Result<()> {
        if let Some(local) = self.store.read("snapshot")? {
            // Even a stale local snapshot is the baseline for 5.5.5 rollback checks.
            if trusted.load_local_snapshot(local).is_ok() && trusted.local_snapshot_is_current() {
                return Ok(());
            }
        }
        let Some(meta) = trusted.timestamp().map(|t| t.snapshot_meta().clone()) else {
            return Err(Error::metadata(
                "snapshot",
                None,
                tufkit_core::Error::OutOfOrder {
                    role: "snapshot".into(),
                    reason: "timestamp must be loaded first",
                },
            ));
        };
        let consistent = trusted.root().consistent();
        let url = self.metadata_url(&role_remote_name("snapshot", meta.version, consistent));
        let bytes = self
            .fetch_listed("snapshot", &url, meta.length, self.config.max_snapshot_size)
            .await?;
        let snapshot = trusted
            .update_snapshot(bytes)
            .map_err(|e| Error::metadata("snapshot", Some(&url), e))?;
        self.store.write("snapshot", snapshot.bytes())?;
        Ok(())
    }

    /// 5.6: a targets role, reusing the local copy when it matches snapshot meta.
    ///
    /// `delegator` is `root` for top-level targets. A role missing from snapshot fails
    /// before any request (5.6.1).
    pub(super) async fn load_targets_role(
        &self,
        trusted: &mut TrustedSet,
        role: &str,
        delegator: &str,
    ) -> Result<()> {
        let meta = trusted
            .snapshot_meta_for(role)
            .map_err(|e| Error::metadata(role, None, e))?;
        if let Some(local) = self.store.read(role)? {
            if trusted
                .update_delegated_targets(local, role, delegator)
                .is_ok()
            {
                return Ok(());
            }
        }
        let consistent = trusted.root().consistent();
        let url = self.metadata_url(&role_remote_name(role, meta.version, consistent));
        let bytes = self
            .fetch_listed(role, &url, meta.length, self.config.max_targets_size)
            .await?;
        let doc = trusted
            .update_delegated_targets(bytes, role, delegator)
            .map_err(|e| Error::metadata(role, Some(&url), e))?;
        self.store.write(role, doc.bytes())?;
        Ok(())
    }
}
