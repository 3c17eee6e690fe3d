use super::*;

fn latency(p50: f64, p99: f64) -> Latency {
    Latency {
        p50,
        p99,
        p999: p99 * 2.0,
        max: p99 * 4.0,
        mean: p50,
    }
}

fn ran(target: &str, rps: f64, p50: f64, p99: f64) -> TargetReport {
    TargetReport {
        target: target.into(),
        skipped: None,
        measured: Some(Measured {
            requests: (rps * 10.0) as u64,
            errors: 0,
            error_detail: Errors::default(),
            requests_per_second: rps,
            latency_us: latency(p50, p99),
            slow: Slow::from_times(&[]),
            reconnects: 0,
            capped: false,
            proxy: None,
            edge: None,
        }),
    }
}

fn skipped(target: &str) -> TargetReport {
    TargetReport {
        target: target.into(),
        skipped: Some("binary not found".into()),
        measured: None,
    }
}

fn settings(rate: Option<f64>) -> Settings {
    Settings {
        load: LoadSettings {
            duration_s: 10.0,
            warmup_s: 2.0,
            connections: 64,
            sessions: 16,
            body_bytes: 100,
        },
        rate,
        pinned: true,
        upstream: "nginx".into(),
    }
}

fn targets() -> Vec<TargetReport> {
    vec![
        ran("edge", 30000.0, 500.0, 900.0),
        ran("direct", 120000.0, 100.0, 300.0),
        ran("envoy", 24000.0, 600.0, 1200.0),
        skipped("squid"),
    ]
}

#[test]
fn ratio_rounds_to_three_places_and_refuses_zero_denominators() {
    assert_eq!(ratio(30000.0, 24000.0), Some(1.25));
    assert_eq!(ratio(1.0, 3.0), Some(0.333));
    assert_eq!(ratio(2.0, 3.0), Some(0.667));
    assert_eq!(ratio(1.0, 0.0), None);
    assert_eq!(ratio(1.0, -1.0), None);
    assert_eq!(ratio(f64::NAN, 1.0), None);
}

#[test]
fn ratios_are_proxies_over_direct_then_edge_over_each_peer_that_ran() {
    let pairs: Vec<(String, Option<f64>, Option<f64>)> = ratios(&targets())
        .into_iter()
        .map(|r| (r.pair, r.requests_per_second, r.p99_latency))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("edge/direct".into(), Some(0.25), Some(3.0)),
            ("envoy/direct".into(), Some(0.2), Some(4.0)),
            ("edge/envoy".into(), Some(1.25), Some(0.75)),
        ]
    );
}

#[test]
fn without_direct_only_edge_over_peers_remain() {
    let t = vec![ran("edge", 100.0, 1.0, 2.0), ran("squid", 50.0, 1.0, 4.0)];
    let r = ratios(&t);
    assert_eq!(r.len(), 1);
    assert_eq!(r.first().map(|r| r.pair.as_str()), Some("edge/squid"));
    assert_eq!(r.first().and_then(|r| r.requests_per_second), Some(2.0));
    assert!(added_latency(&t).is_empty());
}

#[test]
fn added_latency_subtracts_direct_percentiles() {
    assert_eq!(
        added_latency(&targets()),
        vec![
            AddedLatency {
                target: "edge".into(),
                p50_us: 400.0,
                p99_us: 600.0,
                p999_us: 1200.0
            },
            AddedLatency {
                target: "envoy".into(),
                p50_us: 500.0,
                p99_us: 900.0,
                p999_us: 1800.0
            },
        ]
    );
}

#[test]
fn closed_loop_checks_edge_throughput_against_envoy() {
    let t = targets();
    let found = checks(&settings(None), &t, &added_latency(&t));
    assert_eq!(found.len(), 1);
    let check = found.first().unwrap();
    assert!(check.passed);
    assert_eq!(check.detail, "30000 vs 24000 req/s; edge errors 0");
    let slower = vec![
        ran("edge", 20000.0, 1.0, 2.0),
        ran("envoy", 24000.0, 1.0, 2.0),
    ];
    assert!(
        !checks(&settings(None), &slower, &[])
            .first()
            .unwrap()
            .passed
    );
}

#[test]
fn open_loop_checks_added_p99_and_audit_accounting() {
    let mut t = targets();
    if let Some(m) = t.first_mut().and_then(|e| e.measured.as_mut()) {
        m.edge = Some(EdgeExtras {
            token_cache_hits: Some(299_984),
            token_cache_misses: Some(16),
            audit_events: Some(300_000),
            audit_dropped: Some(0),
            audit_lines: Some(300_000),
            responses_served: 300_000,
        });
    }
    let added = added_latency(&t);
    let found = checks(&settings(Some(10000.0)), &t, &added);
    let verdicts: Vec<(bool, &str)> = found
        .iter()
        .map(|c| (c.passed, c.detail.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (true, "+600.0 µs; edge errors 0"),
            (true, "audit lines 300000, responses 300000, dropped 0"),
        ]
    );
    if let Some(m) = t.first_mut().and_then(|e| e.measured.as_mut()) {
        m.latency_us.p99 = 1400.0;
        if let Some(e) = m.edge.as_mut() {
            e.audit_lines = Some(299_999);
        }
    }
    let added = added_latency(&t);
    let failed: Vec<bool> = checks(&settings(Some(10000.0)), &t, &added)
        .iter()
        .map(|c| c.passed)
        .collect();
    assert_eq!(failed, vec![false, false]);
}

