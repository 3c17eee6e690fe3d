use super::*;
use crate::error::ContentError;

fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (audit, _writer) =
        trust_core::audit::start(trust_core::audit::AuditConfig::new(dir.path())).unwrap();
    (Store::new(Metrics::new().unwrap(), audit, false), dir)
}

fn generic(v: &str) -> SecretValue {
    SecretValue::Generic(Zeroizing::new(v.as_bytes().to_vec()))
}

fn reg(max_age: Option<Duration>) -> Registration {
    Registration {
        kind: SecretKind::GenericSecret,
        source: SourceKind::Files,
        max_age,
    }
}

fn served(store: &Store, name: &str) -> Option<String> {
    store.lookup(name).ready().map(|v| v.id.clone())
}

#[test]
fn a_good_value_is_served_and_a_bad_one_keeps_the_last_good() {
    let (store, _dir) = store();
    store.register("k", reg(None)).unwrap();
    assert!(matches!(store.lookup("k"), Lookup::Pending));
    assert!(matches!(store.lookup("nope"), Lookup::Unknown));
    let changes = store.watch();
    store.offer("k", Ok((generic("v1"), Some("v1".to_owned()))));
    assert_eq!(served(&store, "k").as_deref(), Some("v1"));
    assert!(changes.has_changed().unwrap());
    store.offer("k", Ok((generic(""), Some("v2".to_owned()))));
    assert_eq!(served(&store, "k").as_deref(), Some("v1"));
    let status = &store.statuses()[0];
    assert_eq!(status.state, "stale");
    assert_eq!(status.errors, 1);
    assert_eq!(
        status.last_error.as_deref(),
        Some("invalid content: the secret is empty")
    );
    assert_eq!(
        store
            .metrics
            .source_errors
            .with_label_values(&["files", "invalid"])
            .get(),
        1
    );
}

#[test]
fn the_same_content_confirms_without_a_push() {
    let (store, _dir) = store();
    store.register("k", reg(None)).unwrap();
    store.offer("k", Ok((generic("v1"), None)));
    let first = served(&store, "k").unwrap();
    assert!(first.starts_with("sha256:") && first.len() == 23, "{first}");
    let mut changes = store.watch();
    changes.mark_unchanged();
    store.offer("k", Ok((generic("v1"), None)));
    assert!(!changes.has_changed().unwrap());
    store.offer("k", Ok((generic("v2"), None)));
    assert!(changes.has_changed().unwrap());
    assert_ne!(served(&store, "k").unwrap(), first);
}

#[test]
fn an_unconfirmed_secret_is_withdrawn_after_max_age_and_revived_by_a_confirmation() {
    let (store, _dir) = store();
    store
        .register("k", reg(Some(Duration::from_secs(60))))
        .unwrap();
    store.offer("k", Ok((generic("v1"), Some("v1".to_owned()))));
    assert_eq!(store.sweep(Instant::now()), 0);
    store.offer("k", Err(SourceError::Unreachable("down".to_owned())));
    assert_eq!(
        served(&store, "k").as_deref(),
        Some("v1"),
        "kept while within max_age"
    );
    assert_eq!(store.sweep(Instant::now() + Duration::from_secs(61)), 1);
    assert!(matches!(store.lookup("k"), Lookup::Withdrawn));
    assert_eq!(store.statuses()[0].state, "withdrawn");
    assert!(!store.confirm("k", "v0"));
    assert!(store.confirm("k", "v1"));
    assert_eq!(served(&store, "k").as_deref(), Some("v1"));
}

#[test]
fn a_name_belongs_to_one_source() {
    let (store, _dir) = store();
    store.register("k", reg(None)).unwrap();
    let vault = Registration {
        source: SourceKind::Vault,
        ..reg(None)
    };
    assert_eq!(
        store.register("k", vault),
        Err("secret \"k\" is already served by the files source".to_owned())
    );
    store.unregister("k", SourceKind::Vault);
    assert!(matches!(store.lookup("k"), Lookup::Pending));
    store.unregister("k", SourceKind::Files);
    assert!(matches!(store.lookup("k"), Lookup::Unknown));
}

#[test]
fn a_value_of_the_wrong_kind_is_refused() {
    let (store, _dir) = store();
    store.register("k", reg(None)).unwrap();
    store.offer(
        "k",
        Ok((
            SecretValue::ValidationContext(Zeroizing::new(b"x".to_vec())),
            None,
        )),
    );
    assert!(matches!(store.lookup("k"), Lookup::Pending));
    assert_eq!(
        store.statuses()[0].last_error.as_deref(),
        Some(&*format!(
            "invalid content: {}",
            ContentError::Format("of the configured kind")
        ))
    );
}
