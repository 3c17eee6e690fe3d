//! The writer: one thread that drains the queue, chains, appends, rotates and checkpoints.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::config::AuditConfig;
use super::defaults;
use super::error::AuditError;
use super::event::{AuditEvent, ClassUid, Outcome};
use super::head::{self, Head};
use super::log::{Counters, Msg};
use super::record;
use super::resume::Resume;
use super::rotation;
use super::scrub;

/// How long a failed rotation is not retried (the file grows past its limit meanwhile).
const ROTATION_RETRY: Duration = Duration::from_secs(1);

/// The handle that stops the writer: [`close`](AuditWriter::close) drains and checkpoints.
///
/// Dropping it without closing leaves the writer running until every [`AuditLog`] is dropped;
/// it then writes what is queued and a final checkpoint.
///
/// [`AuditLog`]: super::AuditLog
#[derive(Debug)]
pub struct AuditWriter {
    tx: mpsc::Sender<Msg>,
}

impl AuditWriter {
    pub(crate) fn new(tx: mpsc::Sender<Msg>) -> Self {
        AuditWriter { tx }
    }

    /// Writes everything queued so far (events recorded after this call are dropped and
    /// counted), writes the final checkpoint and stops the writer thread.
    ///
    /// # Errors
    /// The final write or checkpoint failed, or the writer had already stopped.
    pub async fn close(self) -> Result<(), AuditError> {
        let (reply, result) = oneshot::channel();
        self.tx
            .send(Msg::Close(reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        result.await.map_err(|_| AuditError::Closed)?
    }
}

/// Which kind of record is being appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A recorded event: counted in `written`.
    User,
    /// An `audit_gap` record.
    Gap,
    /// An `audit_rotate` record: first in its file, never triggers a rotation itself.
    Rotate,
}

/// The chain state as of the last successful write, restored when a write fails.
#[derive(Debug, Clone, Copy)]
struct Committed {
    head: Head,
    file_has_records: bool,
    reported_dropped: u64,
}

/// Allows one log line per second.
#[derive(Debug, Default)]
struct Limiter {
    next: Option<Instant>,
}

impl Limiter {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        match self.next {
            Some(next) if now < next => false,
            _ => {
                self.next = now.checked_add(Duration::from_secs(1));
                true
            }
        }
    }
}

/// The writer thread's state.
pub(crate) struct Writer {
    config: AuditConfig,
    counters: Arc<Counters>,
    path: PathBuf,
    file: Option<File>,
    /// Bytes in the current file (written, not pending).
    file_len: u64,
    /// The chain's last record, pending ones included.
    head: Head,
    /// The current file holds a record, pending ones included.
    file_has_records: bool,
    /// Value of `counters.dropped` already reported by gap records, pending ones included.
    reported_dropped: u64,
    committed: Committed,
    /// Sealed lines not yet written.
    pending: Vec<u8>,
    /// User events among them.
    pending_events: u64,
    /// Scratch buffer for one line.
    line: Vec<u8>,
    checkpointed: Option<u64>,
    last_checkpoint: Option<Instant>,
    rotation_retry_at: Option<Instant>,
    error_log: Limiter,
    gap_log: Limiter,
    redact_log: Limiter,
}

impl Writer {
    pub(crate) fn new(
        config: AuditConfig,
        counters: Arc<Counters>,
        resume: Resume,
        file: File,
        file_len: u64,
    ) -> Self {
        let path = config.dir.join(&config.file_name);
        let committed = Committed {
            head: resume.head,
            file_has_records: resume.file_has_records,
            reported_dropped: 0,
        };
        Writer {
            config,
            counters,
            path,
            file: Some(file),
            file_len,
            head: resume.head,
            file_has_records: resume.file_has_records,
            reported_dropped: 0,
            committed,
            pending: Vec::new(),
            pending_events: 0,
            line: Vec::new(),
            checkpointed: resume.checkpoint.map(|c| c.sequence),
            last_checkpoint: None,
            rotation_retry_at: None,
            error_log: Limiter::default(),
            gap_log: Limiter::default(),
            redact_log: Limiter::default(),
        }
    }

