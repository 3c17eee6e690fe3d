//! Every default of the audit log, with the reason for its value.

use std::time::Duration;

/// Name of the current log file; rotated files are `audit.log.1` (newest) … `audit.log.N`.
pub const FILE_NAME: &str = "audit.log";

/// Size at which the current file is rotated: 64 MiB is about 130,000 events of ~500 bytes,
/// small enough to copy or grep comfortably and large enough to rotate rarely (every ~2.6 s
/// only at a sustained 50,000 events/s).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Rotated files kept besides the current one: 10 × 64 MiB bounds the log at ~700 MiB on disk.
/// Older files are deleted; `verify` then reports a pruned start as a note, not as corruption.
pub const MAX_FILES: usize = 10;

/// Events the queue holds before `record` starts dropping (and counting) them: at 50,000
/// events/s this absorbs a ~1.3 s writer stall (a slow disk, an fsync) at ~30 MiB of memory.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Whether every line is also copied to stdout (for container log collectors). Off: the file is
/// the record, and a blocked stdout pipe would stall the writer.
pub const STDOUT: bool = false;

/// Longest time between checkpoints (`audit.head`, written after an fsync of the log). 200 ms
/// bounds how much of a truncated tail can go unnoticed while costing at most 5 fsyncs a second.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Most queued messages the writer takes per batch: one `write` syscall per batch, and a bound
/// on the batch buffer (~1,024 × ~500 bytes).
pub const MAX_BATCH: usize = 1024;

/// How long the writer waits after a small batch before taking the next one. Senders never wake
/// a sleeping writer, so under load the proxy pays no cross-thread wake-up per event; the cost is
/// at most this much added delay before an event reaches the file (and before `flush` returns).
pub const BATCH_LINGER: Duration = Duration::from_millis(2);
