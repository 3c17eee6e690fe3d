use super::*;
use clap::Parser;

#[test]
fn durations_take_ms_s_m_or_bare_seconds() {
    assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    assert!(parse_duration("ten").is_err());
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("5h").is_err());
}

#[test]
fn http_forward_defaults_match_the_benchmark() {
    let cli = Cli::try_parse_from(["loadtests", "http-forward"]).unwrap();
    let Command::HttpForward(args) = cli.command else {
        panic!("expected http-forward")
    };
    assert_eq!(args.load.duration, Duration::from_secs(10));
    assert_eq!(args.load.warmup, Duration::from_secs(2));
    assert_eq!(
        (
            args.load.connections,
            args.load.sessions,
            args.load.body_bytes
        ),
        (64, 16, 100)
    );
    assert_eq!(args.rate, None);
    assert_eq!(args.targets.len(), 6);
    assert!(!args.pin);
    assert_eq!(args.out, PathBuf::from("results/http-forward.json"));
}

#[test]
fn http_forward_takes_targets_rate_and_pinning() {
    let cli = Cli::try_parse_from([
        "loadtests",
        "http-forward",
        "--targets",
        "direct,envoy",
        "--rate",
        "10000",
        "--pin",
        "--duration",
        "3s",
    ])
    .unwrap();
    let Command::HttpForward(args) = cli.command else {
        panic!("expected http-forward")
    };
    assert_eq!(
        args.targets,
        vec![Target::Direct, Target::Peer(crate::peers::Peer::Envoy)]
    );
    assert_eq!(args.rate, Some(10000.0));
    assert!(args.pin);
    assert_eq!(args.load.duration, Duration::from_secs(3));
    assert!(Cli::try_parse_from(["loadtests", "http-forward", "--targets", "nope"]).is_err());
}

#[test]
fn revocation_defaults_to_twenty_edges() {
    let cli = Cli::try_parse_from(["loadtests", "revocation"]).unwrap();
    let Command::Revocation(args) = cli.command else {
        panic!("expected revocation")
    };
    assert_eq!(
        (args.edges, args.sessions, args.deny_all_rounds),
        (20, 200, 20)
    );
    assert_eq!(args.timeout, Duration::from_secs(10));
    assert_eq!(args.out, PathBuf::from("results/revocation.json"));
}
