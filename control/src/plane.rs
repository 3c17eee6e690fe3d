//! [`Plane`]: the state every handler, the sync service and the maintenance task share, and the
//! two rules every privileged action follows:
//!
//! 1. [`Plane::audit_first`]: the audit record is durable before anything changes; if it cannot
//!    be written the action is refused (503) and nothing changes.
//! 2. [`Plane::commit`]: a change is written to the store and published to the sync streams
//!    under one lock, so streams see changes in sequence order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, broadcast, watch};
use trust_core::audit::{AuditEvent, ClassUid};

use crate::auth::Caller;
use crate::clock::Clock;
use crate::config::Config;
use crate::edges::EdgeRegistry;
use crate::error::StoreError;
use crate::key_ring::KeyRing;
use crate::metrics::Metrics;
use crate::profiles::Profiles;
use crate::refusal::ApiError;
use crate::store::{AuditEntry, AuditStore, Change, ChangeKind, Store};
use crate::tokens::ApiTokens;

/// Changes buffered per sync stream before it must catch up from the store.
const CHANGE_BUFFER: usize = 1024;

/// Control's shared state.
pub(crate) struct Plane {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) audit: Arc<dyn AuditStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: KeyRing,
    pub(crate) store_id: String,
    pub(crate) edges: EdgeRegistry,
    pub(crate) profiles: Arc<Profiles>,
    pub(crate) tokens: ApiTokens,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: watch::Receiver<bool>,
    changes: broadcast::Sender<Arc<Change>>,
    publish: Mutex<()>,
    sequence: AtomicU64,
}

/// What [`Plane::new`] is built from.
pub(crate) struct PlaneParts {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) audit: Arc<dyn AuditStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: KeyRing,
    pub(crate) store_id: String,
    pub(crate) profiles: Arc<Profiles>,
    pub(crate) tokens: ApiTokens,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The store's last sequence at start.
    pub(crate) sequence: u64,
}

impl Plane {
    pub(crate) fn new(parts: PlaneParts) -> Plane {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        Plane {
            config: parts.config,
            store: parts.store,
            audit: parts.audit,
            clock: parts.clock,
            keys: parts.keys,
            store_id: parts.store_id,
            edges: EdgeRegistry::default(),
            profiles: parts.profiles,
            tokens: parts.tokens,
            metrics: parts.metrics,
            shutdown: parts.shutdown,
            changes,
            publish: Mutex::new(()),
            sequence: AtomicU64::new(parts.sequence),
        }
    }

    /// Runs a store call on a blocking thread.
    pub(crate) async fn blocking<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task: {e}")))?
    }

    /// The last change's sequence.
    pub(crate) fn sequence(&self) -> u64 {
        self.sequence.load(Ordering::Acquire)
    }

    /// Live changes from now on (subscribe before reading a snapshot, then skip what it held).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Writes a change and publishes it, in sequence order.
    pub(crate) async fn commit<F>(&self, write: F) -> Result<Change, StoreError>
    where
        F: FnOnce(&dyn Store) -> Result<Change, StoreError> + Send + 'static,
    {
        let _order = self.publish.lock().await;
        let change = self.blocking(write).await?;
        self.published(&change);
        let _ = self.changes.send(Arc::new(change.clone()));
        Ok(change)
    }

    fn published(&self, change: &Change) {
        let kind = match &change.kind {
            ChangeKind::Revocation { .. } => "revocation",
            ChangeKind::DenyAll { on, .. } => {
                self.metrics.deny_all.set(i64::from(*on));
                "deny_all"
            }
            ChangeKind::Jwks { .. } => "jwks",
        };
        self.metrics.changes.with_label_values(&[kind]).inc();
        self.sequence.store(change.sequence, Ordering::Release);
        self.metrics
            .sequence
            .set(i64::try_from(change.sequence).unwrap_or(i64::MAX));
    }

    /// An audit entry for `caller`, stamped with control's clock.
    pub(crate) fn entry(
        &self,
        caller: &Caller,
        class: ClassUid,
        activity: &'static str,
        request_id: Option<&str>,
    ) -> AuditEntry {
        let mut event = AuditEvent::allow(class, activity);
        event.time = self.clock.unix_ms();
        event.trace_id = request_id.map(str::to_owned);
        AuditEntry {
            actor: caller.name.clone(),
            role: caller.role_name().to_owned(),
            detail: None,
            event,
        }
    }

    /// Writes `entry` durably before a privileged action; a failure refuses the action (503).
    pub(crate) async fn audit_first(&self, entry: AuditEntry) -> Result<u64, ApiError> {
        let audit = Arc::clone(&self.audit);
        let activity = entry.event.activity.clone();
        let written = tokio::task::spawn_blocking(move || audit.append_audit(&entry))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
            .and_then(|r| r);
        written.map_err(|error| {
            self.metrics.audit_failures.inc();
            tracing::error!(target: "control", %error, %activity, "audit write failed; action refused");
            ApiError::unavailable("the audit trail is unavailable; the action was refused and nothing changed")
        })
    }

    /// Writes `entry` after the fact (session creation, token refresh, failures); a failure is
    /// counted and logged, not returned.
    pub(crate) async fn audit_after(&self, entry: AuditEntry) {
        let audit = Arc::clone(&self.audit);
        let activity = entry.event.activity.clone();
        let written = tokio::task::spawn_blocking(move || audit.append_audit(&entry)).await;
        if !matches!(written, Ok(Ok(_))) {
            self.metrics.audit_failures.inc();
            tracing::error!(target: "control", %activity, "audit write failed after the action");
        }
    }
}

/// Resolves once `shutdown` reads `true` (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
