//! Tampering with a written log, in one file and across rotated files.

use std::path::{Path, PathBuf};

use super::super::tests::{config, json, read_lines, write_events, write_lines};
use super::*;
use crate::audit::AuditConfig;

const N: u64 = 50;

fn problem(file: &str, line: u64, sequence: Option<u64>, kind: VerifyProblemKind) -> VerifyProblem {
    VerifyProblem {
        file: file.to_owned(),
        line,
        sequence,
        kind,
    }
}

/// A log of `N` events in one file.
async fn single_file_log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    write_events(config(dir.path()), 0..N).await;
    let current = dir.path().join("audit.log");
    (dir, current)
}

/// A config whose files hold about four events each, keeping every rotated file.
fn small_files(dir: &Path) -> AuditConfig {
    let mut config = config(dir);
    config.max_file_bytes = 2048;
    config.max_files = 100;
    config
}

/// A log of `N` events over many files.
async fn rotated_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_events(small_files(dir.path()), 0..N).await;
    dir
}

fn check(dir: &Path) -> VerifyReport {
    verify(dir, "audit.log").unwrap()
}

/// Changes one byte inside the `dst_host` value of `line` (1-based).
fn edit_byte(path: &Path, line: usize) {
    let mut lines = read_lines(path);
    let text = &mut lines[line - 1];
    let at = text.windows(5).position(|w| w == b"host-").unwrap();
    text[at] = b'g';
    write_lines(path, &lines);
}

fn sequence_of(line: &[u8]) -> u64 {
    json(line)["sequence"].as_u64().unwrap()
}

#[tokio::test]
async fn intact_log_verifies() {
    let (dir, _) = single_file_log().await;
    let report = check(dir.path());
    assert_eq!(
        report,
        VerifyReport {
            records: N,
            files: 1,
            first_sequence: Some(1),
            last_sequence: Some(N),
            gaps_dropped: 0,
            checkpoint_sequence: Some(N),
            problems: vec![],
            notes: vec![],
        }
    );
    assert!(report.is_ok());
    assert!(report.to_string().ends_with("result: OK"), "{report}");
}

#[tokio::test]
async fn edited_byte_is_reported_at_its_line() {
    let (dir, current) = single_file_log().await;
    edit_byte(&current, 20);
    let report = check(dir.path());
    assert_eq!(
        report.problems,
        vec![problem(
            "audit.log",
            20,
            Some(20),
            VerifyProblemKind::HashMismatch
        )]
    );
    assert!(!report.is_ok());
    assert!(
        report
            .to_string()
            .contains("problem: audit.log line 20 (sequence 20): hash mismatch"),
        "{report}"
    );
}

#[tokio::test]
async fn deleted_line_breaks_the_sequence() {
    let (dir, current) = single_file_log().await;
    let mut lines = read_lines(&current);
    lines.remove(19);
    write_lines(&current, &lines);
    assert_eq!(
        check(dir.path()).problems,
        vec![problem(
            "audit.log",
            20,
            Some(21),
            VerifyProblemKind::SequenceGap {
                expected: 20,
                found: 21
            }
        )]
    );
}

#[tokio::test]
async fn swapped_lines_are_out_of_order() {
    let (dir, current) = single_file_log().await;
    let mut lines = read_lines(&current);
    lines.swap(19, 20);
    write_lines(&current, &lines);
    assert_eq!(
        check(dir.path()).problems,
        vec![
            problem(
                "audit.log",
                20,
                Some(21),
                VerifyProblemKind::SequenceGap {
                    expected: 20,
                    found: 21
                }
            ),
            problem(
                "audit.log",
                21,
                Some(20),
                VerifyProblemKind::OutOfOrder {
                    expected: 22,
                    found: 20
                }
            ),
        ]
    );
}

#[tokio::test]
async fn removed_last_lines_are_caught_by_the_checkpoint() {
    let (dir, current) = single_file_log().await;
    let lines = read_lines(&current);
    write_lines(&current, &lines[..45]);
    let report = check(dir.path());
    assert_eq!(
        report.problems,
        vec![problem(
            "audit.log",
            46,
            None,
            VerifyProblemKind::TruncatedTail {
                checkpoint: N,
                last: Some(45)
            }
        )]
    );
    assert_eq!(report.last_sequence, Some(45));
}

