use super::*;
use std::time::Duration;
use trust_core::token::{KeyAlgorithm, SigningKey};

fn jwks_json() -> String {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    Jwks::from_signing_keys([&key]).to_value().to_string()
}

fn revocation(sid: &str, expires_at: u64) -> pb::Revocation {
    pb::Revocation {
        session_id: sid.to_owned(),
        reason: "revoked: test".to_owned(),
        expires_at,
    }
}

fn snapshot(sequence: u64, jwks: &str, revoked: &[&str], deny_all: bool) -> Message {
    Message::Snapshot(pb::Snapshot {
        sequence,
        store_id: "store-1".to_owned(),
        jwks_json: jwks.to_owned(),
        revocations: revoked.iter().map(|s| revocation(s, 0)).collect(),
        deny_all: Some(pb::DenyAll {
            on: deny_all,
            reason: if deny_all {
                "incident".into()
            } else {
                String::new()
            },
        }),
        heartbeat_interval_ms: 1000,
    })
}

fn change(sequence: u64, change: pb::change::Change) -> Message {
    Message::Change(pb::Change {
        sequence,
        change: Some(change),
    })
}

#[test]
fn pending_state_refuses_with_edge_not_ready() {
    let state = ControlState::pending();
    assert!(!state.ready);
    assert_eq!(
        state.deny_reason("s1", Duration::from_secs(300)),
        Some(DenyReason::EdgeNotReady)
    );
}

#[test]
fn snapshot_makes_ready_and_emits_revocations() {
    let jwks = jwks_json();
    let mut tracker = Tracker::new();
    let events = tracker
        .apply(snapshot(7, &jwks, &["s1", "s2"], false), Instant::now())
        .unwrap();
    assert!(tracker.state.ready);
    assert_eq!(tracker.state.sequence, 7);
    assert_eq!(tracker.state.store_id, "store-1");
    assert_eq!(tracker.heartbeat_interval, Some(Duration::from_secs(1)));
    let mut revoked: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ControlEvent::Revoked { session_id, .. } => Some(session_id.as_str()),
            _ => None,
        })
        .collect();
    revoked.sort_unstable();
    assert_eq!(revoked, ["s1", "s2"]);
    assert!(events.contains(&ControlEvent::DenyAll { on: false }));
    assert!(events.contains(&ControlEvent::JwksChanged));
    let window = Duration::from_secs(300);
    assert_eq!(
        tracker.state.deny_reason("s1", window),
        Some(DenyReason::SessionRevoked)
    );
    assert_eq!(tracker.state.deny_reason("s3", window), None);
}

#[test]
fn changes_apply_in_order_and_gaps_are_refused() {
    let jwks = jwks_json();
    let mut tracker = Tracker::new();
    tracker
        .apply(snapshot(3, &jwks, &[], false), Instant::now())
        .unwrap();
    let events = tracker
        .apply(
            change(4, pb::change::Change::Revocation(revocation("s9", 0))),
            Instant::now(),
        )
        .unwrap();
    assert_eq!(
        events,
        vec![ControlEvent::Revoked {
            session_id: "s9".into(),
            reason: "revoked: test".into()
        }]
    );
    assert_eq!(tracker.state.sequence, 4);
    // A repeat of an applied change is skipped.
    assert_eq!(
        tracker
            .apply(
                change(4, pb::change::Change::Revocation(revocation("other", 0))),
                Instant::now()
            )
            .unwrap(),
        vec![]
    );
    assert!(!tracker.state.revoked.contains("other"));
    // A gap is refused and changes nothing.
    let gap = tracker.apply(
        change(
            6,
            pb::change::Change::DenyAll(pb::DenyAll {
                on: true,
                reason: "x".into(),
            }),
        ),
        Instant::now(),
    );
    assert_eq!(
        gap,
        Err(ProtocolError::Gap {
            expected: 5,
            got: 6
        })
    );
    assert!(!tracker.state.deny_all);
    let events = tracker
        .apply(
            change(
                5,
                pb::change::Change::DenyAll(pb::DenyAll {
                    on: true,
                    reason: "incident".into(),
                }),
            ),
            Instant::now(),
        )
        .unwrap();
    assert_eq!(events, vec![ControlEvent::DenyAll { on: true }]);
    assert_eq!(tracker.state.deny_all_reason, "incident");
    assert_eq!(
        tracker
            .state
            .deny_reason("anyone", Duration::from_secs(300)),
        Some(DenyReason::DenyAll)
    );
    // Revocation is checked before deny-all.
    assert_eq!(
        tracker.state.deny_reason("s9", Duration::from_secs(300)),
        Some(DenyReason::SessionRevoked)
    );
}

