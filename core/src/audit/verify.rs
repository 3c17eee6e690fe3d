//! The verifier: re-hashes every line and walks the chain across rotated files.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::config::is_plain_file_name;
use super::error::AuditError;
use super::event::AuditEvent;
use super::head::{self, Head};
use super::record::{HexHash, ParsedLine};
use super::rotation;

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Record lines read (malformed lines not counted).
    pub records: u64,
    /// Files read, rotated and current.
    pub files: usize,
    /// Sequence of the first record.
    pub first_sequence: Option<u64>,
    /// Highest sequence reached along the chain.
    pub last_sequence: Option<u64>,
    /// Events the writer reported dropped, summed over the `audit_gap` records: loss that is
    /// accounted for, not corruption.
    pub gaps_dropped: u64,
    /// Sequence named by the checkpoint file, if there is one.
    pub checkpoint_sequence: Option<u64>,
    /// Evidence of editing, deletion, reordering or truncation; empty for an intact log.
    pub problems: Vec<VerifyProblem>,
    /// Observations that are not corruption (a pruned start, no checkpoint).
    pub notes: Vec<VerifyNote>,
}

impl VerifyReport {
    /// True when no problem was found (notes do not count).
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One problem, located by file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyProblem {
    /// File name (`audit.log`, `audit.log.1`, or the checkpoint's `audit.head`).
    pub file: String,
    /// Line number, from 1 (for a truncated tail: the line after the file's last).
    pub line: u64,
    /// The record's sequence as written, if the line could be read.
    pub sequence: Option<u64>,
    /// What is wrong.
    pub kind: VerifyProblemKind,
}

/// What is wrong at a [`VerifyProblem`]'s place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyProblemKind {
    /// The line's hash does not match its content: the line was edited.
    HashMismatch,
    /// The line is not a record (not JSON, or no chain fields).
    Malformed,
    /// The file's last line is cut mid-record.
    PartialLine,
    /// The sequence jumps forward: records before this one were deleted (or moved later).
    SequenceGap {
        /// Sequence the chain expected.
        expected: u64,
        /// Sequence found.
        found: u64,
    },
    /// The sequence goes backwards: records were reordered or duplicated.
    OutOfOrder {
        /// Sequence the chain expected.
        expected: u64,
        /// Sequence found.
        found: u64,
    },
    /// The sequence follows on but `prev_hash` is not the previous record's hash: the previous
    /// record was replaced.
    ChainBreak,
    /// The first record is neither the chain's first nor a rotation boundary: leading records
    /// were deleted.
    StartMissing,
    /// The log ends before the record the checkpoint names: its tail was cut.
    TruncatedTail {
        /// Sequence named by the checkpoint.
        checkpoint: u64,
        /// Highest sequence found, if any.
        last: Option<u64>,
    },
    /// The record at the checkpoint's sequence has another hash than the checkpoint says.
    CheckpointMismatch,
    /// The checkpoint file exists but cannot be read as one.
    CheckpointUnreadable {
        /// Why.
        message: String,
    },
}

/// An observation that is not corruption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyNote {
    /// The oldest kept file starts at a rotation boundary, not at the chain's first record:
    /// older files were deleted by rotation.
    PrunedStart {
        /// Sequence of the first kept record.
        first_sequence: u64,
    },
    /// There are records but no checkpoint, so a truncated tail cannot be detected.
    NoCheckpoint,
}

