//! The SDS server's Prometheus metrics: one struct, registered once, passed in.
//!
//! Labels are closed sets (`api`, `source`, `class`, `reason`) or operator-chosen names:
//! `secret` (from the config and manifest) and `node` (the client's node id, capped at
//! [`Metrics::MAX_NODE_LABELS`] distinct values, the rest counted under `_other`). No label or
//! value ever carries secret content.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Every metric the SDS server exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    node_labels: Arc<Mutex<HashSet<String>>>,
    /// Open streams by `api` (`sotw`, `delta`) and `node`.
    pub streams: IntGaugeVec,
    /// Responses sent, by `api` (`sotw`, `delta`, `fetch`).
    pub pushes: IntCounterVec,
    /// Responses acknowledged, by `api`.
    pub acks: IntCounterVec,
    /// Responses rejected by the client (NACK), by `api`.
    pub nacks: IntCounterVec,
    /// Requests ignored because their nonce was not the latest, by `api`.
    pub stale_nonces: IntCounterVec,
    /// Time from a push to its ACK, by `api`.
    pub push_to_ack_seconds: HistogramVec,
    /// Requests refused, by `reason` (`permission_denied`, `unauthenticated`).
    pub denied: IntCounterVec,
    /// TLS handshakes that failed on the TCP listener (no or bad client certificate).
    pub tls_handshake_failures: IntCounter,
    /// Source failures by `source` and `class` (`unreachable`, `invalid`).
    pub source_errors: IntCounterVec,
    /// New versions taken into service, by `source`.
    pub rotations: IntCounterVec,
    /// Versions withdrawn after `max_age` without confirmation, by `source`.
    pub withdrawals: IntCounterVec,
    /// Age of the version being served, by `secret`.
    pub secret_version_age_seconds: GaugeVec,
    /// Time since the source last confirmed the version, by `secret`.
    pub secret_unconfirmed_seconds: GaugeVec,
    /// 1 while a version of `secret` is being served, 0 while pending or withdrawn.
    pub secret_served: IntGaugeVec,
}

impl Metrics {
    /// Distinct `node` label values kept before the rest are counted as `_other`.
    pub const MAX_NODE_LABELS: usize = 256;

    /// Creates and registers every metric.
    ///
    /// # Errors
    /// A metric could not be registered (a name clash: a bug).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let metrics = Metrics {
            node_labels: Arc::new(Mutex::new(HashSet::new())),
            streams: IntGaugeVec::new(
                Opts::new("trust_edge_sds_streams", "Open SDS streams by api and node"),
                &["api", "node"],
            )?,
            pushes: counter("trust_edge_sds_pushes_total", "Responses sent", &["api"])?,
            acks: counter(
                "trust_edge_sds_acks_total",
                "Responses acknowledged",
                &["api"],
            )?,
            nacks: counter(
                "trust_edge_sds_nacks_total",
                "Responses rejected by the client",
                &["api"],
            )?,
            stale_nonces: counter(
                "trust_edge_sds_stale_nonces_total",
                "Requests ignored for a stale nonce",
                &["api"],
            )?,
            push_to_ack_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "trust_edge_sds_push_to_ack_seconds",
                    "Time from push to ACK",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ]),
                &["api"],
            )?,
            denied: counter(
                "trust_edge_sds_denied_total",
                "Requests refused",
                &["reason"],
            )?,
            tls_handshake_failures: IntCounter::new(
                "trust_edge_sds_tls_handshake_failures_total",
                "Failed TLS handshakes on the TCP listener",
            )?,
            source_errors: counter(
                "trust_edge_sds_source_errors_total",
                "Secret source failures",
                &["source", "class"],
            )?,
            rotations: counter(
                "trust_edge_sds_rotations_total",
                "New secret versions served",
                &["source"],
            )?,
            withdrawals: counter(
                "trust_edge_sds_withdrawals_total",
                "Secret versions withdrawn after max_age",
                &["source"],
            )?,
            secret_version_age_seconds: GaugeVec::new(
                Opts::new(
                    "trust_edge_sds_secret_version_age_seconds",
                    "Age of the secret version being served",
                ),
                &["secret"],
            )?,
            secret_unconfirmed_seconds: GaugeVec::new(
                Opts::new(
                    "trust_edge_sds_secret_unconfirmed_seconds",
                    "Time since the source last confirmed the secret",
                ),
                &["secret"],
            )?,
            secret_served: IntGaugeVec::new(
                Opts::new(
                    "trust_edge_sds_secret_served",
                    "1 while the secret is served",
                ),
                &["secret"],
            )?,
            registry,
        };
        let r = &metrics.registry;
        r.register(Box::new(metrics.streams.clone()))?;
        r.register(Box::new(metrics.pushes.clone()))?;
        r.register(Box::new(metrics.acks.clone()))?;
        r.register(Box::new(metrics.nacks.clone()))?;
        r.register(Box::new(metrics.stale_nonces.clone()))?;
        r.register(Box::new(metrics.push_to_ack_seconds.clone()))?;
        r.register(Box::new(metrics.denied.clone()))?;
        r.register(Box::new(metrics.tls_handshake_failures.clone()))?;
        r.register(Box::new(metrics.source_errors.clone()))?;
        r.register(Box::new(metrics.rotations.clone()))?;
        r.register(Box::new(metrics.withdrawals.clone()))?;
        r.register(Box::new(metrics.secret_version_age_seconds.clone()))?;
        r.register(Box::new(metrics.secret_unconfirmed_seconds.clone()))?;
        r.register(Box::new(metrics.secret_served.clone()))?;
        Ok(metrics)
    }

    /// The `node` label for a node id: itself while fewer than [`Self::MAX_NODE_LABELS`]
    /// distinct ids have been seen, else `_other`; `_none` for an empty id.
    pub(crate) fn node_label(&self, node: &str) -> String {
        if node.is_empty() {
            return "_none".to_owned();
        }
        let mut seen = self
            .node_labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.contains(node) {
            return node.to_owned();
        }
        if seen.len() < Self::MAX_NODE_LABELS {
            seen.insert(node.to_owned());
            return node.to_owned();
        }
        "_other".to_owned()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}
