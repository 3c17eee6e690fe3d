use super::*;

#[test]
fn stats_use_nearest_rank() {
    let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    let stats = Stats::of(&samples);
    assert_eq!(stats.samples, 100);
    assert_eq!(stats.p50_ms, 50.0);
    assert_eq!(stats.p99_ms, 99.0);
    assert_eq!(stats.max_ms, 100.0);
    assert_eq!(stats.mean_ms, 50.5);
    assert_eq!(Stats::of(&[]), Stats::default());
    let one = Stats::of(&[Duration::from_micros(1500)]);
    assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (1.5, 1.5, 1.5));
}

#[test]
fn a_small_run_reaches_every_edge() {
    let report = run(&Options {
        edges: 3,
        sessions: 4,
        deny_all_rounds: 2,
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    assert_eq!(report.revocation.samples, 12);
    assert_eq!(report.revocation_from_request.samples, 12);
    assert!(report.revocation_from_request.max_ms >= report.revocation.max_ms);
    assert_eq!(report.deny_all_on.samples, 6);
    assert_eq!(report.deny_all_off.samples, 6);
    assert_eq!(report.revoke_api.samples, 4);
    assert_eq!(report.revocation_per_edge.len(), 3);
    assert!(
        report
            .revocation_per_edge
            .iter()
            .all(|(_, s)| s.samples == 4)
    );
    assert_eq!(report.checks.len(), 1);
    let table = render_table(&report);
    assert!(table.contains("revocation -> edge state"), "{table}");
}

#[test]
fn zero_edges_is_a_config_error() {
    let options = Options {
        edges: 0,
        sessions: 1,
        deny_all_rounds: 0,
        timeout: Duration::from_secs(1),
    };
    assert!(matches!(run(&options), Err(Error::Config(_))));
}
