//! The edge's link to the control plane: readiness (`edge_not_ready` until the first snapshot and
//! after the staleness window), per-session revocation and deny-all checks, the pushed JWKS as
//! the only key source, and closing a revoked session's tunnels, kept-alive connections and idle
//! upstream connections.

use crate::config::ControlConfig;
use crate::edge::Edge;
use control_client::{ControlEvent, ControlState, Endpoint, SyncClient, SyncConfig, TlsSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use trust_core::DenyReason;

/// A running sync with control.
pub(crate) struct ControlLink {
    client: SyncClient,
    staleness: Duration,
}

impl ControlLink {
    /// Starts syncing with the control plane named in `config`.
    pub(crate) fn start(
        config: &ControlConfig,
        policy_hash: &str,
    ) -> Result<ControlLink, control_client::SyncError> {
        let tls = match &config.tls_dir {
            Some(dir) => Some(TlsSettings::from_dir(dir)?),
            None => None,
        };
        let endpoint = Endpoint::parse(&config.url, tls)?;
        let mut sync = SyncConfig::new(config.edge_id.clone(), endpoint);
        sync.policy_hash = policy_hash.to_owned();
        Ok(ControlLink {
            client: SyncClient::start(sync)?,
            staleness: config.staleness_window,
        })
    }

    /// `edge_not_ready` until the first snapshot, and once control has been silent too long.
    pub(crate) fn ready(&self) -> Result<(), DenyReason> {
        if self.client.current().is_fresh(self.staleness) {
            Ok(())
        } else {
            Err(DenyReason::EdgeNotReady)
        }
    }

    /// The refusal control imposes on session `sid` (revoked, deny-all, or not ready).
    pub(crate) fn check_session(&self, sid: &str) -> Result<(), DenyReason> {
        self.client
            .current()
            .deny_reason(sid, self.staleness)
            .map_or(Ok(()), Err)
    }

    /// Tells control which policy set this edge now enforces.
    pub(crate) fn report_policy_hash(&self, hash: &str) {
        self.client.report_policy_hash(hash);
    }

    /// Waits (at most `timeout`) for the first snapshot; `false` if it did not come.
    pub(crate) async fn wait_ready(&self, timeout: Duration) -> bool {
        self.client.wait_ready(timeout).await.is_ok()
    }

    /// The state stream and the event stream, for [`follow`].
    pub(crate) fn streams(
        &self,
    ) -> (
        watch::Receiver<Arc<ControlState>>,
        broadcast::Receiver<ControlEvent>,
    ) {
        (self.client.state(), self.client.subscribe())
    }

    /// Stops the sync.
    pub(crate) async fn stop(self) {
        self.client.stop().await;
    }
}

/// Applies control's pushes to the edge until the streams end: new JWKS into the verifier,
/// revocations and deny-all closing the affected connections at once.
pub(crate) async fn follow(
    edge: Arc<Edge>,
    mut state: watch::Receiver<Arc<ControlState>>,
    mut events: broadcast::Receiver<ControlEvent>,
) {
    let mut applied_jwks = serde_json::Value::Null;
    loop {
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
                let current = state.borrow_and_update().clone();
                if current.ready && current.jwks != applied_jwks {
                    match edge.verifier.replace_keys(&current.jwks) {
                        Ok(keys) => {
                            tracing::info!(keys, sequence = current.sequence, "applied the JWKS pushed by control");
                            applied_jwks = current.jwks.clone();
                        }
                        Err(e) => tracing::error!(error = %e, "control pushed a JWKS the edge cannot use; keeping the previous keys"),
                    }
                }
            }
            event = events.recv() => match event {
                Ok(ControlEvent::Revoked { session_id, .. }) => edge.close_session(&session_id),
                Ok(ControlEvent::DenyAll { on: true }) => edge.close_all_sessions(),
                Ok(ControlEvent::DenyAll { on: false } | ControlEvent::JwksChanged) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "control events lagged; closing from the current state");
                    let current = state.borrow().clone();
                    edge.close_sessions(&current.revoked);
                    if current.deny_all {
                        edge.close_all_sessions();
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
