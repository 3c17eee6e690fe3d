use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use policies::denyset::{DenySet, ScreenDenial, Screened};
use testkit::dns::DnsServer;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn resolver_for(dns: &DnsServer, adjust: impl FnOnce(&mut ResolverConfig)) -> Resolver {
    let mut config = ResolverConfig::with_nameservers(vec![dns.addr()]);
    adjust(&mut config);
    Resolver::new(config).unwrap()
}

#[tokio::test]
async fn resolves_a_and_aaaa_with_ipv4_first() {
    let dns = DnsServer::start().await;
    dns.set_a("dual.test", &[v4("93.184.216.34"), v4("93.184.216.35")], 60);
    dns.set_aaaa("dual.test", &[v6("2606:4700::1111")], 60);
    let resolver = resolver_for(&dns, |_| {});

    let resolution = resolver.resolve("dual.test").await.unwrap();
    assert_eq!(
        &*resolution.addrs,
        &[
            ip("93.184.216.34"),
            ip("93.184.216.35"),
            ip("2606:4700::1111")
        ]
    );
    assert!(!resolution.from_static);
    assert_eq!(dns.query_count("dual.test"), 2);
    dns.stop().await;
}

#[tokio::test]
async fn ttl_zero_answers_are_looked_up_again_and_a_rebind_is_seen() {
    let dns = DnsServer::start().await;
    dns.set_a("rebind.test", &[v4("93.184.216.34")], 0);
    let resolver = resolver_for(&dns, |_| {});

    let first = resolver.resolve("rebind.test").await.unwrap();
    assert_eq!(&*first.addrs, &[ip("93.184.216.34")]);
    // one A and one AAAA (NODATA) query
    assert_eq!(dns.query_count("rebind.test"), 2);

    dns.set_a("rebind.test", &[v4("10.0.0.1")], 0);
    let second = resolver.resolve("rebind.test").await.unwrap();
    assert_eq!(&*second.addrs, &[ip("10.0.0.1")]);
    assert_eq!(dns.query_count("rebind.test"), 4);
    assert!(matches!(
        DenySet::mandatory().screen(&second.addrs, &[]),
        Screened::Denied(ScreenDenial::InDenySet { .. })
    ));
    dns.stop().await;
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl() {
    let dns = DnsServer::start().await;
    dns.set_a("cached.test", &[v4("93.184.216.34")], 60);
    dns.set_aaaa("cached.test", &[v6("2606:4700::1111")], 60);
    let resolver = resolver_for(&dns, |_| {});

    resolver.resolve("cached.test").await.unwrap();
    assert_eq!(dns.query_count("cached.test"), 2);
    dns.set_a("cached.test", &[v4("10.0.0.1")], 60);
    let again = resolver.resolve("cached.test").await.unwrap();
    assert_eq!(&*again.addrs, &[ip("93.184.216.34"), ip("2606:4700::1111")]);
    assert_eq!(dns.query_count("cached.test"), 2);
    dns.stop().await;
}

#[tokio::test]
async fn max_ttl_clamps_long_ttls() {
    let dns = DnsServer::start().await;
    dns.set_a("long.test", &[v4("93.184.216.34")], 3600);
    dns.set_aaaa("long.test", &[v6("2606:4700::1111")], 3600);
    let resolver = resolver_for(&dns, |config| config.max_ttl = Duration::ZERO);

    resolver.resolve("long.test").await.unwrap();
    dns.set_a("long.test", &[v4("93.184.216.35")], 3600);
    let again = resolver.resolve("long.test").await.unwrap();
    assert_eq!(&*again.addrs, &[ip("93.184.216.35"), ip("2606:4700::1111")]);
    assert_eq!(dns.query_count("long.test"), 4);
    dns.stop().await;
}

#[tokio::test]
async fn min_ttl_holds_short_ttls() {
    let dns = DnsServer::start().await;
    dns.set_a("short.test", &[v4("93.184.216.34")], 0);
    dns.set_aaaa("short.test", &[v6("2606:4700::1111")], 0);
    let resolver = resolver_for(&dns, |config| config.min_ttl = Duration::from_secs(60));

    resolver.resolve("short.test").await.unwrap();
    resolver.resolve("short.test").await.unwrap();
    assert_eq!(dns.query_count("short.test"), 2);
    dns.stop().await;
}

#[tokio::test]
async fn a_cname_to_a_private_name_returns_the_private_address() {
    let dns = DnsServer::start().await;
    dns.set_cname("innocent.test", "metadata.internal.test", 60);
    dns.set_a("metadata.internal.test", &[v4("169.254.169.254")], 60);
    let resolver = resolver_for(&dns, |_| {});

    let resolution = resolver.resolve("innocent.test").await.unwrap();
    assert_eq!(&*resolution.addrs, &[ip("169.254.169.254")]);
    let Screened::Denied(ScreenDenial::InDenySet { addr, matched }) =
        DenySet::mandatory().screen(&resolution.addrs, &[])
    else {
        panic!("a CNAME to the metadata address was allowed");
    };
    assert_eq!(addr, ip("169.254.169.254"));
    assert_eq!(matched.range.to_string(), "169.254.0.0/16");
    dns.stop().await;
}

#[tokio::test]
async fn static_hosts_answer_without_a_query_and_grant_nothing() {
    let dns = DnsServer::start().await;
    dns.set_a("pinned.test", &[v4("93.184.216.34")], 60);
    let resolver = resolver_for(&dns, |config| {
        config.static_hosts = HashMap::from([
            ("pinned.test".to_owned(), vec![ip("203.0.113.7")]),
            ("loop.test.".to_owned(), vec![ip("127.0.0.1")]),
        ]);
    });

    let pinned = resolver.resolve("pinned.test.").await.unwrap();
    assert_eq!(&*pinned.addrs, &[ip("203.0.113.7")]);
    assert!(pinned.from_static);
    let looped = resolver.resolve("loop.test").await.unwrap();
    assert!(looped.from_static);
    assert!(matches!(
        DenySet::mandatory().screen(&looped.addrs, &[]),
        Screened::Denied(ScreenDenial::InDenySet { .. })
    ));
    assert_eq!(dns.query_count("pinned.test"), 0);
    assert_eq!(dns.query_count("loop.test"), 0);
    dns.stop().await;
}

#[tokio::test]
async fn failures_have_distinct_kinds() {
    let dns = DnsServer::start().await;
    dns.set_a("empty.test", &[], 60);
    dns.set_cname("dangling.test", "gone.test", 60);
    let resolver = resolver_for(&dns, |_| {});

    let missing = resolver.resolve("missing.test").await.unwrap_err();
    assert_eq!(
        missing,
        ResolveError::NxDomain {
            name: "missing.test".to_owned()
        }
    );
    assert_eq!(missing.kind(), "nxdomain");
    assert_eq!(
        resolver.resolve("dangling.test").await.unwrap_err(),
        ResolveError::NxDomain {
            name: "dangling.test".to_owned()
        }
    );
    let empty = resolver.resolve("empty.test").await.unwrap_err();
    assert_eq!(
        empty,
        ResolveError::NoRecords {
            name: "empty.test".to_owned()
        }
    );
    for bad in ["", ".", "1.2.3.4", "::1", "a..b"] {
        let err = resolver.resolve(bad).await.unwrap_err();
        assert_eq!(err.kind(), "invalid_name", "{bad:?}");
    }
    dns.stop().await;
}

#[tokio::test]
async fn a_silent_name_server_times_out_within_the_configured_time() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut config = ResolverConfig::with_nameservers(vec![silent.local_addr().unwrap()]);
    config.timeout = Duration::from_millis(300);
    config.attempts = 1;
    let resolver = Resolver::new(config).unwrap();

    let started = Instant::now();
    let err = resolver.resolve("slow.test").await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        err,
        ResolveError::Timeout {
            name: "slow.test".to_owned()
        }
    );
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");

    // without the overall deadline, hickory's own per-query timeout is classified the same way
    let mut resolver = resolver;
    resolver.deadline = Duration::from_secs(30);
    let started = Instant::now();
    let err = resolver.resolve("slower.test").await.unwrap_err();
    assert_eq!(err.kind(), "timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn invalid_configurations_are_refused() {
    let server = vec!["127.0.0.1:53".parse().unwrap()];
    let check = |adjust: fn(&mut ResolverConfig)| {
        let mut config = ResolverConfig::with_nameservers(server.clone());
        adjust(&mut config);
        Resolver::new(config).unwrap_err()
    };
    assert_eq!(
        check(|c| c.nameservers.clear()),
        ResolverError::NoNameservers
    );
    assert!(matches!(
        check(|c| c.min_ttl = Duration::from_secs(600)),
        ResolverError::TtlBounds { .. }
    ));
    assert_eq!(check(|c| c.attempts = 0), ResolverError::ZeroAttempts);
    assert_eq!(
        check(|c| c.timeout = Duration::ZERO),
        ResolverError::ZeroTimeout
    );
    assert_eq!(check(|c| c.cache_size = 0), ResolverError::ZeroCacheSize);
    assert!(matches!(
        check(|c| {
            c.static_hosts.insert("empty.test".into(), vec![]);
        }),
        ResolverError::StaticHostEmpty { .. }
    ));
    assert!(matches!(
        check(|c| {
            c.static_hosts
                .insert("10.0.0.1".into(), vec![ip("10.0.0.1")]);
        }),
        ResolverError::StaticHostName { .. }
    ));
}

