//! Event shape tests and the helpers the writer and verifier tests share.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use super::scrub::{looks_like_jwt, scrub};
use super::*;
use crate::DenyReason;

/// A config for `dir` with a short checkpoint interval.
pub(crate) fn config(dir: &Path) -> AuditConfig {
    let mut config = AuditConfig::new(dir);
    config.checkpoint_interval = Duration::from_millis(20);
    config
}

/// Event `i`: an allowed HTTP request to `host-<i>.example` (about 450 bytes written).
pub(crate) fn sample(i: u64) -> AuditEvent {
    let mut event = AuditEvent::allow(ClassUid::HttpActivity, "request");
    event.time = 1_700_000_000_000 + i;
    event.trace_id = Some(format!("0190a0b0-0000-7000-8000-{i:012}"));
    event.session_id = Some("sess-1".to_owned());
    event.tenant_id = Some("tenant-a".to_owned());
    event.profile = Some("default".to_owned());
    event.dst_host = Some(format!("host-{i:06}.example"));
    event.dst_port = Some(443);
    event.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)));
    event.rung = Some(Cow::Borrowed("bump"));
    event.rule = Some("default/egress.yaml:12".to_owned());
    event.method = Some("GET".to_owned());
    event.http_host = Some(format!("host-{i:06}.example"));
    event.user_agent = Some("curl/8.5.0".to_owned());
    event.bytes_up = 120;
    event.bytes_down = 4096 + i;
    event.duration_ms = 1.5;
    event.injected = vec!["github_token".to_owned()];
    event.policy_hash = Some("sha256:abcd".to_owned());
    event
}

/// Writes events `range` through a fresh start/close cycle, asserting nothing was dropped.
pub(crate) async fn write_events(config: AuditConfig, range: std::ops::Range<u64>) {
    let (log, writer) = start(config).unwrap();
    let count = range.end - range.start;
    for i in range {
        log.record(sample(i));
    }
    log.flush().await.unwrap();
    assert_eq!(
        (log.written(), log.dropped(), log.write_errors()),
        (count, 0, 0)
    );
    writer.close().await.unwrap();
}

/// The file's lines, each with its newline (the last one may lack it).
pub(crate) fn read_lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Replaces the file's content with `lines`.
pub(crate) fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}

/// The JSON object on a line.
pub(crate) fn json(line: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_slice(line).unwrap()
}

#[test]
fn event_serialises_fixed_labels_and_skips_none() {
    let mut event = AuditEvent::allow(ClassUid::HttpActivity, "request");
    event.time = 1_700_000_000_000;
    assert_eq!(
        serde_json::to_string(&event).unwrap(),
        r#"{"class_uid":4002,"activity":"request","time":1700000000000,"action":"allow","outcome":"success","bytes_up":0,"bytes_down":0,"duration_ms":0.0,"injected":[]}"#
    );
}

#[test]
fn deny_carries_the_reason_code_and_fails() {
    let mut event = AuditEvent::deny(
        ClassUid::NetworkActivity,
        "connect",
        DenyReason::ResolvedAddressDenied,
    );
    event.time = 5;
    event.exception = Some(Cow::Borrowed("address_rule"));
    event.enforce_would_deny = Some(true);
    event.set_duration(Duration::from_micros(2500));
    assert_eq!(
        serde_json::to_string(&event).unwrap(),
        r#"{"class_uid":4001,"activity":"connect","time":5,"action":"deny","outcome":"failure","status_detail":"resolved_address_denied","exception":"address_rule","bytes_up":0,"bytes_down":0,"duration_ms":2.5,"injected":[],"enforce_would_deny":true}"#
    );
    let alert = AuditEvent::alert(ClassUid::EntityManagement, "policy_reload");
    assert_eq!(
        (alert.action, alert.outcome),
        (Action::Alert, Outcome::Success)
    );
    assert_eq!(
        (Action::Deny.as_str(), Outcome::Failure.as_str()),
        ("deny", "failure")
    );
}

#[test]
fn event_round_trips_through_json() {
    let event = sample(7);
    let text = serde_json::to_string(&event).unwrap();
    let back: AuditEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(back, event);
}

#[test]
fn class_uid_is_numeric_and_closed() {
    for class in ClassUid::ALL {
        let text = serde_json::to_string(&class).unwrap();
        assert_eq!(text, class.uid().to_string());
        assert_eq!(serde_json::from_str::<ClassUid>(&text).unwrap(), class);
    }
    assert!(serde_json::from_str::<ClassUid>("4003").is_err());
    assert!(serde_json::from_str::<ClassUid>("-1").is_err());
    assert!(serde_json::from_str::<ClassUid>("\"4001\"").is_err());
}

