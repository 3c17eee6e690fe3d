use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use proptest::prelude::*;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// One address inside every mandatory range, with the range it must report.
const INSIDE: &[(&str, &str)] = &[
    ("0.1.2.3", "0.0.0.0/8"),
    ("10.255.0.1", "10.0.0.0/8"),
    ("100.64.0.0", "100.64.0.0/10"),
    ("100.127.255.255", "100.64.0.0/10"),
    ("127.0.0.1", "127.0.0.0/8"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("172.16.0.1", "172.16.0.0/12"),
    ("172.31.255.255", "172.16.0.0/12"),
    ("192.0.0.170", "192.0.0.0/24"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("198.18.0.1", "198.18.0.0/15"),
    ("198.19.255.255", "198.18.0.0/15"),
    ("224.0.0.251", "224.0.0.0/4"),
    ("239.255.255.250", "224.0.0.0/4"),
    ("240.0.0.1", "240.0.0.0/4"),
    ("255.255.255.254", "240.0.0.0/4"),
    ("255.255.255.255", "255.255.255.255/32"),
    ("168.63.129.16", "168.63.129.16/32"),
    ("::", "::/128"),
    ("::1", "::1/128"),
    ("fc00::1", "fc00::/7"),
    ("fdff:ffff::1", "fc00::/7"),
    ("fd00:ec2::254", "fd00:ec2::254/128"),
    ("fe80::1", "fe80::/10"),
    ("febf::1", "fe80::/10"),
    ("fec0::1", "fec0::/10"),
    ("ff02::1", "ff00::/8"),
    ("64:ff9b:1::1", "64:ff9b:1::/48"),
    ("64:ff9b:1:ffff::8.8.8.8", "64:ff9b:1::/48"),
    ("::ffff:0:808:808", "::ffff:0:0:0/96"),
];

/// Public neighbours of the ranges (just outside a boundary) and well-known public addresses.
const OUTSIDE: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "1.0.0.0",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.0",
    "191.255.255.255",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "168.63.129.15",
    "168.63.129.17",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe00::1",
    "fe7f:ffff::1",
    "64:ff9b:2::1",
    "::2:0:0:1",
    // embedded forms of public IPv4 addresses are as public as the address itself
    "::ffff:1.1.1.1",
    "64:ff9b::8.8.8.8",
    "2002:0808:0808::1",
    // Teredo: server 65.54.227.120, client 1.1.1.1 (inverted: fefe:fefe)
    "2001:0:4136:e378:8000:63bf:fefe:fefe",
];

#[test]
fn every_mandatory_range_denies_an_address_inside_it() {
    let set = DenySet::mandatory();
    for (addr, range) in INSIDE {
        let found = set.check(ip(addr));
        assert_eq!(
            found,
            Some(DenyMatch {
                range: net(range),
                kind: DenyKind::Mandatory,
                embedded: None
            }),
            "{addr}"
        );
    }
}

#[test]
fn addresses_just_outside_the_ranges_and_public_addresses_are_allowed() {
    let set = DenySet::mandatory();
    for addr in OUTSIDE {
        assert_eq!(set.check(ip(addr)), None, "{addr}");
    }
}

#[test]
fn mandatory_ranges_are_exactly_the_architecture_list() {
    let mut listed: Vec<String> = DenySet::mandatory_ranges().map(|n| n.to_string()).collect();
    listed.sort();
    let mut expected = vec![
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "64:ff9b:1::/48",
        "::ffff:0:0:0/96",
        "fd00:ec2::254/128",
        "168.63.129.16/32",
    ];
    expected.sort();
    assert_eq!(listed, expected);
}

/// Every embedded IPv6 form of `v4` (Teredo twice: as server and as client).
fn embedded_forms(v4: Ipv4Addr) -> Vec<(Ipv6Addr, EmbedForm)> {
    let bits = u128::from(u32::from(v4));
    let inverted = u128::from(!u32::from(v4));
    vec![
        (v4.to_ipv6_mapped(), EmbedForm::Mapped),
        (Ipv6Addr::from(bits), EmbedForm::Compatible),
        (
            Ipv6Addr::from(0x0064_ff9b_u128 << 96 | bits),
            EmbedForm::Nat64,
        ),
        (
            Ipv6Addr::from(0x2002_u128 << 112 | bits << 80 | 1),
            EmbedForm::SixToFour,
        ),
        (
            // server = v4, client 1.1.1.1 (public)
            Ipv6Addr::from(0x2001_0000_u128 << 96 | bits << 64 | 0x8000_63bf_fefe_fefe),
            EmbedForm::TeredoServer,
        ),
        (
            // server 65.54.227.120 (public), client = v4
            Ipv6Addr::from(
                0x2001_0000_u128 << 96 | 0x4136_e378_u128 << 64 | 0x8000_63bf_u128 << 32 | inverted,
            ),
            EmbedForm::TeredoClient,
        ),
    ]
}

#[test]
fn every_embedded_form_of_a_denied_ipv4_is_denied() {
    let set = DenySet::mandatory();
    for (v4, range) in [
        ("127.0.0.1", "127.0.0.0/8"),
        ("10.1.2.3", "10.0.0.0/8"),
        ("169.254.169.254", "169.254.0.0/16"),
    ] {
        let v4: Ipv4Addr = v4.parse().unwrap();
        for (v6, form) in embedded_forms(v4) {
            let found = set.check(IpAddr::V6(v6));
            assert_eq!(
                found,
                Some(DenyMatch {
                    range: net(range),
                    kind: DenyKind::Mandatory,
                    embedded: Some(Embedding { form, ipv4: v4 }),
                }),
                "{v6} ({form:?})"
            );
        }
    }
}

#[test]
fn literal_embedded_forms_of_the_metadata_address_are_denied() {
    let set = DenySet::mandatory();
    for addr in [
        "::ffff:169.254.169.254",
        "::169.254.169.254",
        "64:ff9b::169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::",
        "2001:0:a9fe:a9fe::",
        "2001:0:4136:e378:8000:63bf:5601:5601",
    ] {
        let found = set
            .check(ip(addr))
            .unwrap_or_else(|| panic!("{addr} allowed"));
        assert_eq!(found.range, net("169.254.0.0/16"), "{addr}");
        assert_eq!(
            found.embedded.map(|e| e.ipv4),
            Some(Ipv4Addr::new(169, 254, 169, 254)),
            "{addr}"
        );
    }
}

#[test]
fn operator_additions_deny_and_never_remove_mandatory_ranges() {
    let set =
        DenySet::mandatory().with_additions(vec![net("203.0.113.0/24"), net("2001:db8::/32")]);
    let v4 = set.check(ip("203.0.113.7")).unwrap();
    assert_eq!(v4.range, net("203.0.113.0/24"));
    assert_eq!(v4.kind, DenyKind::Operator);
    assert_eq!(
        set.check(ip("2001:db8::1")).unwrap().kind,
        DenyKind::Operator
    );
    let mapped = set.check(ip("::ffff:203.0.113.7")).unwrap();
    assert_eq!(mapped.kind, DenyKind::Operator);
    assert_eq!(mapped.embedded.unwrap().form, EmbedForm::Mapped);
    assert_eq!(set.check(ip("10.0.0.1")).unwrap().kind, DenyKind::Mandatory);
    assert_eq!(set.check(ip("203.0.114.1")), None);
    // additions are normalised and deduplicated; an empty addition list changes nothing
    let twice = set
        .clone()
        .with_additions(vec![net("203.0.113.9/24")])
        .with_additions(vec![]);
    assert_eq!(
        twice.additions(),
        &[net("203.0.113.0/24"), net("2001:db8::/32")]
    );
}

#[test]
fn host_interface_addresses_are_denied_and_replaced_on_refresh() {
    let set =
        DenySet::mandatory().with_host_addresses(vec![ip("198.51.100.10"), ip("2001:db8::10")]);
    let found = set.check(ip("198.51.100.10")).unwrap();
    assert_eq!(found.kind, DenyKind::HostInterface);
    assert_eq!(found.range, net("198.51.100.10/32"));
    assert_eq!(
        set.check(ip("2001:db8::10")).unwrap().range,
        net("2001:db8::10/128")
    );
    assert_eq!(
        set.check(ip("::ffff:198.51.100.10")).unwrap().kind,
        DenyKind::HostInterface
    );
    assert_eq!(set.check(ip("198.51.100.11")), None);
    let refreshed = set.with_host_addresses(vec![ip("198.51.100.11")]);
    assert_eq!(refreshed.check(ip("198.51.100.10")), None);
    assert_eq!(
        refreshed.check(ip("198.51.100.11")).unwrap().kind,
        DenyKind::HostInterface
    );
}

#[test]
fn protected_sockets_match_exact_listeners_and_wildcard_ports() {
    let set = DenySet::mandatory().with_protected_sockets(vec![
        "198.51.100.10:8443".parse().unwrap(),
        "0.0.0.0:3128".parse().unwrap(),
        "[::]:9090".parse().unwrap(),
    ]);
    let sock = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert!(set.is_protected_socket(sock("198.51.100.10:8443")));
    assert!(set.is_protected_socket(sock("[::ffff:198.51.100.10]:8443")));
    assert!(!set.is_protected_socket(sock("198.51.100.11:8443")));
    assert!(!set.is_protected_socket(sock("198.51.100.10:8444")));
    assert!(set.is_protected_socket(sock("0.0.0.0:8443")));
    assert!(set.is_protected_socket(sock("203.0.113.5:3128")));
    assert!(set.is_protected_socket(sock("[2001:db8::1]:3128")));
    assert!(set.is_protected_socket(sock("127.0.0.1:9090")));
    assert!(!set.is_protected_socket(sock("203.0.113.5:3129")));
    assert!(!DenySet::mandatory().is_protected_socket(sock("127.0.0.1:3128")));
}

#[test]
fn display_names_range_kind_and_embedding() {
    let set = DenySet::mandatory();
    assert_eq!(
        set.check(ip("10.1.2.3")).unwrap().to_string(),
        "10.0.0.0/8 (mandatory)"
    );
    assert_eq!(
        set.check(ip("::ffff:127.0.0.1")).unwrap().to_string(),
        "127.0.0.0/8 (mandatory) via ipv4-mapped 127.0.0.1"
    );
}

#[test]
fn screen_allows_an_all_public_answer_and_dials_the_first() {
    let set = DenySet::mandatory();
    let answer = [ip("93.184.216.34"), ip("2606:4700::1111")];
    assert_eq!(
        set.screen(&answer, &[]),
        Screened::Allowed {
            addr: ip("93.184.216.34"),
            exact_rule: false,
            overrides: None
        }
    );
}

#[test]
fn screen_denies_a_mixed_answer_as_a_whole() {
    let set = DenySet::mandatory();
    let answer = [ip("93.184.216.34"), ip("10.0.0.1"), ip("127.0.0.1")];
    let Screened::Denied(ScreenDenial::InDenySet { addr, matched }) = set.screen(&answer, &[])
    else {
        panic!("mixed answer allowed");
    };
    assert_eq!(addr, ip("10.0.0.1"));
    assert_eq!(matched.range, net("10.0.0.0/8"));
}

#[test]
fn screen_denies_an_empty_answer() {
    assert_eq!(
        DenySet::mandatory().screen(&[], &[]),
        Screened::Denied(ScreenDenial::NoAddresses)
    );
    assert_eq!(
        DenySet::mandatory().screen(&[], &[ip("10.20.0.15")]),
        Screened::Denied(ScreenDenial::NoAddresses)
    );
}

#[test]
fn screen_lets_an_addresses_rule_reach_its_exact_private_addresses() {
    let set = DenySet::mandatory();
    let exact = [ip("10.20.0.15"), ip("10.20.0.16")];
    let result = set.screen(&[ip("10.20.0.16"), ip("10.20.0.15")], &exact);
    assert_eq!(
        result,
        Screened::Allowed {
            addr: ip("10.20.0.16"),
            exact_rule: true,
            overrides: set.check(ip("10.20.0.16")),
        }
    );
    let mapped = set.screen(&[ip("::ffff:10.20.0.15")], &exact);
    assert!(matches!(
        mapped,
        Screened::Allowed {
            exact_rule: true,
            ..
        }
    ));
}

#[test]
fn screen_denies_an_addresses_rule_answer_with_an_extra_address() {
    let set = DenySet::mandatory();
    let exact = [ip("10.20.0.15")];
    // even a public extra answer is refused: the rule names exact addresses
    for extra in ["10.20.0.99", "93.184.216.34"] {
        assert_eq!(
            set.screen(&[ip("10.20.0.15"), ip(extra)], &exact),
            Screened::Denied(ScreenDenial::NotInAddressRule { addr: ip(extra) })
        );
    }
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<u128>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    ]
}

