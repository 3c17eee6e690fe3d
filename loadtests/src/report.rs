//! The report: per-target results, ratios between targets, latency added over the direct path,
//! the benchmark checks, and a readable table.

pub mod slow;
pub(crate) mod table;
#[cfg(test)]
mod tests;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::{Errors, Outcome};
use crate::edge::EdgeExtras;
use crate::load::LoadSettings;
use crate::usage::Usage;

pub use slow::Slow;
pub use table::render_table;

/// The name of the direct (no proxy) target.
pub const DIRECT: &str = "direct";
/// The name of the trust-edge target.
pub const EDGE: &str = "edge";
/// The peer the edge's throughput claim is measured against.
pub const THROUGHPUT_PEER: &str = "envoy";
/// The edge's p99 added-latency bound at a fixed offered rate, in µs.
pub const ADDED_P99_BOUND_US: f64 = 1000.0;

/// A whole scenario run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name (`http-forward`).
    pub scenario: String,
    /// What was run.
    pub settings: Settings,
    /// One entry per requested target, in run order.
    pub targets: Vec<TargetReport>,
    /// Throughput and p99 ratios between targets.
    pub ratios: Vec<Ratio>,
    /// Latency each proxy adds over the direct path.
    pub added_latency: Vec<AddedLatency>,
    /// The benchmark's pass/fail checks that this run can decide.
    pub checks: Vec<Check>,
    /// Remarks (e.g. that peers do not resolve names).
    pub notes: Vec<String>,
}

/// The run's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Duration, connections, sessions, body size.
    #[serde(flatten)]
    pub load: LoadSettings,
    /// Offered rate (open loop), or `None` for closed loop.
    pub rate: Option<f64>,
    /// Proxy on core 0, load generator and upstream on core 1.
    pub pinned: bool,
    /// `nginx` or `in-process`.
    pub upstream: String,
}

/// One target's result, or why it did not run.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// `direct`, `edge`, `envoy`, `squid`, `tinyproxy`, `nginx-proxy`.
    pub target: String,
    /// Why the target was skipped (binary missing, failed to start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
}

/// What a target did in the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Responses with status 200.
    pub requests: u64,
    /// Failed exchanges (any kind).
    pub errors: u64,
    /// Failed exchanges by kind.
    pub error_detail: Errors,
    /// `requests` per second of the window.
    pub requests_per_second: f64,
    /// Latency of the 200 responses.
    pub latency_us: Latency,
    /// The 200 responses over the latency bar, and the episodes they came in.
    pub slow: Slow,
    /// Connections re-opened because the target closed keep-alive.
    pub reconnects: u64,
    /// Whether the request cap ended the run early.
    pub capped: bool,
    /// CPU and memory of the proxy process tree (none for `direct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Usage>,
    /// The edge's own counters (edge only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeExtras>,
}

impl Measured {
    /// What `outcome` shows over a measured window of `window_s` seconds, with the proxy's
    /// `usage` (no edge counters yet).
    pub fn from_outcome(outcome: &Outcome, window_s: f64, usage: Option<Usage>) -> Self {
        Self {
            requests: outcome.ok,
            errors: outcome.errors.total(),
            error_detail: outcome.errors.clone(),
            requests_per_second: per_second(outcome.ok, window_s),
            latency_us: Latency::from_histogram(&outcome.latency),
            slow: Slow::from_times(&outcome.slow_at),
            reconnects: outcome.reconnects,
            capped: outcome.capped,
            proxy: usage,
            edge: None,
        }
    }
}

/// `count` per second of a `window_s`-second window, rounded (0 for an empty window).
pub fn per_second(count: u64, window_s: f64) -> f64 {
    if window_s > 0.0 {
        (count as f64 / window_s).round()
    } else {
        0.0
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Summarises a histogram of nanoseconds (all zero when empty).
    pub fn from_histogram(nanos: &Histogram<u64>) -> Self {
        let us = |ns: f64| (ns / 100.0).round() / 10.0;
        if nanos.is_empty() {
            return Self {
                p50: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        Self {
            p50: us(nanos.value_at_quantile(0.50) as f64),
            p99: us(nanos.value_at_quantile(0.99) as f64),
            p999: us(nanos.value_at_quantile(0.999) as f64),
            max: us(nanos.max() as f64),
            mean: us(nanos.mean()),
        }
    }
}

/// `numerator / denominator` for throughput and p99 latency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ratio {
    /// E.g. `edge/envoy`.
    pub pair: String,
    /// Requests/s of the numerator over the denominator's.
    pub requests_per_second: Option<f64>,
    /// p99 of the numerator over the denominator's.
    pub p99_latency: Option<f64>,
}

/// Latency a target adds over `direct` (its percentile minus direct's), in µs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddedLatency {
    /// The proxy target.
    pub target: String,
    /// p50 added.
    pub p50_us: f64,
    /// p99 added.
    pub p99_us: f64,
    /// p99.9 added.
    pub p999_us: f64,
}

/// One benchmark claim this run decides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What is claimed.
    pub claim: String,
    /// Whether this run supports it.
    pub passed: bool,
    /// The numbers behind it.
    pub detail: String,
}

