use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;
use trust_core::DenyReason;

use crate::{Destination, PolicySet, Profile, parse_authority};

const RULES: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: t}
spec:
  destinations:
    - host: pypi.org
      rung: pass-through
    - host: \"*.pythonhosted.org\"
      rung: pass-through
    - host: files.pythonhosted.org
      ports: [8443]
      rung: pass-through
    - host: \"*.example.com\"
      ports: [443, 8080]
      rung: pass-through
    - host: \"*.deep.example.com\"
      ports: [9000]
      rung: pass-through
    - host: plain.example.org
      ports: [80, 443]
      rung: pass-through
    - host: 203.0.113.7
      ports: [80]
      rung: pass-through
    - host: \"[2001:db8::7]\"
      ports: [443]
      rung: pass-through
    - host: \"::ffff:198.51.100.9\"
      ports: [443]
      rung: pass-through
";

fn profile(text: &str) -> Arc<Profile> {
    let set = PolicySet::from_sources(&[("p.yaml".to_owned(), text.to_owned())]).unwrap();
    set.profile("t").unwrap().clone()
}

/// Decides `authority` (host:port) and returns the line of the matching rule.
fn decide_line(p: &Profile, authority: &str) -> Result<String, DenyReason> {
    let (dest, port) = parse_authority(authority, None).unwrap();
    p.decide(&dest, port)
        .map(|rule| rule.id.trim_start_matches("p.yaml:").to_owned())
}

#[test]
fn decisions_table() {
    let p = profile(RULES);
    use DenyReason::*;
    let table: &[(&str, Result<&str, DenyReason>)] = &[
        // exact
        ("pypi.org:443", Ok("6")),
        ("PyPI.org.:443", Ok("6")),
        ("pypi.org:80", Err(PortNotAllowed)),
        ("www.pypi.org:443", Err(DestinationNotAllowed)),
        ("pypi.org.evil.com:443", Err(DestinationNotAllowed)),
        ("evilpypi.org:443", Err(DestinationNotAllowed)),
        // wildcard: sub-domains at any depth, never the apex
        ("a.pythonhosted.org:443", Ok("8")),
        ("a.b.c.pythonhosted.org:443", Ok("8")),
        ("pythonhosted.org:443", Err(DestinationNotAllowed)),
        ("xpythonhosted.org:443", Err(DestinationNotAllowed)),
        ("a.pythonhosted.org:8443", Err(PortNotAllowed)),
        // exact beats wildcard; a port miss on the exact rule falls back to the wildcard
        ("files.pythonhosted.org:8443", Ok("10")),
        ("files.pythonhosted.org:443", Ok("8")),
        ("files.pythonhosted.org:22", Err(PortNotAllowed)),
        // longest suffix first, then less specific suffixes
        ("x.deep.example.com:9000", Ok("16")),
        ("x.deep.example.com:443", Ok("13")),
        ("deep.example.com:9000", Err(PortNotAllowed)),
        ("deep.example.com:8080", Ok("13")),
        ("example.com:443", Err(DestinationNotAllowed)),
        // ports
        ("plain.example.org:80", Ok("19")),
        ("plain.example.org:443", Ok("19")),
        ("plain.example.org:8080", Err(PortNotAllowed)),
        // IP literals: exact address only, every spelling, mapped ≠ v4
        ("203.0.113.7:80", Ok("22")),
        ("3405803783:80", Ok("22")),
        ("0xcb.0x0.0x71.07:80", Ok("22")),
        ("203.0.113.7:443", Err(PortNotAllowed)),
        ("203.0.113.8:80", Err(IpLiteralNotAllowed)),
        ("[::ffff:203.0.113.7]:80", Err(IpLiteralNotAllowed)),
        ("[2001:db8::7]:443", Ok("25")),
        ("[2001:0db8:0::7]:443", Ok("25")),
        ("[2001:db8::8]:443", Err(IpLiteralNotAllowed)),
        ("[::ffff:198.51.100.9]:443", Ok("28")),
        ("198.51.100.9:443", Err(IpLiteralNotAllowed)),
        ("127.0.0.1:443", Err(IpLiteralNotAllowed)),
    ];
    for (authority, want) in table {
        let want = want.map(str::to_owned);
        assert_eq!(decide_line(&p, authority), want, "{authority}");
    }
}

#[test]
fn unnormalised_names_match_nothing() {
    let p = profile(RULES);
    for name in [
        "PYPI.ORG",
        "pypi.org.",
        ".pythonhosted.org",
        "a..pythonhosted.org",
        "",
    ] {
        let dest = Destination::Name(name.to_owned());
        assert_eq!(
            p.decide(&dest, 443),
            Err(DenyReason::DestinationNotAllowed),
            "{name:?}"
        );
    }
}

#[test]
fn matched_rule_carries_its_fields() {
    let p = profile(RULES);
    let (dest, port) = parse_authority("x.example.com:8080", None).unwrap();
    let rule = p.decide(&dest, port).unwrap();
    assert_eq!(rule.id, "p.yaml:13");
    assert_eq!(rule.host.to_string(), "*.example.com");
    assert_eq!(rule.ports, [443, 8080]);
}

const EMPTY: &str =
    "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: t}\nspec: {}\n";

