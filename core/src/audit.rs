//! Audit events, the hash-chained writer and its verifier.
//!
//! ```text
//!  request path                writer thread ("audit-writer")              disk
//!  AuditLog::record ──try_send──▶ queue ──recv_many──▶ scrub → serialise → chain ──▶ audit.log
//!   (full: dropped += 1)                  audit_gap record first if dropped    rotate ──▶ audit.log.1 …
//!                                          checkpoint every 200 ms / close ──▶ audit.head
//!  verify(dir, "audit.log") ◀── reads audit.log.N … audit.log.1, audit.log, audit.head
//! ```
//!
//! - [`event`](AuditEvent): the OCSF-shaped event, one per decision.
//! - [`start`] → ([`AuditLog`], [`AuditWriter`]): recording never blocks; a full queue drops and
//!   counts, and the writer puts the count into the chain as an `audit_gap` record.
//! - [`verify`] → [`VerifyReport`]: edits, deletions, reordering and a cut tail are found.
//!
//! # Line format
//!
//! One JSON object per line: the [`AuditEvent`] fields (declaration order, `None` omitted), then
//! the chain fields:
//!
//! ```text
//! {"class_uid":4002,"activity":"request",…,"count":…,"sequence":N,"prev_hash":"<64 hex>","hash":"<64 hex>"}
//! └──────────────────────────── prefix: the bytes hashed ─────────────────────────────┘
//! ```
//!
//! - `sequence` counts records from 1 across the whole log: files, rotations and restarts.
//! - `prev_hash` is the previous record's `hash`; the first record's is 64 zeros.
//! - `hash` is the hex SHA-256 of the line's bytes before `,"hash":"`. The suffix
//!   `,"hash":"<64 hex>"}` has a fixed length, so a verifier re-hashes the exact bytes written;
//!   nothing is re-serialised.
//! - The writer's own records have `class_uid` 0: `audit_gap` (`count` = events dropped since the
//!   previous gap record, written before the next records after the loss) and `audit_rotate`
//!   (first record of every file after the chain's first; its `prev_hash` and `sequence - 1` are
//!   the previous file's last hash and sequence).
//! - `audit.head` holds `{"sequence":N,"hash":"<hex>","file":"audit.log"}`: the last record
//!   written and fsynced, replaced atomically at most every `checkpoint_interval` and on close. A
//!   log ending before it has lost its tail.
//!
//! The chain is unkeyed: it shows edits, deletions and truncation by anyone who does not also
//! rewrite every later line and the checkpoint. Shipping the checkpoint off the host anchors it.

mod config;
pub mod defaults;
mod error;
mod event;
mod head;
mod log;
mod record;
mod resume;
mod rotation;
mod scrub;
mod verify;
mod writer;

pub use config::AuditConfig;
pub use error::AuditError;
pub use event::{Action, AuditEvent, AuditRecord, ClassUid, Outcome};
pub use log::{AuditLog, start};
pub use verify::{VerifyNote, VerifyProblem, VerifyProblemKind, VerifyReport, verify};
pub use writer::AuditWriter;

#[cfg(test)]
mod tests;
