//! The writer: resuming, dropping with gap records, rotation, checkpoints, redaction.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::super::tests::{config, json, read_lines, sample, write_events, write_lines};
use crate::audit::{AuditConfig, AuditEvent, VerifyProblem, VerifyProblemKind, start, verify};

fn sequences(path: &Path) -> Vec<u64> {
    read_lines(path)
        .iter()
        .map(|l| json(l)["sequence"].as_u64().unwrap())
        .collect()
}

fn head(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    json(&std::fs::read(dir.join("audit.head")).unwrap())
}

#[tokio::test]
async fn restart_resumes_sequence_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    write_events(config(dir.path()), 0..10).await;
    write_events(config(dir.path()), 10..25).await;
    let current = dir.path().join("audit.log");
    assert_eq!(sequences(&current), (1..=25).collect::<Vec<_>>());
    let lines = read_lines(&current);
    assert_eq!(json(&lines[10])["prev_hash"], json(&lines[9])["hash"]);
    assert_eq!(json(&lines[10])["dst_host"], "host-000010.example");
    let report = verify(dir.path(), "audit.log").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        (
            report.records,
            report.last_sequence,
            report.checkpoint_sequence
        ),
        (25, Some(25), Some(25))
    );
    assert_eq!(head(dir.path())["file"], "audit.log");
}

#[tokio::test]
async fn restart_after_rotation_before_the_rotate_record_starts_the_file_with_one() {
    let dir = tempfile::tempdir().unwrap();
    write_events(config(dir.path()), 0..5).await;
    // A crash between renaming the full file and writing the new file's first record.
    std::fs::rename(dir.path().join("audit.log"), dir.path().join("audit.log.1")).unwrap();
    write_events(config(dir.path()), 5..8).await;
    let lines = read_lines(&dir.path().join("audit.log"));
    assert_eq!(json(&lines[0])["activity"], "audit_rotate");
    assert_eq!(json(&lines[0])["sequence"], 6);
    assert_eq!(
        json(&lines[0])["prev_hash"],
        json(&read_lines(&dir.path().join("audit.log.1"))[4])["hash"]
    );
    let report = verify(dir.path(), "audit.log").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records, 9);
}

#[tokio::test]
async fn restart_after_truncation_keeps_the_loss_visible() {
    let dir = tempfile::tempdir().unwrap();
    write_events(config(dir.path()), 0..10).await;
    let current = dir.path().join("audit.log");
    let lines = read_lines(&current);
    write_lines(&current, &lines[..7]);
    // Restarting must not launder the cut: the chain continues from the checkpoint (10).
    write_events(config(dir.path()), 10..12).await;
    assert_eq!(sequences(&current), vec![1, 2, 3, 4, 5, 6, 7, 11, 12]);
    assert_eq!(
        verify(dir.path(), "audit.log").unwrap().problems,
        vec![VerifyProblem {
            file: "audit.log".to_owned(),
            line: 8,
            sequence: Some(11),
            kind: VerifyProblemKind::SequenceGap {
                expected: 8,
                found: 11
            },
        }]
    );
}

#[tokio::test]
async fn restart_after_a_cut_line_starts_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    write_events(config(dir.path()), 0..10).await;
    let current = dir.path().join("audit.log");
    let bytes = std::fs::read(&current).unwrap();
    std::fs::write(&current, &bytes[..bytes.len() - 30]).unwrap();
    write_events(config(dir.path()), 10..12).await;
    let problems = verify(dir.path(), "audit.log").unwrap().problems;
    assert_eq!(
        problems,
        vec![
            VerifyProblem {
                file: "audit.log".to_owned(),
                line: 10,
                sequence: None,
                kind: VerifyProblemKind::Malformed,
            },
            VerifyProblem {
                file: "audit.log".to_owned(),
                line: 11,
                sequence: Some(11),
                kind: VerifyProblemKind::SequenceGap {
                    expected: 10,
                    found: 11
                },
            },
        ]
    );
}