#[test]
fn written_keys_are_exactly_the_documented_fields() {
    let mut event = sample(1);
    event.status_detail = Some(Cow::Borrowed("x"));
    event.exception = Some(Cow::Borrowed("address_rule"));
    event.enforce_would_deny = Some(false);
    event.count = Some(1);
    let keys: BTreeSet<String> = json(&serde_json::to_vec(&event).unwrap())
        .keys()
        .cloned()
        .collect();
    let documented: BTreeSet<String> = [
        "class_uid",
        "activity",
        "time",
        "trace_id",
        "session_id",
        "tenant_id",
        "profile",
        "action",
        "outcome",
        "status_detail",
        "dst_host",
        "dst_port",
        "dst_addr",
        "rung",
        "rule",
        "exception",
        "method",
        "http_host",
        "user_agent",
        "bytes_up",
        "bytes_down",
        "duration_ms",
        "injected",
        "policy_hash",
        "enforce_would_deny",
        "count",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(keys, documented);
}

#[tokio::test]
async fn written_line_parses_as_a_record() {
    let dir = tempfile::tempdir().unwrap();
    write_events(config(dir.path()), 0..2).await;
    let lines = read_lines(&dir.path().join("audit.log"));
    let record: AuditRecord = serde_json::from_slice(&lines[1]).unwrap();
    assert_eq!(record.event, sample(1));
    assert_eq!(record.sequence, 2);
    let first: AuditRecord = serde_json::from_slice(&lines[0]).unwrap();
    assert_eq!(record.prev_hash, first.hash);
    assert_eq!(first.prev_hash, "0".repeat(64));
}

const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZXNzLTEiLCJleHAiOjF9.c2lnbmF0dXJlLWJ5dGVz";

#[test]
fn jwt_shapes_are_recognised() {
    assert!(looks_like_jwt(JWT));
    assert!(looks_like_jwt(&format!("Mozilla/5.0 Bearer {JWT} more")));
    assert!(looks_like_jwt(
        "xeyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZXNzLTEi."
    ));
    assert!(!looks_like_jwt("eyJhbGciOiJFUzI1NiJ9"));
    assert!(!looks_like_jwt("eyJ.eyJ."));
    assert!(!looks_like_jwt("host-000001.example"));
    assert!(!looks_like_jwt("eyJhbGciOiJFUzI1NiJ9.notapayload.sig"));
    assert!(!looks_like_jwt(""));
}

#[test]
fn scrub_replaces_only_token_shaped_fields() {
    let mut event = sample(1);
    event.session_id = Some(JWT.to_owned());
    event.user_agent = Some(format!("agent/1 token={JWT}"));
    event.injected.push(JWT.to_owned());
    assert_eq!(scrub(&mut event), 3);
    let mut expected = sample(1);
    expected.session_id = Some("[redacted]".to_owned());
    expected.user_agent = Some("[redacted]".to_owned());
    expected.injected.push("[redacted]".to_owned());
    assert_eq!(event, expected);
    assert_eq!(scrub(&mut event), 0);
}

#[test]
fn config_defaults_and_validation() {
    let config = AuditConfig::new("/var/log/trust-edge");
    assert_eq!(config.file_name, "audit.log");
    assert_eq!(config.max_file_bytes, 64 * 1024 * 1024);
    assert_eq!((config.max_files, config.queue_capacity), (10, 65_536));
    assert_eq!(config.checkpoint_interval, Duration::from_millis(200));
    assert!(!config.stdout);
    for (field, change) in [
        (
            "queue_capacity",
            (|c: &mut AuditConfig| c.queue_capacity = 0) as fn(&mut AuditConfig),
        ),
        ("max_file_bytes", |c| c.max_file_bytes = 0),
        ("checkpoint_interval", |c| {
            c.checkpoint_interval = Duration::ZERO
        }),
        ("file_name", |c| c.file_name = "../audit.log".to_owned()),
        ("file_name", |c| c.file_name = "a/b".to_owned()),
        ("file_name", |c| c.file_name = String::new()),
    ] {
        let mut bad = config.clone();
        change(&mut bad);
        match start(bad) {
            Err(AuditError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected InvalidConfig, got {other:?}"),
        }
    }
}
