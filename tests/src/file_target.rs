//! A target that lives in files, shared by worker processes: every sync appends
//! `code version` to `synced.log`; a sync of an object that another sync of the same object
//! is still running records the object in `overlaps.log`.

use crate::scripted::record_mappings;
use outsync_core::{
    ConfiguredProvider, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome, SyncRequest,
    async_trait,
};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The provider (identifier `file_target`).
pub struct FileTargetProvider {
    dir: PathBuf,
    delay: Duration,
}

impl FileTargetProvider {
    /// Writes into `dir`; each call takes `delay`. The provider is `file_target` with
    /// [`record_mappings`].
    pub fn configured(dir: &Path, delay: Duration) -> Arc<ConfiguredProvider> {
        std::fs::create_dir_all(dir.join("active")).expect("target dir");
        let provider = Self {
            dir: dir.to_owned(),
            delay,
        };
        Arc::new(ConfiguredProvider::new(
            "file_target",
            record_mappings(),
            Arc::new(provider),
        ))
    }

    fn append(&self, file: &str, line: &str) -> Result<(), SyncError> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(file))
            .map_err(|e| SyncError::recoverable(format!("cannot open {file}: {e}")))?;
        log.write_all(format!("{line}\n").as_bytes())
            .map_err(|e| SyncError::recoverable(format!("cannot write {file}: {e}")))
    }
}

/// The lines of `file` in `dir` (empty if it does not exist).
pub fn read_lines(dir: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[async_trait]
impl OutboundSyncProvider for FileTargetProvider {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let code = request.id_value;
        let marker = self.dir.join("active").join(code);
        let exclusive = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
            .is_ok();
        if !exclusive {
            self.append("overlaps.log", code)?;
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let version = request
            .properties
            .first()
            .map(|p| p.value.to_string())
            .unwrap_or_default();
        self.append("synced.log", &format!("{code} {version}"))?;
        if exclusive {
            let _ = std::fs::remove_file(&marker);
        }
        Ok(Some(SyncOutcome::new(SyncAction::Update, &request)))
    }
}