/// Verifies the log named `file_name` in `dir`: rotated files oldest to newest, then the
/// current one. Every line is re-hashed (over its exact bytes before `,"hash":"`), linked to the
/// previous record by `prev_hash`, and its sequence checked to be the previous plus one; the end
/// is compared with the checkpoint. Problems are collected, not fatal.
///
/// # Errors
/// `file_name` is not a plain file name, or a file or the directory cannot be read.
pub fn verify(dir: &Path, file_name: &str) -> Result<VerifyReport, AuditError> {
    if !is_plain_file_name(file_name) {
        return Err(AuditError::InvalidConfig {
            field: "file_name",
            message: "must be a plain file name (no path separator, not empty)".to_owned(),
        });
    }
    let files = rotation::files_oldest_first(dir, file_name)?;
    let mut walk = Walk::default();
    match head::read(dir, file_name) {
        Ok(checkpoint) => walk.checkpoint = checkpoint,
        Err(AuditError::Checkpoint { path, message }) => walk.problem(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            0,
            None,
            VerifyProblemKind::CheckpointUnreadable { message },
        ),
        Err(e) => return Err(e),
    }
    walk.report.checkpoint_sequence = walk.checkpoint.map(|c| c.sequence);
    let mut current_lines = 0;
    for (name, path) in &files {
        let lines = walk.file(name, path)?;
        if name == file_name {
            current_lines = lines;
        }
    }
    walk.report.files = files.len();
    walk.finish(file_name, current_lines);
    Ok(walk.report)
}

/// The verifier's state while walking the files.
#[derive(Debug, Default)]
struct Walk {
    report: VerifyReport,
    checkpoint: Option<Head>,
    /// The chain's furthest record so far.
    prev: Option<Head>,
    buf: Vec<u8>,
}

impl Walk {
    /// Checks every line of one file; returns its line count.
    fn file(&mut self, name: &str, path: &Path) -> Result<u64, AuditError> {
        let io_err = |e| AuditError::io("read", path, e);
        let mut reader = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io_err)?);
        let mut buf = std::mem::take(&mut self.buf);
        let mut line_no = 0;
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).map_err(io_err)? == 0 {
                break;
            }
            line_no += 1;
            let complete = buf.last() == Some(&b'\n');
            let line = if complete {
                buf.split_last().map_or(&[][..], |(_, l)| l)
            } else {
                &buf
            };
            self.line(name, line_no, line, complete);
        }
        self.buf = buf;
        Ok(line_no)
    }

    fn line(&mut self, file: &str, line_no: u64, line: &[u8], complete: bool) {
        let Some(parsed) = ParsedLine::parse(line) else {
            let kind = if complete {
                VerifyProblemKind::Malformed
            } else {
                VerifyProblemKind::PartialLine
            };
            self.problem(file.to_owned(), line_no, None, kind);
            return;
        };
        let sequence = parsed.meta.sequence;
        let problem =
            |walk: &mut Walk, kind| walk.problem(file.to_owned(), line_no, Some(sequence), kind);
        self.report.records += 1;
        if !parsed.hash_matches() {
            problem(self, VerifyProblemKind::HashMismatch);
        }
        if parsed.meta.activity == AuditEvent::ACTIVITY_GAP {
            self.report.gaps_dropped = self
                .report
                .gaps_dropped
                .saturating_add(parsed.meta.count.unwrap_or(0));
        }
        if let Some(checkpoint) = self.checkpoint
            && checkpoint.sequence == sequence
            && checkpoint.hash != parsed.hash
        {
            problem(self, VerifyProblemKind::CheckpointMismatch);
        }
        let this = Head {
            sequence,
            hash: parsed.hash,
        };
        let Some(prev) = self.prev else {
            self.report.first_sequence = Some(sequence);
            if sequence == 1 && parsed.prev_hash == HexHash::GENESIS {
                // The chain's first record.
            } else if sequence > 1 && parsed.meta.activity == AuditEvent::ACTIVITY_ROTATE {
                self.report.notes.push(VerifyNote::PrunedStart {
                    first_sequence: sequence,
                });
            } else {
                problem(self, VerifyProblemKind::StartMissing);
            }
            self.advance(this);
            return;
        };
        let expected = prev.sequence.saturating_add(1);
        if sequence == expected {
            if parsed.prev_hash != prev.hash {
                problem(self, VerifyProblemKind::ChainBreak);
            }
            self.advance(this);
        } else if sequence > expected {
            problem(
                self,
                VerifyProblemKind::SequenceGap {
                    expected,
                    found: sequence,
                },
            );
            self.advance(this);
        } else {
            // Keep the furthest record as the chain's end: a moved-back line does not reset it.
            problem(
                self,
                VerifyProblemKind::OutOfOrder {
                    expected,
                    found: sequence,
                },
            );
        }
    }

    fn advance(&mut self, head: Head) {
        self.prev = Some(head);
        self.report.last_sequence = Some(head.sequence);
    }

    fn problem(&mut self, file: String, line: u64, sequence: Option<u64>, kind: VerifyProblemKind) {
        self.report.problems.push(VerifyProblem {
            file,
            line,
            sequence,
            kind,
        });
    }

    /// Compares the chain's end with the checkpoint.
    fn finish(&mut self, current: &str, current_lines: u64) {
        let last = self.prev.map(|p| p.sequence);
        match self.checkpoint {
            Some(checkpoint) if last.is_none_or(|l| l < checkpoint.sequence) => self.problem(
                current.to_owned(),
                current_lines + 1,
                None,
                VerifyProblemKind::TruncatedTail {
                    checkpoint: checkpoint.sequence,
                    last,
                },
            ),
            Some(_) => {}
            None if self.report.records > 0 => self.report.notes.push(VerifyNote::NoCheckpoint),
            None => {}
        }
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "audit log: {} records in {} files",
            self.records, self.files
        )?;
        if let (Some(first), Some(last)) = (self.first_sequence, self.last_sequence) {
            write!(f, ", sequences {first}..={last}")?;
        }
        writeln!(
            f,
            "; {} events reported dropped (audit_gap)",
            self.gaps_dropped
        )?;
        match self.checkpoint_sequence {
            Some(sequence) => writeln!(f, "checkpoint: sequence {sequence}")?,
            None => writeln!(f, "checkpoint: none")?,
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        for problem in &self.problems {
            writeln!(f, "problem: {problem}")?;
        }
        if self.is_ok() {
            write!(f, "result: OK")
        } else {
            write!(
                f,
                "result: {} problems: the log was altered or lost records",
                self.problems.len()
            )
        }
    }
}