    /// Runs until closed, or until every sender is gone.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut msgs = Vec::with_capacity(defaults::MAX_BATCH);
        loop {
            let received = match self.checkpoint_due() {
                Some(due) => {
                    let due = tokio::time::Instant::from_std(due);
                    tokio::time::timeout_at(due, rx.recv_many(&mut msgs, defaults::MAX_BATCH))
                        .await
                        .ok()
                }
                None => Some(rx.recv_many(&mut msgs, defaults::MAX_BATCH).await),
            };
            match received {
                None => self.idle(),
                Some(0) => {
                    // Every handle is gone: nothing more can arrive.
                    let _ = self.finish();
                    return;
                }
                Some(n) => {
                    if let Some(reply) = self.handle(&mut msgs) {
                        rx.close();
                        while let Ok(msg) = rx.try_recv() {
                            msgs.push(msg);
                            if msgs.len() >= defaults::MAX_BATCH {
                                self.handle(&mut msgs);
                            }
                        }
                        self.handle(&mut msgs);
                        let _ = reply.send(self.finish());
                        return;
                    }
                    if n < defaults::MAX_BATCH {
                        // Let a batch gather instead of being woken for every event: on a
                        // one-core edge each wake-up is a context switch on the request path.
                        tokio::time::sleep(defaults::BATCH_LINGER).await;
                    }
                }
            }
        }
    }

    /// Appends a batch; returns the close request if the batch held one.
    fn handle(&mut self, msgs: &mut Vec<Msg>) -> Option<oneshot::Sender<Result<(), AuditError>>> {
        self.push_gap_if_needed();
        let mut close = None;
        for msg in msgs.drain(..) {
            match msg {
                Msg::Event(event) => self.push_event(event),
                Msg::Flush(done) => {
                    self.push_gap_if_needed();
                    let _ = self.write_pending();
                    let _ = done.send(());
                }
                Msg::Close(reply) => close = Some(reply),
            }
        }
        let _ = self.write_pending();
        self.maybe_checkpoint();
        close
    }

    fn idle(&mut self) {
        self.push_gap_if_needed();
        let _ = self.write_pending();
        self.maybe_checkpoint();
    }

    fn finish(&mut self) -> Result<(), AuditError> {
        self.push_gap_if_needed();
        let written = self.write_pending();
        let checkpointed = self.checkpoint();
        if let Err(e) = &checkpointed {
            self.note_error(e);
        }
        written.and(checkpointed)
    }

    fn push_event(&mut self, mut event: AuditEvent) {
        let redacted = scrub::scrub(&mut event);
        if redacted > 0 {
            self.counters
                .redacted
                .fetch_add(u64::from(redacted), Ordering::SeqCst);
            if self.redact_log.allow() {
                tracing::error!(
                    fields = redacted,
                    activity = %event.activity,
                    "audit event held a token-shaped value; redacted before writing"
                );
            }
        }
        self.push(&event, Kind::User);
    }

    /// Writes an `audit_gap` record if events were dropped since the last one.
    fn push_gap_if_needed(&mut self) {
        let dropped = self.counters.dropped.load(Ordering::SeqCst);
        let count = dropped.saturating_sub(self.reported_dropped);
        if count == 0 {
            return;
        }
        self.reported_dropped = dropped;
        let mut gap = AuditEvent::alert(ClassUid::Base, AuditEvent::ACTIVITY_GAP);
        gap.outcome = Outcome::Failure;
        gap.count = Some(count);
        self.push(&gap, Kind::Gap);
        if self.gap_log.allow() {
            tracing::error!(
                dropped = count,
                dropped_total = dropped,
                "audit events dropped (queue full or write failed); gap recorded in the chain"
            );
        }
    }

    /// Serialises, chains and queues one record in `pending`, rotating first if it would not fit.
    fn push(&mut self, event: &AuditEvent, kind: Kind) {
        // Every file but the chain's first starts with a rotate record.
        let starts_file = kind != Kind::Rotate && !self.file_has_records && self.head.sequence > 0;
        self.line.clear();
        if let Err(e) = serde_json::to_writer(&mut self.line, event) {
            if kind == Kind::User {
                self.counters.dropped.fetch_add(1, Ordering::SeqCst);
            }
            if self.error_log.allow() {
                tracing::error!(error = %e, "audit event could not be serialised; dropped");
            }
            return;
        }
        let size = len64(self.line.len()).saturating_add(len64(record::sealed_len(
            self.head.sequence.saturating_add(1),
        )));
        let rotated =
            kind != Kind::Rotate && !starts_file && self.would_overflow(size) && self.rotate();
        if starts_file || rotated {
            let line = std::mem::take(&mut self.line);
            self.push(
                &AuditEvent::alert(ClassUid::Base, AuditEvent::ACTIVITY_ROTATE),
                Kind::Rotate,
            );
            self.line = line;
        }
        let sequence = self.head.sequence.saturating_add(1);
        let hash = record::seal(&mut self.line, sequence, &self.head.hash);
        self.pending.extend_from_slice(&self.line);
        self.head = Head { sequence, hash };
        self.file_has_records = true;
        if kind == Kind::User {
            self.pending_events += 1;
        }
    }

    /// Whether a record of `size` bytes would take a non-empty file past its limit.
    fn would_overflow(&self, size: u64) -> bool {
        let used = self.file_len.saturating_add(len64(self.pending.len()));
        used > 0
            && used.saturating_add(size) > self.config.max_file_bytes
            && self.rotation_retry_at.is_none_or(|at| Instant::now() >= at)
    }

    /// Writes what is pending, renames the files and opens a new current file. Returns whether
    /// a new file was started.
    fn rotate(&mut self) -> bool {
        let _ = self.write_pending();
        if let Some(file) = self.file.take()
            && let Err(e) = file.sync_data()
        {
            self.note_error(&AuditError::io("sync", &self.path, e));
        }
        if let Err(e) = rotation::rotate(
            &self.config.dir,
            &self.config.file_name,
            self.config.max_files,
        ) {
            self.note_error(&e);
            self.rotation_retry_at = Instant::now().checked_add(ROTATION_RETRY);
            let _ = self.reopen();
            return false;
        }
        self.rotation_retry_at = None;
        self.file_has_records = false;
        self.committed.file_has_records = false;
        let _ = self.reopen();
        true
    }

    /// Opens (or creates) the current file for appending.
    fn reopen(&mut self) -> Result<(), AuditError> {
        let opened = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .and_then(|file| file.metadata().map(|m| (file, m.len())));
        match opened {
            Ok((file, len)) => {
                self.file = Some(file);
                self.file_len = len;
                Ok(())
            }
            Err(e) => {
                let e = AuditError::io("open", &self.path, e);
                self.note_error(&e);
                Err(e)
            }
        }
    }

    /// Appends `pending` in one write. On failure the file is cut back to its last complete
    /// record, the chain state is restored and the batch's events are counted as dropped, so
    /// the next gap record reports them.
    fn write_pending(&mut self) -> Result<(), AuditError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = match self.file.as_mut() {
            Some(file) => file
                .write_all(&self.pending)
                .map_err(|e| AuditError::io("write", &self.path, e)),
            None => self.reopen().and_then(|()| match self.file.as_mut() {
                Some(file) => file
                    .write_all(&self.pending)
                    .map_err(|e| AuditError::io("write", &self.path, e)),
                None => Err(AuditError::Closed),
            }),
        };
        match &result {
            Ok(()) => {
                self.file_len = self.file_len.saturating_add(len64(self.pending.len()));
                self.counters
                    .written
                    .fetch_add(self.pending_events, Ordering::SeqCst);
                self.committed = Committed {
                    head: self.head,
                    file_has_records: self.file_has_records,
                    reported_dropped: self.reported_dropped,
                };
                if self.config.stdout
                    && let Err(e) = std::io::stdout().lock().write_all(&self.pending)
                    && self.error_log.allow()
                {
                    tracing::error!(error = %e, "audit copy to stdout failed");
                }
            }
            Err(e) => {
                if let Some(file) = &self.file {
                    let _ = file.set_len(self.file_len);
                }
                self.head = self.committed.head;
                self.file_has_records = self.committed.file_has_records;
                self.reported_dropped = self.committed.reported_dropped;
                self.counters
                    .dropped
                    .fetch_add(self.pending_events, Ordering::SeqCst);
                self.note_error(e);
            }
        }
        self.pending.clear();
        self.pending_events = 0;
        result
    }

    /// When the next checkpoint is due, if records were written since the last one.
    fn checkpoint_due(&self) -> Option<Instant> {
        let sequence = self.committed.head.sequence;
        if sequence == 0 || self.checkpointed == Some(sequence) {
            return None;
        }
        match self.last_checkpoint {
            Some(at) => at.checked_add(self.config.checkpoint_interval),
            None => Some(Instant::now()),
        }
    }

    fn maybe_checkpoint(&mut self) {
        if let Some(due) = self.checkpoint_due()
            && Instant::now() >= due
            && let Err(e) = self.checkpoint()
        {
            self.last_checkpoint = Some(Instant::now());
            self.note_error(&e);
        }
    }

    /// Syncs the current file, then records its last written record in the checkpoint.
    fn checkpoint(&mut self) -> Result<(), AuditError> {
        let head = self.committed.head;
        if head.sequence == 0 || self.checkpointed == Some(head.sequence) {
            return Ok(());
        }
        if let Some(file) = &self.file {
            file.sync_data()
                .map_err(|e| AuditError::io("sync", &self.path, e))?;
        }
        head::write(&self.config.dir, &self.config.file_name, &head)?;
        self.checkpointed = Some(head.sequence);
        self.last_checkpoint = Some(Instant::now());
        Ok(())
    }

    fn note_error(&mut self, error: &AuditError) {
        self.counters.write_errors.fetch_add(1, Ordering::SeqCst);
        if self.error_log.allow() {
            tracing::error!(error = %error, "audit log write failed");
        }
    }
}

fn len64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
