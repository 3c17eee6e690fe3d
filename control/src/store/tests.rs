use super::*;
use trust_core::audit::{AuditEvent, ClassUid};
use trust_core::token::SigningKey;

fn session(id: &str, created_at: u64, expires_at: u64) -> Session {
    Session {
        id: id.to_owned(),
        tenant: "t".to_owned(),
        profile: "p".to_owned(),
        labels: BTreeMap::from([("run".to_owned(), "1".to_owned())]),
        created_at,
        expires_at,
        state: SessionState::Active,
        closed_at: None,
        close_reason: None,
        tokens_issued: 1,
    }
}

fn key_record(state: KeyState) -> KeyRecord {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    KeyRecord {
        kid: key.kid().to_owned(),
        alg: KeyAlgorithm::EdDSA,
        public_jwk: key.public_jwk().to_string(),
        created_at: 100,
        retired_at: None,
        removed_at: None,
        max_exp: 0,
        state,
    }
}

fn store_with_key() -> (SqliteStore, KeyRecord) {
    let store = SqliteStore::in_memory().unwrap();
    let key = key_record(KeyState::Active);
    let change = store.update_keys(std::slice::from_ref(&key), 1).unwrap();
    assert_eq!(change.sequence, 1);
    (store, key)
}

fn issued(key: &KeyRecord, exp: u64) -> TokenIssued {
    TokenIssued {
        kid: key.kid.clone(),
        exp,
    }
}

#[test]
fn sessions_round_trip_and_raise_the_keys_max_exp() {
    let (store, key) = store_with_key();
    let s = session("s1", 1000, 5000);
    store.insert_session(&s, &issued(&key, 5000)).unwrap();
    assert_eq!(store.session("s1").unwrap(), Some(s.clone()));
    assert_eq!(store.session("nope").unwrap(), None);
    assert!(matches!(
        store.insert_session(&s, &issued(&key, 5000)),
        Err(StoreError::Conflict(_))
    ));
    store.record_token("s1", &issued(&key, 6000)).unwrap();
    assert_eq!(store.session("s1").unwrap().unwrap().tokens_issued, 2);
    assert_eq!(store.keys().unwrap()[0].max_exp, 6000);
    assert!(matches!(
        store.record_token("nope", &issued(&key, 1)),
        Err(StoreError::NotFound("session"))
    ));
}

#[test]
fn a_token_of_a_retired_key_is_refused() {
    let (store, key) = store_with_key();
    let retired = KeyRecord {
        state: KeyState::Retired,
        ..key.clone()
    };
    store.update_keys(&[retired], 2).unwrap();
    let result = store.insert_session(&session("s1", 1, 2), &issued(&key, 2));
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        store.session("s1").unwrap(),
        None,
        "the insert was rolled back"
    );
}

#[test]
fn closing_appends_a_revocation_change_once() {
    let (store, key) = store_with_key();
    store
        .insert_session(&session("s1", 1000, 5000), &issued(&key, 5000))
        .unwrap();
    let change = store
        .close_session(
            "s1",
            SessionState::Revoked,
            "revoked: leak",
            1100,
            1_100_000,
        )
        .unwrap();
    assert_eq!(
        change,
        Change {
            sequence: 2,
            at_ms: 1_100_000,
            kind: ChangeKind::Revocation {
                session_id: "s1".into(),
                reason: "revoked: leak".into(),
                expires_at: 5000
            }
        }
    );
    let closed = store.session("s1").unwrap().unwrap();
    assert_eq!(closed.state, SessionState::Revoked);
    assert_eq!(closed.closed_at, Some(1100));
    assert!(matches!(
        store.close_session("s1", SessionState::Ended, "ended", 1, 1),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.close_session("zz", SessionState::Ended, "ended", 1, 1),
        Err(StoreError::NotFound("session"))
    ));
}

#[test]
fn changes_since_resumes_or_asks_for_a_snapshot_after_pruning() {
    let (store, _) = store_with_key();
    for i in 0..5 {
        let on = i % 2 == 0;
        store
            .set_deny_all(
                &DenyAllState {
                    on,
                    reason: format!("r{i}"),
                    changed_at: i,
                },
                i,
            )
            .unwrap();
    }
    let since = store.changes_since(3, 100).unwrap().unwrap();
    assert_eq!(
        since.iter().map(|c| c.sequence).collect::<Vec<_>>(),
        [4, 5, 6]
    );
    assert_eq!(store.changes_since(6, 100).unwrap(), Some(vec![]));
    assert_eq!(store.changes_since(0, 2).unwrap().unwrap().len(), 2);
    assert_eq!(store.prune_changes(2).unwrap(), 4);
    assert_eq!(
        store.changes_since(3, 100).unwrap(),
        None,
        "change 4 was pruned"
    );
    assert_eq!(
        store
            .changes_since(4, 100)
            .unwrap()
            .unwrap()
            .iter()
            .map(|c| c.sequence)
            .collect::<Vec<_>>(),
        [5, 6]
    );
    assert_eq!(
        store.deny_all().unwrap(),
        DenyAllState {
            on: true,
            reason: "r4".into(),
            changed_at: 4
        }
    );
}