impl fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.file, self.line)?;
        if let Some(sequence) = self.sequence {
            write!(f, " (sequence {sequence})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl fmt::Display for VerifyProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyProblemKind::HashMismatch => f.write_str("hash mismatch: the line was edited"),
            VerifyProblemKind::Malformed => f.write_str("not a record line"),
            VerifyProblemKind::PartialLine => f.write_str("the last line is cut mid-record"),
            VerifyProblemKind::SequenceGap { expected, found } => write!(
                f,
                "sequence {found} where {expected} was expected: {} records deleted or moved",
                found.saturating_sub(*expected)
            ),
            VerifyProblemKind::OutOfOrder { expected, found } => write!(
                f,
                "sequence {found} where {expected} was expected: records reordered or duplicated"
            ),
            VerifyProblemKind::ChainBreak => {
                f.write_str("prev_hash does not match the previous record: a record was replaced")
            }
            VerifyProblemKind::StartMissing => f.write_str(
                "the log starts neither at its first record nor at a rotation: records deleted",
            ),
            VerifyProblemKind::TruncatedTail { checkpoint, last } => match last {
                Some(last) => write!(
                    f,
                    "the log ends at sequence {last} but the checkpoint names {checkpoint}: tail cut"
                ),
                None => write!(
                    f,
                    "the log is empty but the checkpoint names {checkpoint}: cut"
                ),
            },
            VerifyProblemKind::CheckpointMismatch => {
                f.write_str("the checkpoint names another hash for this sequence")
            }
            VerifyProblemKind::CheckpointUnreadable { message } => {
                write!(f, "the checkpoint cannot be read: {message}")
            }
        }
    }
}

impl fmt::Display for VerifyNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyNote::PrunedStart { first_sequence } => write!(
                f,
                "the oldest kept file starts at sequence {first_sequence}: older files were pruned"
            ),
            VerifyNote::NoCheckpoint => {
                f.write_str("no checkpoint: a truncated tail cannot be detected")
            }
        }
    }
}

#[cfg(test)]
mod tests;
