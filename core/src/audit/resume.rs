//! Where the chain stands when the log starts: the checkpoint and the files' last records.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::error::AuditError;
use super::head::{self, Head};
use super::record::{HexHash, ParsedLine};
use super::rotation;

/// First read size when looking for a file's last record; doubled until one is found.
const TAIL_WINDOW: u64 = 64 * 1024;

/// The state the writer continues from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    /// The last record of the chain (sequence 0 and the genesis hash for a new log).
    pub(crate) head: Head,
    /// The checkpoint found, if any.
    pub(crate) checkpoint: Option<Head>,
    /// Size of the current file.
    pub(crate) file_len: u64,
    /// The current file ends in a cut line: a newline must be written before the next record.
    pub(crate) needs_newline: bool,
    /// The current file holds at least one record.
    pub(crate) file_has_records: bool,
}

/// Finds where the chain continues: the later of the checkpoint and the last record of the
/// current file (or of the newest rotated file when the current one has none). When the files
/// end before the checkpoint, records were lost: the chain continues from the checkpoint, so
/// the next record does not link to the file's last line and `verify` reports the break.
///
/// # Errors
/// A log file exists but cannot be read.
pub(crate) fn resume(dir: &Path, file_name: &str) -> Result<Resume, AuditError> {
    let checkpoint = head::read(dir, file_name).unwrap_or_else(|e| {
        tracing::error!(error = %e, "audit checkpoint unreadable; resuming from the log files");
        None
    });
    let current = tail(&dir.join(file_name))?;
    let from_files = match current.last {
        Some(last) => Some(last),
        None => match rotation::rotated_indices(dir, file_name)?.first() {
            Some(&newest) => tail(&rotation::rotated_path(dir, file_name, newest))?.last,
            None => None,
        },
    };
    let head = match (checkpoint, from_files) {
        (Some(cp), Some(last)) if last.sequence > cp.sequence => last,
        (Some(cp), Some(last)) => {
            if last != cp {
                tracing::error!(
                    checkpoint_sequence = cp.sequence,
                    last_sequence = last.sequence,
                    "audit log ends before its checkpoint: records were lost or altered; \
                     continuing the chain from the checkpoint"
                );
            }
            cp
        }
        (Some(cp), None) => {
            tracing::error!(
                checkpoint_sequence = cp.sequence,
                "audit log files hold no records but a checkpoint exists: records were lost; \
                 continuing the chain from the checkpoint"
            );
            cp
        }
        (None, Some(last)) => last,
        (None, None) => Head {
            sequence: 0,
            hash: HexHash::GENESIS,
        },
    };
    Ok(Resume {
        head,
        checkpoint,
        file_len: current.len,
        needs_newline: !current.ends_with_newline,
        file_has_records: current.last.is_some(),
    })
}

/// What the end of a log file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// File size (0 if missing).
    pub(crate) len: u64,
    /// The file is empty or ends with a newline.
    pub(crate) ends_with_newline: bool,
    /// Its last line that has the record shape.
    pub(crate) last: Option<Head>,
}

/// Reads a file backwards until its last record line is found.
///
/// # Errors
/// The file exists but cannot be read.
pub(crate) fn tail(path: &Path) -> Result<Tail, AuditError> {
    let io_err = |e| AuditError::io("read", path, e);
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Tail {
                len: 0,
                ends_with_newline: true,
                last: None,
            });
        }
        Err(e) => return Err(io_err(e)),
    };
    let len = file.metadata().map_err(io_err)?.len();
    let mut window = TAIL_WINDOW;
    let mut buf = Vec::new();
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start)).map_err(io_err)?;
        buf.clear();
        (&mut file)
            .take(len - start)
            .read_to_end(&mut buf)
            .map_err(io_err)?;
        let ends_with_newline = buf.last().is_none_or(|&b| b == b'\n');
        // Past the window's start, the text before the first newline may be part of a line.
        let complete = if start == 0 {
            buf.as_slice()
        } else {
            buf.iter()
                .position(|&b| b == b'\n')
                .and_then(|i| buf.get(i + 1..))
                .unwrap_or_default()
        };
        let last = complete.split(|&b| b == b'\n').rev().find_map(|line| {
            ParsedLine::parse(line).map(|p| Head {
                sequence: p.meta.sequence,
                hash: p.hash,
            })
        });
        if last.is_some() || start == 0 {
            return Ok(Tail {
                len,
                ends_with_newline,
                last,
            });
        }
        window = window.saturating_mul(2);
    }
}
