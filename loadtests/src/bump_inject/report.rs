//! The `bump-inject` report: per-target results, ratios, handshake rates, mint cost and the
//! claims of issue 5 checked against them.

use serde::Serialize;

use super::edge_rig::BumpCounters;
use super::pki::MintCost;
use super::tls_load::Handshakes;
use crate::load::LoadSettings;
use crate::report::{Check, Latency, Ratio, TargetReport, measured, pair, per_second, ratio};
use crate::usage::Usage;

/// The edge target the claims are about.
pub const EDGE: &str = "edge-bump-inject";
/// The peers it is compared with.
pub const ENVOY: &str = "envoy-bump";
/// mitmproxy.
pub const MITM: &str = "mitmproxy";
/// Required edge / mitmproxy throughput ratio.
pub const MITM_FACTOR: f64 = 10.0;
/// A cold leaf mint must cost less than this, ms.
pub const MINT_BOUND_MS: f64 = 5.0;

/// The run's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Duration, connections, sessions, body size.
    #[serde(flatten)]
    pub load: LoadSettings,
    /// Measured seconds per handshake phase.
    pub handshake_duration_s: f64,
    /// Concurrent handshake loops.
    pub handshake_connections: usize,
    /// Names the cold phase cycles through.
    pub cold_hosts: usize,
    /// Proxy on core 0, everything else on core 1.
    pub pinned: bool,
    /// `nginx (TLS)` or `in-process (rustls)`.
    pub upstream: String,
}