#[test]
fn change_before_snapshot_is_refused() {
    let mut tracker = Tracker::new();
    let result = tracker.apply(
        change(
            1,
            pb::change::Change::DenyAll(pb::DenyAll {
                on: true,
                reason: String::new(),
            }),
        ),
        Instant::now(),
    );
    assert_eq!(result, Err(ProtocolError::NoSnapshot(1)));
    assert!(!tracker.state.ready);
}

#[test]
fn heartbeat_ahead_of_state_is_a_gap() {
    let mut tracker = Tracker::new();
    tracker
        .apply(snapshot(2, &jwks_json(), &[], false), Instant::now())
        .unwrap();
    let beat = |sequence| {
        Message::Heartbeat(pb::Heartbeat {
            sequence,
            time_ms: 0,
        })
    };
    assert_eq!(tracker.apply(beat(2), Instant::now()), Ok(vec![]));
    assert_eq!(
        tracker.apply(beat(3), Instant::now()),
        Err(ProtocolError::Gap {
            expected: 2,
            got: 3
        })
    );
}

#[test]
fn unusable_jwks_is_refused_and_the_old_one_kept() {
    let jwks = jwks_json();
    let mut tracker = Tracker::new();
    tracker
        .apply(snapshot(1, &jwks, &[], false), Instant::now())
        .unwrap();
    let bad = tracker.apply(
        change(
            2,
            pb::change::Change::Jwks(pb::Jwks {
                json: r#"{"nokeys":1}"#.into(),
            }),
        ),
        Instant::now(),
    );
    assert!(matches!(bad, Err(ProtocolError::Jwks(_))), "{bad:?}");
    assert_eq!(tracker.state.sequence, 1);
    assert_eq!(
        tracker.state.jwks,
        serde_json::from_str::<serde_json::Value>(&jwks).unwrap()
    );
}

#[test]
fn a_new_snapshot_replaces_revocations_and_reports_only_new_ones() {
    let jwks = jwks_json();
    let mut tracker = Tracker::new();
    tracker
        .apply(snapshot(1, &jwks, &["a"], false), Instant::now())
        .unwrap();
    let events = tracker
        .apply(snapshot(5, &jwks, &["a", "b"], true), Instant::now())
        .unwrap();
    assert_eq!(
        events,
        vec![
            ControlEvent::Revoked {
                session_id: "b".into(),
                reason: "revoked: test".into()
            },
            ControlEvent::DenyAll { on: true },
        ]
    );
    assert_eq!(tracker.state.revoked.len(), 2);
}

#[test]
fn prune_forgets_revocations_past_expiry_plus_leeway() {
    let mut tracker = Tracker::new();
    let jwks = jwks_json();
    tracker
        .apply(snapshot(1, &jwks, &[], false), Instant::now())
        .unwrap();
    tracker
        .apply(
            change(2, pb::change::Change::Revocation(revocation("old", 1_000))),
            Instant::now(),
        )
        .unwrap();
    tracker
        .apply(
            change(3, pb::change::Change::Revocation(revocation("new", 5_000))),
            Instant::now(),
        )
        .unwrap();
    assert_eq!(tracker.prune(1_030, Duration::from_secs(30)), 0);
    assert_eq!(tracker.prune(1_031, Duration::from_secs(30)), 1);
    assert!(!tracker.state.revoked.contains("old"));
    assert!(tracker.state.revoked.contains("new"));
}

#[test]
fn stale_state_refuses_with_edge_not_ready() {
    let mut tracker = Tracker::new();
    let past = Instant::now().checked_sub(Duration::from_secs(10)).unwrap();
    tracker
        .apply(snapshot(1, &jwks_json(), &[], false), past)
        .unwrap();
    assert!(!tracker.state.is_fresh(Duration::from_secs(5)));
    assert_eq!(
        tracker.state.deny_reason("s", Duration::from_secs(5)),
        Some(DenyReason::EdgeNotReady)
    );
    assert!(tracker.state.is_fresh(Duration::from_secs(60)));
}
