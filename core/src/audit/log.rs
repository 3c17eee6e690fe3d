//! The recording handle ([`AuditLog`]) and [`start`].

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::config::AuditConfig;
use super::error::AuditError;
use super::event::AuditEvent;
use super::resume;
use super::writer::{AuditWriter, Writer};

/// What travels through the queue to the writer.
#[expect(
    clippy::large_enum_variant,
    reason = "events are nearly every message; boxing would add an allocation per event"
)]
pub(crate) enum Msg {
    /// An event to append.
    Event(AuditEvent),
    /// Write everything queued before this, then answer.
    Flush(oneshot::Sender<()>),
    /// Write everything queued, checkpoint, answer with the outcome and stop.
    Close(oneshot::Sender<Result<(), AuditError>>),
}

/// Counters shared by the handles and the writer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Events appended to the log (the log's own records not counted).
    pub(crate) written: AtomicU64,
    /// Events lost: queue full, writer closed, or a failed write.
    pub(crate) dropped: AtomicU64,
    /// Failed file operations (write, rotate, checkpoint).
    pub(crate) write_errors: AtomicU64,
    /// Field values replaced because they looked like a token.
    pub(crate) redacted: AtomicU64,
    /// An event was recorded after the writer stopped (logged once).
    closed_logged: AtomicBool,
}

/// A cheap, cloneable handle that records audit events without blocking.
///
/// Events go into a bounded queue that one writer thread drains. When the queue is full the
/// event is dropped and counted; the writer then writes an `audit_gap` record carrying the count
/// before its next records, so the loss is part of the chain.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Event(_) => "Event",
            Msg::Flush(_) => "Flush",
            Msg::Close(_) => "Close",
        })
    }
}

/// Starts the audit log: creates `config.dir` (mode 0700) if missing, resumes the chain where
/// the files and checkpoint left it (sequence and `prev_hash` continue), opens the current file
/// and starts the writer on its own thread, so file I/O and fsync never run on the caller's
/// runtime. Callable inside or outside a tokio runtime; it does blocking file I/O while
/// starting.
///
/// # Errors
/// The config is invalid, the directory or a log file cannot be created or read, or the
/// writer thread cannot be started.
pub fn start(config: AuditConfig) -> Result<(AuditLog, AuditWriter), AuditError> {
    config.validate()?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.dir)
        .map_err(|e| AuditError::io("create", &config.dir, e))?;
    let resume = resume::resume(&config.dir, &config.file_name)?;
    let path = config.dir.join(&config.file_name);
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| AuditError::io("open", &path, e))?;
    let mut file_len = resume.file_len;
    if resume.needs_newline {
        tracing::error!(file = %path.display(), "audit log ends in a cut line; starting a new line");
        file.write_all(b"\n")
            .map_err(|e| AuditError::io("write", &path, e))?;
        file_len += 1;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| AuditError::io("start writer for", &config.dir, e))?;
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let counters = Arc::new(Counters::default());
    let dir = config.dir.clone();
    let writer = Writer::new(config, Arc::clone(&counters), resume, file, file_len);
    std::thread::Builder::new()
        .name("audit-writer".to_owned())
        .spawn(move || runtime.block_on(writer.run(rx)))
        .map_err(|e| AuditError::io("start writer for", dir, e))?;
    let log = AuditLog {
        tx: tx.clone(),
        counters: Arc::clone(&counters),
    };
    Ok((log, AuditWriter::new(tx)))
}

impl AuditLog {
    /// Queues `event` for writing. Never blocks or awaits: if the queue is full (or the writer
    /// has stopped) the event is dropped and counted in [`dropped`](AuditLog::dropped).
    pub fn record(&self, event: AuditEvent) {
        match self.tx.try_send(Msg::Event(event)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::SeqCst);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::SeqCst);
                if !self.counters.closed_logged.swap(true, Ordering::Relaxed) {
                    tracing::error!("audit event recorded after the audit writer stopped; dropped");
                }
            }
        }
    }

    /// Waits until every event recorded before this call is written to the file (or counted as
    /// dropped), including the gap record for any drop before this call.
    ///
    /// # Errors
    /// [`AuditError::Closed`] if the writer has stopped.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| AuditError::Closed)?;
        wait.await.map_err(|_| AuditError::Closed)
    }

    /// Events written to the log so far (the log's own gap and rotate records not included).
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::SeqCst)
    }

    /// Events lost so far: the queue was full, the writer had stopped, or their write failed.
    /// Every loss while the writer runs is also reported in the chain by an `audit_gap` record.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::SeqCst)
    }

    /// Failed file operations so far (write, rotation, checkpoint); each is also logged.
    pub fn write_errors(&self) -> u64 {
        self.counters.write_errors.load(Ordering::SeqCst)
    }

    /// Field values replaced with `[redacted]` because they looked like a token.
    pub fn redacted(&self) -> u64 {
        self.counters.redacted.load(Ordering::SeqCst)
    }
}