#[tokio::test]
async fn file_cut_mid_line_is_caught() {
    let (dir, current) = single_file_log().await;
    let bytes = std::fs::read(&current).unwrap();
    std::fs::write(&current, &bytes[..bytes.len() - 100]).unwrap();
    assert_eq!(
        check(dir.path()).problems,
        vec![
            problem("audit.log", 50, None, VerifyProblemKind::PartialLine),
            problem(
                "audit.log",
                51,
                None,
                VerifyProblemKind::TruncatedTail {
                    checkpoint: N,
                    last: Some(49)
                }
            ),
        ]
    );
}

#[tokio::test]
async fn without_checkpoint_a_cut_tail_is_only_a_note() {
    let (dir, current) = single_file_log().await;
    std::fs::remove_file(dir.path().join("audit.head")).unwrap();
    let lines = read_lines(&current);
    write_lines(&current, &lines[..45]);
    let report = check(dir.path());
    assert!(report.is_ok());
    assert_eq!(report.notes, vec![VerifyNote::NoCheckpoint]);
}

#[tokio::test]
async fn rewritten_last_record_is_caught_by_the_checkpoint() {
    let (dir, current) = single_file_log().await;
    // Replace the last record by a consistent forgery: same sequence and prev_hash, new hash.
    let mut lines = read_lines(&current);
    let last = String::from_utf8(lines.pop().unwrap()).unwrap();
    let prefix_end = last.find(",\"hash\":\"").unwrap();
    let prefix = last[..prefix_end].replace("host-", "evil-");
    let hash = HexHash::of(prefix.as_bytes());
    lines.push(format!("{prefix},\"hash\":\"{hash}\"}}\n").into_bytes());
    write_lines(&current, &lines);
    assert_eq!(
        check(dir.path()).problems,
        vec![problem(
            "audit.log",
            50,
            Some(50),
            VerifyProblemKind::CheckpointMismatch
        )]
    );
}

#[tokio::test]
async fn deleted_leading_lines_are_not_a_pruned_start() {
    let (dir, current) = single_file_log().await;
    let lines = read_lines(&current);
    write_lines(&current, &lines[3..]);
    let report = check(dir.path());
    assert_eq!(
        report.problems,
        vec![problem(
            "audit.log",
            1,
            Some(4),
            VerifyProblemKind::StartMissing
        )]
    );
    assert_eq!(report.first_sequence, Some(4));
}

#[tokio::test]
async fn unreadable_checkpoint_is_a_problem() {
    let (dir, _) = single_file_log().await;
    std::fs::write(dir.path().join("audit.head"), b"{nope").unwrap();
    let report = check(dir.path());
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].file, "audit.head");
    assert!(matches!(
        report.problems[0].kind,
        VerifyProblemKind::CheckpointUnreadable { .. }
    ));
}

#[test]
fn empty_or_missing_log_is_ok_and_bad_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check(dir.path()), VerifyReport::default());
    assert!(matches!(
        verify(dir.path(), "../x"),
        Err(AuditError::InvalidConfig { .. })
    ));
    assert!(matches!(
        verify(&dir.path().join("missing"), "audit.log"),
        Err(AuditError::Io { .. })
    ));
}

// ---- across rotation ----

/// The rotated files, oldest first, then the current one.
fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    crate::audit::rotation::files_oldest_first(dir, "audit.log").unwrap()
}

#[tokio::test]
async fn rotated_log_verifies_and_each_file_starts_with_a_rotate_record() {
    let dir = rotated_log().await;
    let files = files(dir.path());
    assert!(files.len() >= 5, "{} files", files.len());
    let report = check(dir.path());
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.notes, vec![]);
    assert_eq!(report.files, files.len());
    // N events plus one rotate record per file after the first.
    let total = N + files.len() as u64 - 1;
    assert_eq!((report.records, report.last_sequence), (total, Some(total)));
    let mut prev_last: Option<serde_json::Map<String, serde_json::Value>> = None;
    for (name, path) in &files {
        let lines = read_lines(path);
        let first = json(&lines[0]);
        if let Some(prev) = &prev_last {
            assert_eq!(first["activity"], "audit_rotate", "{name}");
            assert_eq!(first["prev_hash"], prev["hash"], "{name}");
            assert_eq!(
                first["sequence"].as_u64(),
                prev["sequence"].as_u64().map(|s| s + 1)
            );
        }
        prev_last = Some(json(lines.last().unwrap()));
    }
}

