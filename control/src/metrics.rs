//! [`Metrics`]: control's Prometheus metrics, registered once and passed in. Labels come only
//! from enums (refusal codes, change kinds).

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Every metric control exports at `/metrics`.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// API answers by outcome (`ok` or a refusal code).
    pub(crate) api_requests: IntCounterVec,
    /// Sessions created.
    pub(crate) sessions_created: IntCounter,
    /// Tokens minted (creations and refreshes).
    pub(crate) tokens_issued: IntCounter,
    /// Changes pushed, by kind (`revocation`, `deny_all`, `jwks`).
    pub(crate) changes: IntCounterVec,
    /// The last change's sequence.
    pub(crate) sequence: IntGauge,
    /// The oldest change kept for resuming edges (an edge behind it gets a snapshot).
    pub(crate) oldest_change: IntGauge,
    /// Open sync streams.
    pub(crate) sync_streams: IntGauge,
    /// Sync streams started, by how (`snapshot` or `resume`).
    pub(crate) sync_starts: IntCounterVec,
    /// Sync connections refused during the TLS handshake (bad or missing client certificate).
    pub(crate) sync_handshake_failures: IntCounter,
    /// Audit writes that failed (each refused a privileged action or lost a record).
    pub(crate) audit_failures: IntCounter,
    /// 1 while deny-all is on.
    pub(crate) deny_all: IntGauge,
    /// Maintenance passes completed.
    pub(crate) maintenance_runs: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    ///
    /// # Errors
    /// [`prometheus::Error`] if a metric is defined twice (a bug).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let api_requests = IntCounterVec::new(
            Opts::new(
                "trust_edge_control_api_requests_total",
                "API answers by outcome",
            ),
            &["outcome"],
        )?;
        let sessions_created = IntCounter::new(
            "trust_edge_control_sessions_created_total",
            "Sessions created",
        )?;
        let tokens_issued = IntCounter::new(
            "trust_edge_control_tokens_issued_total",
            "Egress tokens minted (creations and refreshes)",
        )?;
        let changes = IntCounterVec::new(
            Opts::new(
                "trust_edge_control_changes_total",
                "Changes pushed to edges, by kind",
            ),
            &["kind"],
        )?;
        let sequence = IntGauge::new("trust_edge_control_sequence", "The last change's sequence")?;
        let oldest_change = IntGauge::new(
            "trust_edge_control_oldest_change_sequence",
            "The oldest change kept for resuming edges, after the last pruning",
        )?;
        let sync_streams = IntGauge::new("trust_edge_control_sync_streams", "Open sync streams")?;
        let sync_starts = IntCounterVec::new(
            Opts::new(
                "trust_edge_control_sync_starts_total",
                "Sync streams started, by how (snapshot or resume)",
            ),
            &["kind"],
        )?;
        let sync_handshake_failures = IntCounter::new(
            "trust_edge_control_sync_handshake_failures_total",
            "Sync connections refused during the TLS handshake",
        )?;
        let audit_failures = IntCounter::new(
            "trust_edge_control_audit_write_failures_total",
            "Audit writes that failed",
        )?;
        let deny_all = IntGauge::new("trust_edge_control_deny_all", "1 while deny-all is on")?;
        let maintenance_runs = IntCounter::new(
            "trust_edge_control_maintenance_runs_total",
            "Maintenance passes completed (rotation, key expiry, change-log pruning)",
        )?;
        registry.register(Box::new(api_requests.clone()))?;
        registry.register(Box::new(sessions_created.clone()))?;
        registry.register(Box::new(tokens_issued.clone()))?;
        registry.register(Box::new(changes.clone()))?;
        registry.register(Box::new(sequence.clone()))?;
        registry.register(Box::new(oldest_change.clone()))?;
        registry.register(Box::new(sync_streams.clone()))?;
        registry.register(Box::new(sync_starts.clone()))?;
        registry.register(Box::new(sync_handshake_failures.clone()))?;
        registry.register(Box::new(audit_failures.clone()))?;
        registry.register(Box::new(deny_all.clone()))?;
        registry.register(Box::new(maintenance_runs.clone()))?;
        Ok(Metrics {
            registry,
            api_requests,
            sessions_created,
            tokens_issued,
            changes,
            sequence,
            oldest_change,
            sync_streams,
            sync_starts,
            sync_handshake_failures,
            audit_failures,
            deny_all,
            maintenance_runs,
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(target: "control", error = %e, "encoding metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
