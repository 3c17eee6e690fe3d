//! The edge's Prometheus metrics: one struct, registered once, passed in.
//!
//! Labels come only from closed enums (decision, reason, kind, direction), never from a host,
//! path or session id.

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use trust_core::DenyReason;

/// Every metric the edge exports. Label values are resolved once here, so the request path
/// increments a handle instead of hashing labels.
#[derive(Clone)]
pub struct Metrics {
    allowed: IntCounter,
    denied: Vec<IntCounter>,
    /// Decision time of plain forwards (`kind="forward"`).
    pub decision_forward: Histogram,
    /// Decision time of tunnels (`kind="connect"`).
    pub decision_connect: Histogram,
    /// Bytes from clients to upstreams.
    pub bytes_up: IntCounter,
    /// Bytes from upstreams to clients.
    pub bytes_down: IntCounter,
    registry: Registry,
    /// Currently open tunnels.
    pub active_tunnels: IntGauge,
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
    /// Policy sets swapped in by a reload.
    pub policy_reloads_ok: IntCounter,
    /// Policy sets refused by a reload (the last good set stayed).
    pub policy_reloads_failed: IntCounter,
    /// `1` for the active policy set's hash (an info metric: the one label that is not an enum).
    policy_info: IntGaugeVec,
    /// Bumped-tunnel handshakes by result (`ok`, `failed`, `no_certificate`).
    pub bump_handshakes: IntCounterVec,
    /// Leaves minted from the deployment CA (mirrored from the leaf cache).
    pub leaf_mints: IntCounter,
    /// Leaves served from the cache.
    pub leaf_cache_hits: IntCounter,
    /// Seconds until the deployment CA expires (negative once expired).
    pub ca_expiry_seconds: Gauge,
    /// Credentials attached to upstream requests.
    pub injections: IntCounter,
    /// Injected values removed from responses (headers and trailers dropped, body occurrences
    /// replaced).
    pub redactions: IntCounter,
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
        let reloads = IntCounterVec::new(
            Opts::new(
                "trust_edge_proxy_policy_reloads_total",
                "Policy reloads by result",
            ),
            &["result"],
        )?;
        let policy_info = IntGaugeVec::new(
            Opts::new(
                "trust_edge_proxy_policy_info",
                "The active policy set (hash label)",
            ),
            &["hash"],
        )?;
        let audit_dropped = IntCounter::new(
            "trust_edge_proxy_audit_dropped_total",
            "Audit events dropped (queue full)",
        )?;
        let bump_handshakes = IntCounterVec::new(
            Opts::new(
                "trust_edge_proxy_bump_handshakes_total",
                "TLS handshakes terminated in bumped tunnels, by result",
            ),
            &["result"],
        )?;
        let leaf_mints = IntCounter::new(
            "trust_edge_proxy_leaf_mints_total",
            "Leaf certificates minted from the deployment CA",
        )?;
        let leaf_cache_hits = IntCounter::new(
            "trust_edge_proxy_leaf_cache_hits_total",
            "Leaf certificates served from the cache",
        )?;
        let ca_expiry_seconds = Gauge::new(
            "trust_edge_proxy_ca_expiry_seconds",
            "Seconds until the deployment CA expires",
        )?;
        let injections = IntCounter::new(
            "trust_edge_proxy_injections_total",
            "Credentials attached to upstream requests",
        )?;
        let redactions = IntCounter::new(
            "trust_edge_proxy_redactions_total",
            "Injected values removed from responses",
        )?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(bump_handshakes.clone()),
            Box::new(leaf_mints.clone()),
            Box::new(leaf_cache_hits.clone()),
            Box::new(ca_expiry_seconds.clone()),
            Box::new(injections.clone()),
            Box::new(redactions.clone()),
            Box::new(decision_seconds.clone()),
            Box::new(active_tunnels.clone()),
            Box::new(bytes.clone()),
            Box::new(head_timeouts.clone()),
            Box::new(tripwires.clone()),
            Box::new(token_cache_hits.clone()),
            Box::new(token_cache_misses.clone()),
            Box::new(audit_events.clone()),
            Box::new(audit_dropped.clone()),
            Box::new(reloads.clone()),
            Box::new(policy_info.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(Metrics {
            allowed: requests.get_metric_with_label_values(&["allow", "none"])?,
            denied: DenyReason::ALL
                .iter()
                .map(|r| requests.get_metric_with_label_values(&["deny", r.code()]))
                .collect::<Result<_, _>>()?,
            decision_forward: decision_seconds.get_metric_with_label_values(&["forward"])?,
            decision_connect: decision_seconds.get_metric_with_label_values(&["connect"])?,
            bytes_up: bytes.get_metric_with_label_values(&["up"])?,
            bytes_down: bytes.get_metric_with_label_values(&["down"])?,
            registry,
            active_tunnels,
            head_timeouts,
            tripwires,
            token_cache_hits,
            token_cache_misses,
            audit_events,
            audit_dropped,
            policy_reloads_ok: reloads.get_metric_with_label_values(&["ok"])?,
            policy_reloads_failed: reloads.get_metric_with_label_values(&["error"])?,
            policy_info,
            bump_handshakes,
            leaf_mints,
            leaf_cache_hits,
            ca_expiry_seconds,
            injections,
            redactions,
        })
    }

    /// Marks `hash` as the active policy set.
    pub fn set_policy(&self, hash: &str) {
        self.policy_info.reset();
        self.policy_info.with_label_values(&[hash]).set(1);
    }

    /// Counts one decision: allowed, or denied for `reason`.
    pub fn count_decision(&self, reason: Option<DenyReason>) {
        match reason {
            None => self.allowed.inc(),
            Some(r) => {
                let at = DenyReason::ALL.iter().position(|x| *x == r);
                if let Some(counter) = at.and_then(|i| self.denied.get(i)) {
                    counter.inc();
                }
            }
        }
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
