//! The file source: a directory, a manifest, a watcher.
//!
//! Any change in the directory (or in the directory of a file the manifest names elsewhere)
//! starts a debounce; once events have been quiet for `debounce` (at most five debounces after
//! the first event) the manifest and every file are re-read. Atomic renames and Kubernetes'
//! `..data` symlink swap both show up as events in the watched directory, and files are read
//! through the symlinks, so a swap is seen whole. A half-written or bad file fails the store's
//! checks and the last good version stays. Everything is also re-read every `rescan_interval`.

use super::manifest::Manifest;
use crate::config::FilesConfig;
use crate::error::SdsError;
use crate::store::{Registration, SourceKind, Store};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

struct FileSource {
    config: FilesConfig,
    store: Arc<Store>,
    manifest: Manifest,
    manifest_error: Option<String>,
    watched: HashSet<PathBuf>,
}

/// Reads the directory once, then watches it in a task.
///
/// # Errors
/// The watcher cannot be created.
pub(crate) fn start(
    config: FilesConfig,
    store: Arc<Store>,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, SdsError> {
    let (tx, rx) = mpsc::channel::<()>(1);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match event {
            Ok(e) => match e.kind {
                EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write,
                )) => true,
                EventKind::Access(_) => false,
                EventKind::Any
                | EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Remove(_)
                | EventKind::Other => true,
            },
            Err(_) => true,
        };
        if relevant {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| SdsError::Source {
        source_name: "files",
        message: format!("cannot create the watcher: {e}"),
    })?;
    let mut source = FileSource {
        config,
        store,
        manifest: Manifest::default(),
        manifest_error: None,
        watched: HashSet::new(),
    };
    let mut watcher = watcher;
    source.reload();
    source.rewatch(&mut watcher);
    Ok(tokio::spawn(source.run(watcher, rx, shutdown)))
}

impl FileSource {
    async fn run(
        mut self,
        mut watcher: notify::RecommendedWatcher,
        mut events: mpsc::Receiver<()>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let debounce = self.config.debounce;
        loop {
            tokio::select! {
                event = events.recv() => {
                    if event.is_none() {
                        return;
                    }
                    let deadline = Instant::now() + debounce * 5;
                    loop {
                        let quiet = (Instant::now() + debounce).min(deadline);
                        tokio::select! {
                            _ = tokio::time::sleep_until(quiet) => break,
                            more = events.recv() => if more.is_none() { return },
                        }
                    }
                }
                _ = tokio::time::sleep(self.config.rescan_interval) => {}
                _ = shutdown.changed() => return,
            }
            self.reload();
            self.rewatch(&mut watcher);
        }
    }

    /// Watches the directory and the directory of every file the manifest names.
    fn rewatch(&mut self, watcher: &mut notify::RecommendedWatcher) {
        let mut dirs: HashSet<PathBuf> = HashSet::new();
        dirs.insert(self.config.dir.clone());
        if let Some(parent) = self.config.manifest.parent() {
            dirs.insert(parent.to_path_buf());
        }
        for path in self.manifest.paths() {
            if let Some(parent) = path.parent() {
                dirs.insert(parent.to_path_buf());
            }
        }
        for dir in dirs {
            if self.watched.contains(&dir) || !dir.is_dir() {
                continue;
            }
            match watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir);
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory; relying on rescans")
                }
            }
        }
    }

    /// Re-reads the manifest (a bad one keeps the previous) and every secret it names.
    fn reload(&mut self) {
        match read_manifest(&self.config.manifest, &self.config.dir) {
            Ok(manifest) => {
                if self.manifest_error.take().is_some() {
                    tracing::info!(manifest = %self.config.manifest.display(), "manifest readable again");
                }
                self.apply(manifest);
            }
            Err(error) => {
                if self.manifest_error.as_ref() != Some(&error) {
                    self.store.report_source_problem(SourceKind::Files, &error);
                }
                self.manifest_error = Some(error);
            }
        }
        for secret in &self.manifest.secrets {
            self.store
                .offer(&secret.name, secret.read().map(|value| (value, None)));
        }
    }

    fn apply(&mut self, manifest: Manifest) {
        let names: HashSet<&str> = manifest.secrets.iter().map(|s| s.name.as_str()).collect();
        for old in self.store.names_of(SourceKind::Files) {
            if !names.contains(old.as_str()) {
                self.store.unregister(&old, SourceKind::Files);
            }
        }
        let mut kept = Manifest::default();
        for secret in manifest.secrets {
            let reg = Registration {
                kind: secret.kind,
                source: SourceKind::Files,
                max_age: secret.max_age,
            };
            match self.store.register(&secret.name, reg) {
                Ok(()) => kept.secrets.push(secret),
                Err(e) => tracing::error!(error = %e, "manifest entry skipped"),
            }
        }
        self.manifest = kept;
    }
}

fn read_manifest(path: &Path, dir: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read manifest {}: {}", path.display(), e.kind()))?;
    Manifest::parse(&text, dir).map_err(|e| format!("manifest {}: {e}", path.display()))
}