/// One handshake phase through the edge.
#[derive(Debug, Clone, Serialize)]
pub struct HandshakeReport {
    /// `warm` (one name, cache hit) or `cold` (cache of one, names round-robin).
    pub cache: String,
    /// Completed CONNECT + TLS handshakes.
    pub handshakes: u64,
    /// Failed ones.
    pub failed: u64,
    /// Handshakes per second.
    pub per_second: f64,
    /// TCP connect → TLS handshake done.
    pub latency_us: Latency,
    /// Leaves the edge minted during the phase (its `leaf_mints_total` delta).
    pub leaf_mints: Option<u64>,
    /// Edge CPU per handshake, ms (CPU seconds / handshakes).
    pub edge_cpu_ms_per_handshake: Option<f64>,
    /// The edge's usage.
    pub proxy: Option<Usage>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct BumpReport {
    /// `bump-inject`.
    pub scenario: String,
    /// What was run.
    pub settings: Settings,
    /// One entry per target, in run order.
    pub targets: Vec<TargetReport>,
    /// Throughput and p99 ratios.
    pub ratios: Vec<Ratio>,
    /// Warm and cold handshake phases.
    pub handshakes: Vec<HandshakeReport>,
    /// `trust_ca` mint cost measured in process.
    pub mint: Option<MintCost>,
    /// Edge CPU a cold handshake costs over a warm one, ms: the mint as the edge pays it.
    pub edge_mint_ms: Option<f64>,
    /// The bump edge's counters after its targets.
    pub edge: Option<BumpCounters>,
    /// Requests the in-process upstream saw carrying the key (None with nginx, which answers
    /// 403 without it, so every 200 of a bumping target proves the injection).
    pub upstream_requests_with_key: Option<u64>,
    /// Pass/fail claims.
    pub checks: Vec<Check>,
    /// Remarks.
    pub notes: Vec<String>,
}

/// Inputs of [`build`].
pub(crate) struct Parts {
    pub(crate) settings: Settings,
    pub(crate) targets: Vec<TargetReport>,
    pub(crate) handshakes: Vec<HandshakeReport>,
    pub(crate) mint: Option<MintCost>,
    pub(crate) edge: Option<BumpCounters>,
    pub(crate) upstream_requests_with_key: Option<u64>,
    pub(crate) load_average: Option<f64>,
    pub(crate) notes: Vec<String>,
}

/// Summarises one handshake phase.
pub(crate) fn handshake(
    cache: &str,
    done: &Handshakes,
    window_s: f64,
    leaf_mints: Option<u64>,
    proxy: Option<Usage>,
) -> HandshakeReport {
    let per_second = per_second(done.ok, window_s);
    let edge_cpu_ms_per_handshake = proxy
        .filter(|_| done.ok > 0)
        .map(|u| (u.cpu_seconds * 1000.0 / done.ok as f64 * 1000.0).round() / 1000.0);
    HandshakeReport {
        cache: cache.to_owned(),
        handshakes: done.ok,
        failed: done.failed,
        per_second,
        latency_us: Latency::from_histogram(&done.latency),
        leaf_mints,
        edge_cpu_ms_per_handshake,
        proxy,
    }
}

/// Assembles the report: ratios, the edge's mint cost, checks and notes.
pub(crate) fn build(parts: Parts) -> BumpReport {
    let targets = parts.targets;
    let ratios: Vec<Ratio> = [
        (EDGE, ENVOY),
        (EDGE, MITM),
        (EDGE, "direct-tls"),
        ("edge-pass-through", "direct-tls"),
        (ENVOY, "direct-tls"),
        (MITM, "direct-tls"),
    ]
    .iter()
    .filter_map(|(n, d)| pair(&targets, n, d))
    .collect();
    let cpu = |cache: &str| {
        parts
            .handshakes
            .iter()
            .find(|h| h.cache == cache)
            .and_then(|h| h.edge_cpu_ms_per_handshake)
    };
    let edge_mint_ms = match (cpu("cold"), cpu("warm")) {
        (Some(cold), Some(warm)) => Some(((cold - warm) * 1000.0).round() / 1000.0),
        _ => None,
    };
    let mut checks = Vec::new();
    if let Some(edge) = measured(&targets, EDGE) {
        if let Some(envoy) = measured(&targets, ENVOY) {
            checks.push(Check {
                claim: "edge bump+inject req/s > Envoy bump req/s (same run)".into(),
                passed: edge.requests_per_second > envoy.requests_per_second && edge.errors == 0,
                detail: format!(
                    "{:.0} vs {:.0} req/s; edge errors {}",
                    edge.requests_per_second, envoy.requests_per_second, edge.errors
                ),
            });
        }
        if let Some(mitm) = measured(&targets, MITM) {
            checks.push(Check {
                claim: format!("edge bump+inject req/s >= {MITM_FACTOR}x mitmproxy req/s"),
                passed: edge.requests_per_second >= MITM_FACTOR * mitm.requests_per_second
                    && edge.errors == 0,
                detail: format!(
                    "{:.0} vs {:.0} req/s ({:.1}x)",
                    edge.requests_per_second,
                    mitm.requests_per_second,
                    ratio(edge.requests_per_second, mitm.requests_per_second).unwrap_or(0.0)
                ),
            });
        }
    }
    if let Some(mint) = parts.mint {
        checks.push(Check {
            claim: format!("a cold leaf mint costs < {MINT_BOUND_MS} ms (p99, trust_ca::mint)"),
            passed: mint.p99_ms < MINT_BOUND_MS,
            detail: format!(
                "p50 {} ms, p99 {} ms over {} mints; edge CPU cold - warm handshake {}",
                mint.p50_ms,
                mint.p99_ms,
                mint.samples,
                edge_mint_ms.map_or("n/a".into(), |m| format!("{m} ms"))
            ),
        });
    }
    let mut notes = parts.notes;
    notes.push(
        "the upstream answers 200 only when x-api-key carries the secret: every 200 through \
         edge-bump-inject, envoy-bump and mitmproxy (whose clients send no key) was injected; \
         direct-tls and edge-pass-through clients send the key themselves"
            .into(),
    );
    notes.push(
        "envoy-bump routes every CONNECT to one internal listener with a static leaf and a \
         static upstream cluster (no per-request policy, no name resolution, no scrubbing); \
         mitmproxy gets CONNECT 127.0.0.1:<port> (it resolves names itself) with SNI and Host \
         naming the upstream"
            .into(),
    );
    notes.extend(parts.load_average.map(crate::report::load_average_note));
    BumpReport {
        scenario: "bump-inject".into(),
        settings: parts.settings,
        targets,
        ratios,
        handshakes: parts.handshakes,
        mint: parts.mint,
        edge_mint_ms,
        edge: parts.edge,
        upstream_requests_with_key: parts.upstream_requests_with_key,
        checks,
        notes,
    }
}
