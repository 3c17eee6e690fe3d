//! The report as a readable plain-text table.

use std::fmt::Write;

use super::Report;

/// Renders `report` for a terminal: settings, one row per target, ratios, added latency,
/// the edge's counters, checks and notes.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.settings;
    let mode = s.rate.map_or("closed loop".to_owned(), |r| {
        format!("open loop at {r:.0} req/s")
    });
    let _ = writeln!(
        out,
        "{}: {} connections, {} sessions, {}-byte body, {}s measured after {}s warm-up, {mode}, \
         upstream {}{}",
        report.scenario,
        s.connections,
        s.sessions,
        s.body_bytes,
        s.duration_s,
        s.warmup_s,
        s.upstream,
        if s.pinned {
            ", proxy pinned to core 0, load + upstream on core 1"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<10} {:>10} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "target",
        "requests",
        "errors",
        "req/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        "CPU %",
        "RSS MiB"
    );
    for target in &report.targets {
        let Some(m) = &target.measured else {
            let why = target.skipped.as_deref().unwrap_or("not run");
            let _ = writeln!(out, "{:<10} skipped: {why}", target.target);
            continue;
        };
        let (cpu, rss) = m.proxy.map_or(("-".to_owned(), "-".to_owned()), |u| {
            (
                format!("{:.0}", u.cpu_percent_of_core),
                format!("{:.1}", u.rss_peak_mib),
            )
        });
        let _ = writeln!(
            out,
            "{:<10} {:>10} {:>7} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>8}",
            target.target,
            m.requests,
            m.errors,
            m.requests_per_second,
            m.latency_us.p50,
            m.latency_us.p99,
            m.latency_us.p999,
            m.latency_us.max,
            cpu,
            rss
        );
    }
    if !report.ratios.is_empty() {
        let parts: Vec<String> = report
            .ratios
            .iter()
            .map(|r| {
                let v = r
                    .requests_per_second
                    .map_or("-".into(), |v| format!("{v:.2}"));
                format!("{} {v}", r.pair)
            })
            .collect();
        let _ = writeln!(out, "req/s ratios: {}", parts.join(", "));
    }
    if !report.added_latency.is_empty() {
        let parts: Vec<String> = report
            .added_latency
            .iter()
            .map(|a| format!("{} +{:.1}/+{:.1}", a.target, a.p50_us, a.p99_us))
            .collect();
        let _ = writeln!(
            out,
            "added latency vs direct (p50/p99 µs): {}",
            parts.join(", ")
        );
    }
    for target in &report.targets {
        if let Some(e) = target.measured.as_ref().and_then(|m| m.edge.as_ref()) {
            let n = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
            let _ = writeln!(
                out,
                "edge: token cache hits {} misses {}; audit events {} dropped {}; audit lines {} \
                 for {} responses served",
                n(e.token_cache_hits),
                n(e.token_cache_misses),
                n(e.audit_events),
                n(e.audit_dropped),
                n(e.audit_lines),
                e.responses_served
            );
        }
    }
    for check in &report.checks {
        let verdict = if check.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "{verdict}: {} ({})", check.claim, check.detail);
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