/// The note stating the host's 1-minute load average before a run.
pub fn load_average_note(average: f64) -> String {
    format!(
        "host 1-minute load average before the run: {average:.2} (other busy processes share \
         the cores and make every number noisy)"
    )
}

/// `numerator / denominator`, or `None` when the denominator is not a positive number.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0 && denominator.is_finite() && numerator.is_finite())
        .then(|| (numerator / denominator * 1000.0).round() / 1000.0)
}

/// What target `name` measured, if it ran.
pub(crate) fn measured<'a>(targets: &'a [TargetReport], name: &str) -> Option<&'a Measured> {
    targets
        .iter()
        .find(|t| t.target == name)
        .and_then(|t| t.measured.as_ref())
}

/// Target `num` over target `den`, when both ran.
pub(crate) fn pair(targets: &[TargetReport], num: &str, den: &str) -> Option<Ratio> {
    let (n, d) = (measured(targets, num)?, measured(targets, den)?);
    Some(Ratio {
        pair: format!("{num}/{den}"),
        requests_per_second: ratio(n.requests_per_second, d.requests_per_second),
        p99_latency: ratio(n.latency_us.p99, d.latency_us.p99),
    })
}

/// Every proxy over `direct`, then the edge over every peer (only targets that ran).
pub fn ratios(targets: &[TargetReport]) -> Vec<Ratio> {
    let proxies = targets.iter().filter(|t| t.target != DIRECT);
    let mut out: Vec<Ratio> = proxies
        .clone()
        .filter_map(|t| pair(targets, &t.target, DIRECT))
        .collect();
    if targets.iter().any(|t| t.target == EDGE) {
        out.extend(
            proxies
                .filter(|t| t.target != EDGE)
                .filter_map(|peer| pair(targets, EDGE, &peer.target)),
        );
    }
    out
}

/// Each proxy's percentiles minus `direct`'s.
pub fn added_latency(targets: &[TargetReport]) -> Vec<AddedLatency> {
    let Some(direct) = measured(targets, DIRECT) else {
        return Vec::new();
    };
    let round = |v: f64| (v * 10.0).round() / 10.0;
    targets
        .iter()
        .filter(|t| t.target != DIRECT)
        .filter_map(|t| {
            let m = t.measured.as_ref()?;
            Some(AddedLatency {
                target: t.target.clone(),
                p50_us: round(m.latency_us.p50 - direct.latency_us.p50),
                p99_us: round(m.latency_us.p99 - direct.latency_us.p99),
                p999_us: round(m.latency_us.p999 - direct.latency_us.p999),
            })
        })
        .collect()
}

/// The benchmark claims this run can decide: edge throughput above Envoy's (closed loop),
/// p99 added latency under 1 ms (open loop), every request audited and nothing dropped.
pub fn checks(settings: &Settings, targets: &[TargetReport], added: &[AddedLatency]) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(edge) = measured(targets, EDGE) else {
        return out;
    };
    if settings.rate.is_none()
        && let Some(peer) = measured(targets, THROUGHPUT_PEER)
    {
        out.push(Check {
            claim: format!("edge req/s > {THROUGHPUT_PEER} req/s (plain forwarding)"),
            passed: edge.requests_per_second > peer.requests_per_second && edge.errors == 0,
            detail: format!(
                "{:.0} vs {:.0} req/s; edge errors {}",
                edge.requests_per_second, peer.requests_per_second, edge.errors
            ),
        });
    }
    if let Some(rate) = settings.rate
        && let Some(edge_added) = added.iter().find(|a| a.target == EDGE)
    {
        out.push(Check {
            claim: format!("edge p99 added latency < {ADDED_P99_BOUND_US} µs at {rate:.0} req/s"),
            passed: edge_added.p99_us < ADDED_P99_BOUND_US && edge.errors == 0,
            detail: format!("+{:.1} µs; edge errors {}", edge_added.p99_us, edge.errors),
        });
    }
    if let Some(extras) = &edge.edge {
        out.push(Check {
            claim: "edge audit lines = requests served, none dropped".into(),
            passed: extras.audit_lines == Some(extras.responses_served)
                && extras.audit_dropped == Some(0),
            detail: format!(
                "audit lines {}, responses {}, dropped {}",
                extras.audit_lines.map_or("?".into(), |n| n.to_string()),
                extras.responses_served,
                extras.audit_dropped.map_or("?".into(), |n| n.to_string())
            ),
        });
    }
    out
}