#[test]
fn sync_state_holds_published_keys_and_unexpired_revocations() {
    let (store, key) = store_with_key();
    store
        .insert_session(&session("old", 10, 100), &issued(&key, 100))
        .unwrap();
    store
        .insert_session(&session("new", 10, 10_000), &issued(&key, 10_000))
        .unwrap();
    store
        .insert_session(&session("open", 10, 10_000), &issued(&key, 10_000))
        .unwrap();
    store
        .close_session("old", SessionState::Ended, "ended", 50, 50)
        .unwrap();
    store
        .close_session("new", SessionState::Revoked, "revoked: x", 60, 60)
        .unwrap();
    let next = key_record(KeyState::Active);
    let retired = KeyRecord {
        state: KeyState::Retired,
        retired_at: Some(70),
        ..key.clone()
    };
    store.update_keys(&[next.clone(), retired], 70).unwrap();
    let state = store.sync_state(200, 30).unwrap();
    assert_eq!(state.sequence, 4);
    assert_eq!(
        state.revoked,
        vec![Revoked {
            session_id: "new".into(),
            reason: "revoked: x".into(),
            expires_at: 10_000
        }]
    );
    let jwks: serde_json::Value = serde_json::from_str(&state.jwks_json).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&next.kid.as_str()) && kids.contains(&key.kid.as_str()));
    // Within exp + leeway the old revocation is still sent.
    assert_eq!(store.sync_state(130, 30).unwrap().revoked.len(), 2);
    let expired = KeyRecord {
        state: KeyState::Expired,
        removed_at: Some(80),
        ..key.clone()
    };
    store.update_keys(&[expired], 80).unwrap();
    let jwks: serde_json::Value =
        serde_json::from_str(&store.sync_state(200, 30).unwrap().jwks_json).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn two_active_keys_are_refused() {
    let (store, _) = store_with_key();
    let result = store.update_keys(&[key_record(KeyState::Active)], 2);
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.keys().unwrap().len(), 1);
}

#[test]
fn api_tokens_are_stored_by_hash() {
    let store = SqliteStore::in_memory().unwrap();
    let record = ApiTokenRecord {
        name: "op".into(),
        role: Role::Operator,
        hash: "ab".repeat(32),
        created_at: 5,
    };
    store.insert_api_token(&record).unwrap();
    assert!(matches!(
        store.insert_api_token(&record),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.api_tokens().unwrap(), vec![record]);
}

#[test]
fn audit_records_chain_and_filter() {
    let store = SqliteStore::in_memory().unwrap();
    let entry = |session: Option<&str>, time: u64| {
        let mut event = AuditEvent::allow(ClassUid::Authentication, "session_end");
        event.session_id = session.map(str::to_owned);
        event.time = time;
        AuditEntry {
            actor: "bootstrap-operator".into(),
            role: "operator".into(),
            detail: Some("ended".into()),
            event,
        }
    };
    assert_eq!(store.append_audit(&entry(Some("a"), 10)).unwrap(), 1);
    assert_eq!(store.append_audit(&entry(Some("b"), 20)).unwrap(), 2);
    assert_eq!(store.append_audit(&entry(None, 30)).unwrap(), 3);
    let all = store
        .audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].prev_hash, "0".repeat(64));
    assert_eq!(all[1].prev_hash, all[0].hash);
    assert_eq!(all[2].prev_hash, all[1].hash);
    let json = serde_json::to_string(&all[1].entry).unwrap();
    assert_eq!(all[1].hash, sqlite::chain_hash(&all[0].hash, &json));
    let b = store
        .audit(&AuditQuery {
            session: Some("b".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(b.iter().map(|r| r.sequence).collect::<Vec<_>>(), [2]);
    let since = store
        .audit(&AuditQuery {
            since_ms: Some(20),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(since.iter().map(|r| r.sequence).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(all[0].entry, entry(Some("a"), 10));
}

#[test]
fn the_store_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = SqliteStore::open(dir.path()).unwrap();
        store
            .set_deny_all(
                &DenyAllState {
                    on: true,
                    reason: "x".into(),
                    changed_at: 1,
                },
                1,
            )
            .unwrap();
        store.store_id().unwrap()
    };
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.store_id().unwrap(), id);
    assert!(store.deny_all().unwrap().on);
    assert_eq!(store.sync_state(0, 0).unwrap().sequence, 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("control.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
