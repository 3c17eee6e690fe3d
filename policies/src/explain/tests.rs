use std::net::IpAddr;

use serde_json::json;
use trust_core::DenyReason;

use super::{Decision, Explanation, explain};
use crate::denyset::DenySet;
use crate::request::Request;
use crate::set::PolicySet;

const POLICY: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: t}
spec:
  destinations:
    - host: pypi.org
      rung: pass-through
    - host: \"*.example.com\"
      ports: [443, 8080]
      rung: pass-through
    - host: files.example.com
      ports: [8443]
      rung: pass-through
    - host: artifacts.internal.example
      ports: [8443]
      addresses: [10.20.0.15]
      rung: pass-through
    - host: 10.9.9.9
      ports: [22]
      rung: pass-through
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: trial}
spec:
  mode: report
  destinations:
    - host: pypi.org
      rung: pass-through
";

fn set() -> PolicySet {
    PolicySet::from_sources(&[("p.yaml".to_owned(), POLICY.to_owned())]).unwrap()
}

fn run(profile: &str, request: &str, answers: &[&str]) -> Explanation {
    let answers: Vec<IpAddr> = answers.iter().map(|a| a.parse().unwrap()).collect();
    let request = Request::parse(request, None).unwrap();
    explain(&set(), profile, &request, &answers, &DenySet::mandatory())
}

/// (decision, reason, enforce_would_deny, rule id, passed-over ids)
fn outline(e: &Explanation) -> (Decision, Option<&str>, bool, Option<&str>, Vec<&str>) {
    (
        e.decision,
        e.reason.map(DenyReason::code),
        e.enforce_would_deny,
        e.rule.as_ref().map(|r| r.id.as_str()),
        e.passed_over.iter().map(|r| r.id.as_str()).collect(),
    )
}

#[test]
fn decisions_name_their_rule_reason_and_fallthrough() {
    use Decision::*;
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        (
            Decision,
            Option<&'a str>,
            bool,
            Option<&'a str>,
            Vec<&'a str>,
        ),
    );
    let table: &[Row<'_>] = &[
        (
            "t",
            "https://pypi.org/simple/",
            &[],
            (Allow, None, false, Some("p.yaml:6"), vec![]),
        ),
        (
            "t",
            "pypi.org:80",
            &[],
            (
                Deny,
                Some("port_not_allowed"),
                false,
                None,
                vec!["p.yaml:6"],
            ),
        ),
        (
            "t",
            "files.example.com:443",
            &[],
            (Allow, None, false, Some("p.yaml:8"), vec!["p.yaml:11"]),
        ),
        (
            "t",
            "files.example.com:22",
            &[],
            (
                Deny,
                Some("port_not_allowed"),
                false,
                None,
                vec!["p.yaml:11", "p.yaml:8"],
            ),
        ),
        (
            "t",
            "github.com:443",
            &[],
            (Deny, Some("destination_not_allowed"), false, None, vec![]),
        ),
        (
            "t",
            "https://pypi.org/",
            &["151.101.0.223"],
            (Allow, None, false, Some("p.yaml:6"), vec![]),
        ),
        (
            "t",
            "https://pypi.org/",
            &["151.101.0.223", "10.0.0.1"],
            (
                Deny,
                Some("resolved_address_denied"),
                false,
                Some("p.yaml:6"),
                vec![],
            ),
        ),
        (
            "t",
            "artifacts.internal.example:8443",
            &["10.20.0.15"],
            (Allow, None, false, Some("p.yaml:14"), vec![]),
        ),
        (
            "t",
            "artifacts.internal.example:8443",
            &["10.20.0.99"],
            (
                Deny,
                Some("resolved_address_denied"),
                false,
                Some("p.yaml:14"),
                vec![],
            ),
        ),
        (
            "t",
            "10.9.9.9:22",
            &[],
            (Allow, None, false, Some("p.yaml:18"), vec![]),
        ),
        (
            "t",
            "10.9.9.9:443",
            &[],
            (
                Deny,
                Some("port_not_allowed"),
                false,
                None,
                vec!["p.yaml:18"],
            ),
        ),
        (
            "t",
            "192.0.2.1:443",
            &[],
            (Deny, Some("ip_literal_not_allowed"), false, None, vec![]),
        ),
        (
            "trial",
            "github.com:443",
            &[],
            (Allow, Some("destination_not_allowed"), true, None, vec![]),
        ),
        (
            "trial",
            "pypi.org:22",
            &[],
            (
                Allow,
                Some("port_not_allowed"),
                true,
                None,
                vec!["p.yaml:28"],
            ),
        ),
        (
            "trial",
            "github.com:443",
            &["127.0.0.1"],
            (Deny, Some("resolved_address_denied"), false, None, vec![]),
        ),
        (
            "trial",
            "192.0.2.1:443",
            &[],
            (Deny, Some("ip_literal_not_allowed"), false, None, vec![]),
        ),
        (
            "nope",
            "pypi.org:443",
            &[],
            (Deny, Some("unknown_profile"), false, None, vec![]),
        ),
    ];
    for (profile, request, answers, want) in table {
        let got = run(profile, request, answers);
        assert_eq!(outline(&got), *want, "{profile} {request} {answers:?}");
    }
}

