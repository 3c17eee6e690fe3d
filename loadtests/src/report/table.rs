//! The report as a readable plain-text table, and the lines every scenario's table shares
//! (skipped targets, proxy usage, ratios, checks and notes).

use std::fmt::Write;

use super::{Check, Ratio, Report, TargetReport};
use crate::usage::Usage;

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
        let Some(m) = measured_or_skipped(&mut out, target, 10) else {
            continue;
        };
        let (cpu, rss) = usage_cells(m.proxy);
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
    write_ratios(&mut out, &report.ratios);
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
    if report.settings.rate.is_some() {
        write_slow(&mut out, &report.targets);
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
    write_checks_and_notes(&mut out, &report.checks, &report.notes);
    out
}

/// The target's measurement; for a target that did not run, writes its `skipped:` line (name
/// padded to `width`) and returns `None`.
pub(crate) fn measured_or_skipped<'a>(
    out: &mut String,
    target: &'a TargetReport,
    width: usize,
) -> Option<&'a super::Measured> {
    let measured = target.measured.as_ref();
    if measured.is_none() {
        let why = target.skipped.as_deref().unwrap_or("not run");
        let _ = writeln!(out, "{:<width$} skipped: {why}", target.target);
    }
    measured
}

/// The CPU % and RSS MiB cells of a proxy's usage (`-` for none).
pub(crate) fn usage_cells(usage: Option<Usage>) -> (String, String) {
    usage.map_or(("-".to_owned(), "-".to_owned()), |u| {
        (
            format!("{:.0}", u.cpu_percent_of_core),
            format!("{:.1}", u.rss_peak_mib),
        )
    })
}

/// The `req/s ratios:` line (nothing when there are none).
pub(crate) fn write_ratios(out: &mut String, ratios: &[Ratio]) {
    if ratios.is_empty() {
        return;
    }
    let parts: Vec<String> = ratios
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

/// One `PASS:`/`FAIL:` line per check, then one `note:` line per note.
pub(crate) fn write_checks_and_notes(out: &mut String, checks: &[Check], notes: &[String]) {
    for check in checks {
        let verdict = if check.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "{verdict}: {} ({})", check.claim, check.detail);
    }
    for note in notes {
        let _ = writeln!(out, "note: {note}");
    }
}

/// At a fixed rate: how many responses missed the latency bar, in how many episodes.
fn write_slow(out: &mut String, targets: &[TargetReport]) {
    let parts: Vec<String> = targets
        .iter()
        .filter_map(|t| t.measured.as_ref().map(|m| (&t.target, m.slow)))
        .map(|(name, s)| {
            format!(
                "{name} {} in {} (largest {})",
                s.requests, s.episodes, s.largest_episode
            )
        })
        .collect();
    if let Some(bar) = targets.iter().find_map(|t| t.measured.as_ref()) {
        let _ = writeln!(
            out,
            "responses over {} µs, in episodes (< {} ms apart): {}",
            bar.slow.over_us,
            super::slow::EPISODE_GAP.as_millis(),
            parts.join(", ")
        );
    }
}
