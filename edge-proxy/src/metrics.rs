//! The edge's Prometheus metrics: one struct, registered once, passed in.
//!
//! Labels come only from closed enums (decision, reason, kind, direction), never from a host,
//! path or session id.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the edge exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Decisions by `decision` (allow/deny) and `reason` (a deny code, or `none`).
    pub requests: IntCounterVec,
    /// Time from head parsed to decision, by `kind` (forward/connect).
    pub decision_seconds: HistogramVec,
    /// Currently open tunnels.
    pub active_tunnels: IntGauge,
    /// Bytes relayed by `direction` (up/down).
    pub bytes: IntCounterVec,
    /// Connections cut off for not finishing a request head in time.
    pub head_timeouts: IntCounter,
    /// Tripwire crossings.
    pub tripwires: IntCounter,
    /// Token verifications answered from the cache.
    pub token_cache_hits: IntCounter,
    /// Token verifications that needed a signature check.
    pub token_cache_misses: IntCounter,
    /// Audit events written.
    pub audit_events: IntCounter,
    /// Audit events dropped because the queue was full.
    pub audit_dropped: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    ///
    /// # Errors
    /// A metric could not be registered (a name clash: a bug).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "trust_edge_proxy_requests_total",
                "Decisions by outcome and deny reason",
            ),
            &["decision", "reason"],
        )?;
        let decision_seconds = HistogramVec::new(
            HistogramOpts::new(
                "trust_edge_proxy_decision_seconds",
                "Time to decide a request",
            )
            .buckets(vec![
                0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1.0,
            ]),
            &["kind"],
        )?;
        let active_tunnels =
            IntGauge::new("trust_edge_proxy_active_tunnels", "Open CONNECT tunnels")?;
        let bytes = IntCounterVec::new(
            Opts::new("trust_edge_proxy_bytes_total", "Bytes relayed"),
            &["direction"],
        )?;
        let head_timeouts = IntCounter::new(
            "trust_edge_proxy_head_timeouts_total",
            "Slow request heads cut off",
        )?;
        let tripwires = IntCounter::new("trust_edge_proxy_tripwire_total", "Tripwire crossings")?;
        let token_cache_hits = IntCounter::new(
            "trust_edge_proxy_token_cache_hits_total",
            "Token verifications served from cache",
        )?;
        let token_cache_misses = IntCounter::new(
            "trust_edge_proxy_token_cache_misses_total",
            "Token verifications that checked a signature",
        )?;
        let audit_events = IntCounter::new(
            "trust_edge_proxy_audit_events_total",
            "Audit events written",
        )?;
        let audit_dropped = IntCounter::new(
            "trust_edge_proxy_audit_dropped_total",
            "Audit events dropped (queue full)",
        )?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(decision_seconds.clone()),
            Box::new(active_tunnels.clone()),
            Box::new(bytes.clone()),
            Box::new(head_timeouts.clone()),
            Box::new(tripwires.clone()),
            Box::new(token_cache_hits.clone()),
            Box::new(token_cache_misses.clone()),
            Box::new(audit_events.clone()),
            Box::new(audit_dropped.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(Metrics {
            registry,
            requests,
            decision_seconds,
            active_tunnels,
            bytes,
            head_timeouts,
            tripwires,
            token_cache_hits,
            token_cache_misses,
            audit_events,
            audit_dropped,
        })
    }

    /// Brings a counter mirrored from elsewhere (an atomic) up to `total`.
    pub(crate) fn catch_up(counter: &IntCounter, total: u64) {
        let seen = counter.get();
        if total > seen {
            counter.inc_by(total - seen);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
