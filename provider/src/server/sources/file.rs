//! A flag file, loaded at start and reloaded whenever it changes.
//!
//! The file's directory is watched (editors and Kubernetes ConfigMaps
//! replace files by renaming, which a watch on the file itself would miss);
//! bursts of events are coalesced, and a reload happens only when the text
//! changed. Where no watcher can be set up, the file is polled instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use engine::Format;

use crate::server::sources::Loader;

/// Quiet time after a file event before reading, so a write in several
/// steps is read once, complete.
const SETTLE: Duration = Duration::from_millis(50);
/// Polling interval when the file cannot be watched.
const POLL: Duration = Duration::from_secs(1);

/// Loads source `index` from `path`, then follows its changes until
/// `shutdown` resolves.
pub async fn run(
    loader: Arc<Loader>,
    index: usize,
    path: PathBuf,
    shutdown: impl Future<Output = ()>,
) {
    let format = Format::from_path(&path.to_string_lossy());
    let mut last: Option<String> = None;
    reload(&loader, index, &path, format, &mut last).await;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let name = path.file_name().map(ToOwned::to_owned);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(event) => event
                .paths
                .iter()
                .any(|p| name.is_none() || p.file_name() == name.as_deref()),
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(());
        }
    })
    .and_then(|mut watcher| {
        watcher.watch(directory(&path), RecursiveMode::NonRecursive)?;
        Ok(watcher)
    });
    let _watcher = match watcher {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "Cannot watch the flag file; polling it.");
            None
        }
    };
    let polling = _watcher.is_none();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            event = rx.recv(), if !polling => {
                if event.is_none() {
                    break;
                }
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
            }
            () = tokio::time::sleep(POLL), if polling => {}
            () = &mut shutdown => break,
        }
        reload(&loader, index, &path, format, &mut last).await;
    }
}

/// The directory to watch for `path`.
fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Reads the file and loads it if its text changed since `last`.
async fn reload(
    loader: &Loader,
    index: usize,
    path: &Path,
    format: Format,
    last: &mut Option<String>,
) {
    match tokio::fs::read_to_string(path).await {
        Ok(text) if last.as_deref() == Some(text.as_str()) => {}
        Ok(text) => {
            // A file that does not parse keeps the last good state; the
            // loader logs and counts it. Remember the text either way, so
            // the same broken text is not reported on every event.
            let _ = loader.load(index, &text, format).await;
            *last = Some(text);
        }
        Err(error) => loader.failed(index, &format!("reading {}: {error}", path.display())),
    }
}