#[tokio::test]
async fn deleted_line_in_a_rotated_file_is_found_there() {
    let dir = rotated_log().await;
    let (name, path) = files(dir.path())[1].clone();
    let mut lines = read_lines(&path);
    let removed = sequence_of(&lines[1]);
    lines.remove(1);
    write_lines(&path, &lines);
    assert_eq!(
        check(dir.path()).problems,
        vec![problem(
            &name,
            2,
            Some(removed + 1),
            VerifyProblemKind::SequenceGap {
                expected: removed,
                found: removed + 1
            }
        )]
    );
}

#[tokio::test]
async fn edited_and_swapped_lines_in_rotated_files_are_found_there() {
    let dir = rotated_log().await;
    let all = files(dir.path());
    let (edited_name, edited) = all[2].clone();
    edit_byte(&edited, 2);
    let (swapped_name, swapped) = all[3].clone();
    let mut lines = read_lines(&swapped);
    let (a, b) = (sequence_of(&lines[1]), sequence_of(&lines[2]));
    lines.swap(1, 2);
    write_lines(&swapped, &lines);
    let edited_sequence = sequence_of(&read_lines(&edited)[1]);
    assert_eq!(
        check(dir.path()).problems,
        vec![
            problem(
                &edited_name,
                2,
                Some(edited_sequence),
                VerifyProblemKind::HashMismatch
            ),
            problem(
                &swapped_name,
                2,
                Some(b),
                VerifyProblemKind::SequenceGap {
                    expected: a,
                    found: b
                }
            ),
            problem(
                &swapped_name,
                3,
                Some(a),
                VerifyProblemKind::OutOfOrder {
                    expected: b + 1,
                    found: a
                }
            ),
        ]
    );
}

#[tokio::test]
async fn deleted_middle_file_is_found_at_the_next_file() {
    let dir = rotated_log().await;
    let all = files(dir.path());
    let gone = read_lines(&all[2].1);
    std::fs::remove_file(&all[2].1).unwrap();
    let first_gone = sequence_of(&gone[0]);
    let after = sequence_of(gone.last().unwrap()) + 1;
    assert_eq!(
        check(dir.path()).problems,
        vec![problem(
            &all[3].0,
            1,
            Some(after),
            VerifyProblemKind::SequenceGap {
                expected: first_gone,
                found: after
            }
        )]
    );
}

#[tokio::test]
async fn truncated_current_file_after_rotation_is_caught() {
    let dir = rotated_log().await;
    let current = dir.path().join("audit.log");
    let lines = read_lines(&current);
    assert!(
        lines.len() >= 2,
        "{} lines in the current file",
        lines.len()
    );
    let kept = lines.len() - 1;
    write_lines(&current, &lines[..kept]);
    let last = sequence_of(&lines[kept - 1]);
    let report = check(dir.path());
    assert_eq!(
        report.problems,
        vec![problem(
            "audit.log",
            kept as u64 + 1,
            None,
            VerifyProblemKind::TruncatedTail {
                checkpoint: last + 1,
                last: Some(last)
            }
        )]
    );
    // Emptying the current file entirely is caught too.
    std::fs::write(&current, b"").unwrap();
    let report = check(dir.path());
    assert!(matches!(
        report.problems.as_slice(),
        [VerifyProblem {
            line: 1,
            kind: VerifyProblemKind::TruncatedTail { .. },
            ..
        }]
    ));
}

#[tokio::test]
async fn current_file_cut_mid_line_after_rotation_is_caught() {
    let dir = rotated_log().await;
    let current = dir.path().join("audit.log");
    let lines = read_lines(&current);
    let bytes = lines.concat();
    std::fs::write(&current, &bytes[..bytes.len() - 10]).unwrap();
    let n = lines.len() as u64;
    let last = sequence_of(&lines[lines.len() - 1]);
    assert_eq!(
        check(dir.path()).problems,
        vec![
            problem("audit.log", n, None, VerifyProblemKind::PartialLine),
            problem(
                "audit.log",
                n + 1,
                None,
                VerifyProblemKind::TruncatedTail {
                    checkpoint: last,
                    last: Some(last - 1)
                }
            ),
        ]
    );
}

#[tokio::test]
async fn pruned_rotation_is_a_note_not_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_files(dir.path());
    config.max_files = 2;
    write_events(config, 0..N).await;
    assert_eq!(files(dir.path()).len(), 3);
    let report = check(dir.path());
    assert_eq!(report.problems, vec![]);
    let first = report.first_sequence.unwrap();
    assert!(first > 1);
    assert_eq!(
        report.notes,
        vec![VerifyNote::PrunedStart {
            first_sequence: first
        }]
    );
    assert!(
        report.to_string().contains("older files were pruned"),
        "{report}"
    );
}