#[test]
fn the_address_check_shows_the_exact_address_exception() {
    let got = run("t", "artifacts.internal.example:8443", &["10.20.0.15"]);
    let check = got.address_check.unwrap();
    assert_eq!(check.overrides.as_deref(), Some("10.0.0.0/8 (mandatory)"));
    assert_eq!(
        check.detail,
        "10.20.0.15 is in the deny-set (10.0.0.0/8 (mandatory)), but the rule names it exactly; the edge dials it and audits the exception"
    );
    let literal = run("t", "10.9.9.9:22", &["1.2.3.4"]);
    let check = literal.address_check.unwrap();
    assert_eq!(check.answers, ["10.9.9.9".parse::<IpAddr>().unwrap()]);
    assert_eq!(check.overrides.as_deref(), Some("10.0.0.0/8 (mandatory)"));
    assert!(
        literal
            .notes
            .contains(&"an IP literal is not resolved; the given answers are ignored".to_owned())
    );
    let refused = run(
        "t",
        "https://pypi.org/",
        &["151.101.0.223", "::ffff:169.254.169.254"],
    );
    assert_eq!(
        refused.address_check.unwrap().detail,
        "refused: resolved address ::ffff:169.254.169.254 is in the deny-set: 169.254.0.0/16 (mandatory) via ipv4-mapped 169.254.169.254"
    );
    let wrong = run("t", "artifacts.internal.example:8443", &["10.20.0.99"]);
    assert_eq!(
        wrong.address_check.unwrap().detail,
        "refused: resolved address 10.20.0.99 is not named by the addresses rule"
    );
}

#[test]
fn human_text_reads_top_to_bottom() {
    let got = run("t", "https://files.example.com/a", &["93.184.215.14"]);
    assert_eq!(
        got.to_string(),
        "\
profile:   t (enforce)
request:   CONNECT files.example.com:443
decision:  allow
rule:      p.yaml:8 (host *.example.com, ports 443, 8080, rung pass-through)
rung:      pass-through
passed:    p.yaml:11 (host files.example.com, ports 8443, rung pass-through)
addresses: 93.184.215.14
deny-set:  every answer is outside the deny-set; the edge dials 93.184.215.14
note:      1 rule(s) name this host but not port 443, so a less specific rule decided
note:      pass-through: the edge requires the TLS SNI to be `files.example.com` and splices the bytes; it never sees the method or path (`GET /a` here), and whatever is served behind this name is reachable (behind a CDN, other tenants too: domain fronting)
note:      at run time the edge also checks the session token and kill switch, limits and tripwire, its own listeners and operator additions to the deny-set
"
    );
    let denied = run("trial", "github.com:443", &["127.0.0.1"]);
    assert_eq!(
        denied.to_string(),
        "\
profile:   trial (report)
request:   CONNECT github.com:443
decision:  deny
reason:    resolved_address_denied (the destination resolves to a denied address)
addresses: 127.0.0.1
deny-set:  refused: resolved address 127.0.0.1 is in the deny-set: 127.0.0.0/8 (mandatory)
note:      report mode: enforce mode would deny this (destination_not_allowed); the edge lets it through, audits it with enforce_would_deny: true, injects nothing, and still applies the deny-set in full
"
    );
}

#[test]
fn json_carries_every_field() {
    let got = run("t", "artifacts.internal.example:8443", &["10.20.0.15"]);
    let value = serde_json::to_value(&got).unwrap();
    assert_eq!(
        value,
        json!({
            "profile": "t",
            "mode": "enforce",
            "request": {
                "carried": "tunnel",
                "method": "CONNECT",
                "destination": "artifacts.internal.example",
                "port": 8443,
                "path": null
            },
            "seen_by_edge": "CONNECT artifacts.internal.example:8443",
            "decision": "allow",
            "enforce_would_deny": false,
            "reason": null,
            "rule": {
                "id": "p.yaml:14",
                "host": "artifacts.internal.example",
                "ports": [8443],
                "rung": "pass-through",
                "addresses": ["10.20.0.15"],
                "upgrades": []
            },
            "rung": "pass-through",
            "passed_over": [],
            "address_check": {
                "answers": ["10.20.0.15"],
                "exact_addresses": ["10.20.0.15"],
                "allowed": true,
                "dial": "10.20.0.15",
                "overrides": "10.0.0.0/8 (mandatory)",
                "detail": "10.20.0.15 is in the deny-set (10.0.0.0/8 (mandatory)), but the rule names it exactly; the edge dials it and audits the exception"
            },
            "notes": [
                "pass-through: the edge requires the TLS SNI to be `artifacts.internal.example` and splices the bytes; it never sees the method or path, and whatever is served behind this name is reachable (behind a CDN, other tenants too: domain fronting)",
                "at run time the edge also checks the session token and kill switch, limits and tripwire, its own listeners and operator additions to the deny-set"
            ]
        })
    );
    let denied = serde_json::to_value(run("t", "pypi.org:80", &[])).unwrap();
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["reason"], "port_not_allowed");
}