#[test]
fn latency_summary_reads_nanosecond_histograms_in_microseconds() {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    for us in 1..=1000u64 {
        h.record(us * 1000).unwrap();
    }
    let l = Latency::from_histogram(&h);
    // Three significant figures: each value within 0.1% of the exact one.
    let close = |got: f64, want: f64| (got - want).abs() <= want / 1000.0;
    assert!(close(l.p50, 500.0), "{l:?}");
    assert!(close(l.p99, 990.0), "{l:?}");
    assert!(close(l.p999, 999.0), "{l:?}");
    assert!(close(l.max, 1000.0), "{l:?}");
    assert!(close(l.mean, 500.5), "{l:?}");
    let empty = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    assert_eq!(Latency::from_histogram(&empty).p99, 0.0);
}

#[test]
fn the_table_shows_rows_skips_ratios_and_checks() {
    let t = targets();
    let added = added_latency(&t);
    let report = Report {
        scenario: "http-forward".into(),
        settings: settings(None),
        checks: checks(&settings(None), &t, &added),
        ratios: ratios(&t),
        added_latency: added,
        targets: t,
        notes: vec!["a note".into()],
    };
    let table = render_table(&report);
    assert!(table.starts_with("http-forward: 64 connections, 16 sessions, 100-byte body"));
    assert!(
        table.contains("\nedge           300000       0      30000     500.0     900.0"),
        "{table}"
    );
    assert!(
        table.contains("\nsquid      skipped: binary not found\n"),
        "{table}"
    );
    assert!(table.contains("req/s ratios: edge/direct 0.25, envoy/direct 0.20, edge/envoy 1.25\n"));
    assert!(table.contains(
        "added latency vs direct (p50/p99 µs): edge +400.0/+600.0, envoy +500.0/+900.0\n"
    ));
    assert!(table.contains("PASS: edge req/s > envoy req/s (plain forwarding)"));
    assert!(table.ends_with("note: a note\n"));
    assert!(
        !table.contains("responses over"),
        "closed loop: no slow line"
    );
}

#[test]
fn at_a_fixed_rate_the_table_counts_slow_responses_and_their_episodes() {
    let mut t = targets();
    if let Some(m) = t
        .iter_mut()
        .find(|t| t.target == "edge")
        .and_then(|t| t.measured.as_mut())
    {
        let at = [0, 1, 2, 40].map(std::time::Duration::from_millis);
        m.slow = Slow::from_times(&at);
    }
    let added = added_latency(&t);
    let report = Report {
        scenario: "http-forward".into(),
        settings: settings(Some(10_000.0)),
        checks: checks(&settings(Some(10_000.0)), &t, &added),
        ratios: ratios(&t),
        added_latency: added,
        targets: t,
        notes: Vec::new(),
    };
    let table = render_table(&report);
    assert!(
        table.contains(
            "responses over 1000 µs, in episodes (< 5 ms apart): edge 4 in 2 (largest 3), \
             direct 0 in 0 (largest 0), envoy 0 in 0 (largest 0)\n"
        ),
        "{table}"
    );
}

#[test]
fn settings_serialize_the_load_flat_and_in_order() {
    let json = serde_json::to_string(&settings(Some(500.0))).unwrap();
    assert_eq!(
        json,
        "{\"duration_s\":10.0,\"warmup_s\":2.0,\"connections\":64,\"sessions\":16,\
         \"body_bytes\":100,\"rate\":500.0,\"pinned\":true,\"upstream\":\"nginx\"}"
    );
}

#[test]
fn measured_per_second_rounds_and_an_empty_window_is_zero() {
    assert_eq!(per_second(1000, 3.0), 333.0);
    assert_eq!(per_second(1000, 0.0), 0.0);
    assert_eq!(per_second(0, 2.0), 0.0);
}

#[test]
fn pair_needs_both_targets_to_have_run() {
    let t = targets();
    assert_eq!(
        pair(&t, "edge", "envoy"),
        Some(Ratio {
            pair: "edge/envoy".into(),
            requests_per_second: Some(1.25),
            p99_latency: Some(0.75),
        })
    );
    assert_eq!(pair(&t, "edge", "squid"), None);
    assert_eq!(pair(&t, "nope", "edge"), None);
}