#[test]
fn defaults_are_documented_values() {
    let config = ResolverConfig::default();
    assert_eq!(config.min_ttl, Duration::ZERO);
    assert_eq!(config.max_ttl, Duration::from_secs(300));
    assert_eq!(config.negative_ttl, Duration::from_secs(30));
    assert_eq!(config.deadline(), Duration::from_secs(4));
    assert!(config.use_system_config);
}

#[test]
fn host_addresses_include_loopback() {
    let addrs = interfaces::host_addresses().unwrap();
    assert!(addrs.contains(&ip("127.0.0.1")), "{addrs:?}");
    let mut sorted = addrs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(addrs, sorted);
}

#[tokio::test]
async fn static_hosts_alone_resolve_and_everything_else_fails() {
    let mut config = ResolverConfig::with_nameservers(Vec::new());
    config.use_system_config = false;
    config.static_hosts.insert(
        "upstream.test".to_owned(),
        vec!["127.0.0.1".parse().unwrap()],
    );
    let resolver = Resolver::new(config).unwrap();
    let found = resolver.resolve("upstream.test").await.unwrap();
    assert!(found.from_static);
    assert_eq!(
        &*found.addrs,
        &["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(matches!(
        resolver.resolve("other.test").await,
        Err(ResolveError::Failed { .. })
    ));
}