/// An IPv4 address inside one of the denied IPv4 ranges.
fn denied_v4() -> impl Strategy<Value = Ipv4Addr> {
    let nets: Vec<_> = DenySet::mandatory_ranges()
        .filter_map(|n| match n {
            IpNet::V4(n) => Some(n),
            IpNet::V6(_) => None,
        })
        .collect();
    (0..nets.len(), any::<u32>()).prop_map(move |(i, host)| {
        let n = nets[i];
        let mask = u32::from(n.hostmask());
        Ipv4Addr::from(u32::from(n.network()) | (host & mask))
    })
}

proptest! {
    #[test]
    fn check_never_panics_and_is_consistent(addr in any_ip(), extra in any_ip()) {
        let set = DenySet::mandatory()
            .with_additions(vec![IpNet::from(extra)])
            .with_host_addresses(vec![extra]);
        let _ = set.check(addr);
        prop_assert!(set.check(extra).is_some());
    }

    #[test]
    fn every_embedding_of_a_denied_ipv4_is_denied(v4 in denied_v4()) {
        let set = DenySet::mandatory();
        let direct = set.check(IpAddr::V4(v4));
        prop_assert!(direct.is_some());
        for (v6, form) in embedded_forms(v4) {
            let found = set.check(IpAddr::V6(v6));
            prop_assert!(found.is_some(), "{} ({:?}) allowed", v6, form);
        }
    }
}
