use super::*;

fn seen(stream: usize, version: &str) -> Seen {
    Seen {
        stream,
        version: version.to_owned(),
        at: Instant::now(),
    }
}

#[tokio::test]
async fn gather_takes_one_new_version_per_stream() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for s in [
        seen(0, "v1"),
        seen(0, "v2"),
        seen(1, "v2"),
        seen(0, "v3"),
        seen(2, "v2"),
    ] {
        tx.send(s).unwrap();
    }
    let got = gather(&mut rx, 3, "v1", Duration::from_secs(1))
        .await
        .unwrap();
    let picked: Vec<(usize, &str)> = got.iter().map(|s| (s.stream, s.version.as_str())).collect();
    assert_eq!(picked, vec![(0, "v2"), (1, "v2"), (2, "v2")]);
}

#[tokio::test]
async fn gather_fails_when_a_stream_never_answers() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tx.send(seen(0, "v2")).unwrap();
    let err = gather(&mut rx, 2, "v1", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: only 1 of 2 streams received the version within 50ms"
    );
}

#[test]
fn the_table_shows_the_claim() {
    let stats = Stats::of(&[Duration::from_millis(10), Duration::from_millis(20)]);
    let report = SdsFanoutReport {
        scenario: "sds-fanout".into(),
        settings: json!({"streams": 2, "connections": 1, "rotations": 1, "debounce_ms": 150}),
        receive: stats.clone(),
        spread: stats.clone(),
        all_received: stats.clone(),
        all_acked: stats,
        server_rss_idle_kib: 100,
        server_rss_streams_kib: 200,
        bytes_per_idle_stream: 51_200,
        checks: vec![Check {
            claim: "c".into(),
            passed: true,
            detail: "d".into(),
        }],
        notes: vec![],
    };
    let table = render_table(&report);
    assert!(
        table.starts_with(
            "sds-fanout: 2 streams over 1 connections, 1 rotations, debounce 150 ms\n"
        ),
        "{table}"
    );
    assert!(
        table.contains("receive              2      10.0      20.0      20.0\n"),
        "{table}"
    );
    assert!(table.ends_with("PASS c (d)\n"), "{table}");
}