#[tokio::test]
async fn full_queue_drops_are_counted_and_reported_in_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.queue_capacity = 2;
    let (log, writer) = start(config).unwrap();
    // Recording never waits, so a tight loop outruns the writer thread within a few events.
    let mut recorded = 0u64;
    while log.dropped() < 100 && recorded < 10_000_000 {
        log.record(sample(recorded));
        recorded += 1;
    }
    let dropped = log.dropped();
    assert!(dropped >= 100, "only {dropped} of {recorded} dropped");
    log.flush().await.unwrap();
    assert_eq!(log.written() + log.dropped(), recorded);
    assert_eq!(
        log.dropped(),
        dropped,
        "nothing is dropped once recording stops"
    );
    writer.close().await.unwrap();
    let report = verify(dir.path(), "audit.log").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.gaps_dropped, dropped);
    let lines = read_lines(&dir.path().join("audit.log"));
    let gaps: u64 = lines
        .iter()
        .map(|l| json(l))
        .filter(|r| r["activity"] == "audit_gap")
        .map(|r| {
            assert_eq!(
                (&r["class_uid"], &r["action"], &r["outcome"]),
                (&0.into(), &"alert".into(), &"failure".into())
            );
            r["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(gaps, dropped);
    assert_eq!(
        report.records,
        log.written()
            + lines
                .iter()
                .filter(|l| json(l)["activity"] == "audit_gap")
                .count() as u64
    );
}

#[tokio::test]
async fn recording_after_close_is_counted_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = start(config(dir.path())).unwrap();
    log.record(sample(0));
    writer.close().await.unwrap();
    log.record(sample(1));
    log.record(sample(2));
    assert_eq!((log.written(), log.dropped()), (1, 2));
    assert!(matches!(
        log.flush().await,
        Err(crate::audit::AuditError::Closed)
    ));
    assert_eq!(read_lines(&dir.path().join("audit.log")).len(), 1);
}

#[tokio::test]
async fn flush_waits_for_every_recorded_event() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = start(config(dir.path())).unwrap();
    for i in 0..500 {
        log.record(sample(i));
    }
    log.flush().await.unwrap();
    assert_eq!(log.written(), 500);
    assert_eq!(
        sequences(&dir.path().join("audit.log")),
        (1..=500).collect::<Vec<_>>()
    );
    writer.close().await.unwrap();
}

#[tokio::test]
async fn checkpoint_follows_writes_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = start(config(dir.path())).unwrap();
    for i in 0..3 {
        log.record(sample(i));
    }
    log.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = dir.path().join("audit.head");
        if path.exists() && head(dir.path())["sequence"] == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint at sequence 3");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let last = read_lines(&dir.path().join("audit.log")).pop().unwrap();
    assert_eq!(head(dir.path())["hash"], json(&last)["hash"]);
    writer.close().await.unwrap();
}

#[tokio::test]
async fn rotation_keeps_max_files_each_within_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_file_bytes = 4096;
    config.max_files = 3;
    write_events(config, 0..200).await;
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "audit.head",
            "audit.log",
            "audit.log.1",
            "audit.log.2",
            "audit.log.3"
        ]
    );
    for name in &names[1..] {
        let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
        assert!(len <= 4096, "{name} has {len} bytes");
    }
    let report = verify(dir.path(), "audit.log").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.notes.len(), 1, "{report}");
}

#[tokio::test]
async fn token_shaped_values_never_reach_the_file() {
    const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZXNzLTEiLCJleHAiOjF9.c2lnbmF0dXJl";
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = start(config(dir.path())).unwrap();
    let mut event = sample(0);
    event.session_id = Some(JWT.to_owned());
    event.user_agent = Some(format!("tool/1 (Bearer {JWT})"));
    log.record(event);
    log.flush().await.unwrap();
    writer.close().await.unwrap();
    assert_eq!(log.redacted(), 2);
    let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert!(!text.contains("eyJ"), "{text}");
    let record = json(text.as_bytes());
    assert_eq!(
        (&record["session_id"], &record["user_agent"]),
        (&"[redacted]".into(), &"[redacted]".into())
    );
}

#[test]
fn start_outside_a_runtime_creates_a_private_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a/b");
    let (log, writer) = start(AuditConfig::new(&dir)).unwrap();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    log.record(AuditEvent::alert(
        crate::audit::ClassUid::EntityManagement,
        "policy_reload",
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(writer.close()).unwrap();
    let file_mode = std::fs::metadata(dir.join("audit.log"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(file_mode, 0o600);
    assert_eq!(log.written(), 1);
    assert!(verify(&dir, "audit.log").unwrap().is_ok());
}

#[tokio::test]
async fn dropping_every_handle_still_writes_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = start(config(dir.path())).unwrap();
    log.record(sample(0));
    drop(writer);
    drop(log);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("audit.head").exists() {
        assert!(
            Instant::now() < deadline,
            "no checkpoint after the handles were dropped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(head(dir.path())["sequence"], 1);
}