#[test]
fn a_profile_without_destinations_denies_all() {
    for text in [EMPTY.to_owned(), EMPTY.replace("{}", "{destinations: []}")] {
        let p = profile(&text);
        assert!(p.rules().is_empty());
        let name = Destination::Name("pypi.org".to_owned());
        assert_eq!(p.decide(&name, 443), Err(DenyReason::DestinationNotAllowed));
        let ip = Destination::Ip(IpAddr::from([1, 1, 1, 1]));
        assert_eq!(p.decide(&ip, 443), Err(DenyReason::IpLiteralNotAllowed));
    }
}

#[test]
fn an_empty_policy_set_knows_no_profile() {
    let set = PolicySet::empty();
    assert!(set.profile("sandbox-default").is_none());
    assert_eq!(set.profiles().count(), 0);
    let from_nothing = PolicySet::from_sources(&[]).unwrap();
    assert_eq!(from_nothing.hash(), set.hash());
}

#[test]
fn report_mode_relaxes_host_and_port_of_names_only() {
    use crate::ReportDecision::{Allow, Deny, WouldDeny};
    use DenyReason::*;
    let enforce = profile(RULES);
    let report = profile(&format!("{RULES}  mode: report\n"));
    assert_eq!(report.mode, crate::Mode::Report);
    type Row<'a> = (
        &'a str,
        Result<&'a str, DenyReason>,
        Result<&'a str, DenyReason>,
    );
    let table: &[Row<'_>] = &[
        // (authority, enforce mode, report mode): Ok(line) = Allow, Err = Deny / WouldDeny
        ("pypi.org:443", Ok("6"), Ok("6")),
        ("pypi.org:80", Err(PortNotAllowed), Err(PortNotAllowed)),
        (
            "evil.example.net:443",
            Err(DestinationNotAllowed),
            Err(DestinationNotAllowed),
        ),
        ("203.0.113.7:80", Ok("22"), Ok("22")),
        ("203.0.113.7:443", Err(PortNotAllowed), Err(PortNotAllowed)),
        (
            "203.0.113.8:80",
            Err(IpLiteralNotAllowed),
            Err(IpLiteralNotAllowed),
        ),
    ];
    for (authority, in_enforce, in_report) in table {
        let (dest, port) = parse_authority(authority, None).unwrap();
        let line = |d: &crate::ReportDecision<'_>| match d {
            Allow(rule) => Some(rule.id.trim_start_matches("p.yaml:").to_owned()),
            _ => None,
        };
        let e = enforce.decide_report(&dest, port);
        match in_enforce {
            Ok(want) => assert_eq!(line(&e).as_deref(), Some(*want), "{authority}"),
            Err(reason) => assert_eq!(e, Deny(*reason), "{authority}"),
        }
        let r = report.decide_report(&dest, port);
        match (in_report, &dest) {
            (Ok(want), _) => assert_eq!(line(&r).as_deref(), Some(*want), "{authority}"),
            // IP literals are never relaxed, not even a listed address on another port
            (Err(reason), Destination::Ip(_)) => assert_eq!(r, Deny(*reason), "{authority}"),
            (Err(reason), Destination::Name(_)) => {
                assert_eq!(r, WouldDeny(*reason), "{authority}")
            }
        }
    }
}

#[test]
fn matching_rules_lists_every_rule_for_the_host_in_decision_order() {
    let p = profile(RULES);
    let ids = |authority: &str| {
        let (dest, _) = parse_authority(authority, None).unwrap();
        p.matching_rules(&dest)
            .iter()
            .map(|r| r.id.trim_start_matches("p.yaml:").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("files.pythonhosted.org:1"), ["10", "8"]);
    assert_eq!(ids("x.deep.example.com:1"), ["16", "13"]);
    assert_eq!(ids("203.0.113.7:1"), ["22"]);
    assert!(ids("example.net:1").is_empty());
    assert!(
        p.matching_rules(&Destination::Name("A..b".to_owned()))
            .is_empty()
    );
}

proptest! {
    #[test]
    fn empty_profile_denies_every_destination(host in "[a-z0-9.-]{1,40}", port in any::<u16>(), ip in any::<IpAddr>()) {
        let p = profile(EMPTY);
        prop_assert!(p.decide(&Destination::Name(host), port).is_err());
        prop_assert_eq!(p.decide(&Destination::Ip(ip), port), Err(DenyReason::IpLiteralNotAllowed));
    }

    #[test]
    fn wildcard_allows_only_proper_sub_domains(label in "[a-z0-9]{1,10}", port in 1u16..) {
        let p = profile(RULES);
        let sub = Destination::Name(format!("{label}.pythonhosted.org"));
        let decided = p.decide(&sub, port);
        if port == 443 {
            prop_assert!(decided.is_ok());
        } else if label == "files" && port == 8443 {
            prop_assert_eq!(decided.map(|r| r.id.clone()), Ok("p.yaml:10".to_owned()));
        } else {
            prop_assert_eq!(decided.map(|r| r.id.clone()), Err(DenyReason::PortNotAllowed));
        }
        let lookalike = Destination::Name(format!("{label}pythonhosted.org"));
        prop_assert_eq!(p.decide(&lookalike, port).map(|r| r.id.clone()), Err(DenyReason::DestinationNotAllowed));
    }
}
