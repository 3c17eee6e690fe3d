//! The `bump-inject` report as a plain-text table.

use std::fmt::Write;

use super::report::BumpReport;
use crate::report::table::{
    measured_or_skipped, usage_cells, write_checks_and_notes, write_ratios,
};

/// Renders `report` for a terminal: settings, one row per target, ratios, handshake phases,
/// mint cost, edge counters, checks and notes.
pub fn render_table(report: &BumpReport) -> String {
    let mut out = String::new();
    let s = &report.settings;
    let _ = writeln!(
        out,
        "bump-inject: {} keep-alive TLS connections, {} sessions, {}-byte body, {}s measured \
         after {}s warm-up, upstream {}{}",
        s.load.connections,
        s.load.sessions,
        s.load.body_bytes,
        s.load.duration_s,
        s.load.warmup_s,
        s.upstream,
        if s.pinned {
            ", proxy pinned to core 0, load + upstream on core 1"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<18} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8}",
        "target", "requests", "errors", "req/s", "p50 µs", "p99 µs", "p99.9 µs", "CPU %", "RSS MiB"
    );
    for target in &report.targets {
        let Some(m) = measured_or_skipped(&mut out, target, 18) else {
            continue;
        };
        let (cpu, rss) = usage_cells(m.proxy);
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>7} {:>9.0} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>8}",
            target.target,
            m.requests,
            m.errors,
            m.requests_per_second,
            m.latency_us.p50,
            m.latency_us.p99,
            m.latency_us.p999,
            cpu,
            rss
        );
    }
    write_ratios(&mut out, &report.ratios);
    for h in &report.handshakes {
        let mints = h.leaf_mints.map_or("?".into(), |m| m.to_string());
        let cpu = h
            .edge_cpu_ms_per_handshake
            .map_or("?".into(), |c| format!("{c:.3}"));
        let _ = writeln!(
            out,
            "handshakes ({} leaf cache): {} ok, {} failed, {:.0}/s, p50 {:.1} µs, p99 {:.1} µs, \
             edge CPU {cpu} ms each, leaf mints {mints}",
            h.cache, h.handshakes, h.failed, h.per_second, h.latency_us.p50, h.latency_us.p99
        );
    }
    if let Some(m) = &report.mint {
        let _ = writeln!(
            out,
            "cold leaf mint (trust_ca::mint, in process): p50 {} ms, p99 {} ms, max {} ms over {}",
            m.p50_ms, m.p99_ms, m.max_ms, m.samples
        );
    }
    if let Some(ms) = report.edge_mint_ms {
        let _ = writeln!(out, "edge CPU, cold minus warm handshake: {ms} ms");
    }
    if let Some(e) = &report.edge {
        let n = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
        let _ = writeln!(
            out,
            "edge: injections {}, bump handshakes {}, leaf mints {}, leaf cache hits {}, audit \
             dropped {}",
            n(e.injections),
            n(e.bump_handshakes),
            n(e.leaf_mints),
            n(e.leaf_cache_hits),
            n(e.audit_dropped)
        );
    }
    if let Some(n) = report.upstream_requests_with_key {
        let _ = writeln!(out, "upstream requests carrying the key: {n}");
    }
    write_checks_and_notes(&mut out, &report.checks, &report.notes);
    out
}
