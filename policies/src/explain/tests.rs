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
    let request = Request::parse(request, None, None).unwrap();
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
                "upgrades": [],
                "methods": [],
                "paths": [],
                "inject": []
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
            "http": null,
            "inject": [],
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

const BUMP: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: llm}
spec:
  destinations:
    - host: api.anthropic.com
      rung: bump
      http: {methods: [GET, POST], paths: [/v1/]}
      inject: [{secret: anthropic-api-key, header: x-api-key}]
    - host: api.github.com
      ports: [80, 443]
      rung: bump
      inject: [{secret: github-token, header: authorization, format: \"Bearer {secret}\"}]
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: llm-trial}
spec:
  mode: report
  destinations:
    - host: api.anthropic.com
      rung: bump
      http: {methods: [POST], paths: [/v1/messages]}
      inject: [{secret: anthropic-api-key, header: x-api-key}]
";

fn bump(profile: &str, request: &str, method: Option<&str>, path: Option<&str>) -> Explanation {
    let set = PolicySet::from_sources(&[("b.yaml".to_owned(), BUMP.to_owned())]).unwrap();
    let request = Request::parse(request, method, path).unwrap();
    explain(&set, profile, &request, &[], &DenySet::mandatory())
}

/// (decision, reason, enforce_would_deny, http allowed, injected secret names)
fn inside(e: &Explanation) -> (Decision, Option<&str>, bool, Option<bool>, Vec<&str>) {
    (
        e.decision,
        e.reason.map(DenyReason::code),
        e.enforce_would_deny,
        e.http.as_ref().map(|h| h.allowed),
        e.inject.iter().map(|i| i.secret.as_str()).collect(),
    )
}

#[test]
fn a_bump_rule_decides_the_request_inside_and_names_its_credentials() {
    use Decision::*;
    type Row<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        (Decision, Option<&'a str>, bool, Option<bool>, Vec<&'a str>),
    );
    let key = vec!["anthropic-api-key"];
    let table: &[Row<'_>] = &[
        (
            "llm",
            "https://api.anthropic.com/v1/messages",
            Some("POST"),
            None,
            (Allow, None, false, Some(true), key.clone()),
        ),
        (
            "llm",
            "api.anthropic.com:443",
            None,
            Some("/v1/models?limit=1"),
            (Allow, None, false, Some(true), key.clone()),
        ),
        (
            "llm",
            "https://api.anthropic.com/v1/x",
            Some("get"),
            None,
            (Deny, Some("method_not_allowed"), false, Some(false), vec![]),
        ),
        (
            "llm",
            "https://api.anthropic.com/v1/x",
            Some("TRACE"),
            None,
            (Deny, Some("method_not_allowed"), false, Some(false), vec![]),
        ),
        (
            "llm",
            "https://api.anthropic.com/v1/../admin",
            None,
            None,
            (Deny, Some("path_not_allowed"), false, Some(false), vec![]),
        ),
        (
            "llm",
            "api.anthropic.com:443",
            None,
            Some("/v1%2Fadmin"),
            (Deny, Some("path_not_allowed"), false, Some(false), vec![]),
        ),
        (
            "llm",
            "api.anthropic.com:443",
            None,
            None,
            (Deny, Some("path_not_allowed"), false, Some(false), vec![]),
        ),
        (
            "llm",
            "https://api.github.com/repos",
            Some("DELETE"),
            None,
            (Allow, None, false, Some(true), vec!["github-token"]),
        ),
        (
            "llm",
            "http://api.github.com/repos",
            None,
            None,
            (Allow, None, false, Some(true), vec![]),
        ),
        (
            "llm-trial",
            "https://api.anthropic.com/v1/messages",
            Some("POST"),
            None,
            (Allow, None, false, Some(true), key.clone()),
        ),
        (
            "llm-trial",
            "https://api.anthropic.com/v1/models",
            None,
            None,
            (Allow, Some("method_not_allowed"), true, Some(false), vec![]),
        ),
        (
            "llm-trial",
            "https://api.anthropic.com/admin",
            Some("POST"),
            None,
            (Allow, Some("path_not_allowed"), true, Some(false), vec![]),
        ),
        (
            "llm-trial",
            "https://api.openai.com/v1/x",
            None,
            None,
            (Allow, Some("destination_not_allowed"), true, None, vec![]),
        ),
    ];
    for (profile, request, method, path, want) in table {
        let got = bump(profile, request, *method, *path);
        assert_eq!(
            inside(&got),
            *want,
            "{profile} {method:?} {request} {path:?}"
        );
    }
}

#[test]
fn bump_explanations_read_top_to_bottom() {
    let got = bump("llm", "https://api.github.com/repos/x", Some("POST"), None);
    assert_eq!(
        got.to_string(),
        "\
profile:   llm (enforce)
request:   CONNECT api.github.com:443
decision:  allow
rule:      b.yaml:10 (host api.github.com, ports 80, 443, rung bump, inject authorization: Bearer {github-token})
rung:      bump
http:      POST /repos/x: allowed (methods any but TRACE and CONNECT; paths any)
inject:    authorization: Bearer {github-token}
note:      bump: the edge terminates the sandbox's TLS with a certificate for `api.github.com` from the deployment CA, decides every request inside on its own (Host, method, path) and opens its own TLS to the upstream, validating its certificate
note:      the deny-set is checked on the resolved addresses at connect time; give them (`--resolve host=ip`) to see its verdict
note:      the edge replaces any value the sandbox sent in these headers, and removes the injected values from the response before it reaches the sandbox
note:      at run time the edge also checks the session token and kill switch, limits and tripwire, its own listeners and operator additions to the deny-set
"
    );
    let details: Vec<(&str, Option<&str>, Option<&str>, &str)> = vec![
        (
            "https://api.anthropic.com/v1/x",
            Some("get"),
            None,
            "get /v1/x: refused: methods are compared exactly as sent, and `get` is not upper-case (methods GET, POST; paths /v1/)",
        ),
        (
            "https://api.anthropic.com/v1/x",
            Some("PUT"),
            None,
            "PUT /v1/x: refused: `PUT` is not listed (methods GET, POST; paths /v1/)",
        ),
        (
            "https://api.anthropic.com/v2/x?a=1",
            None,
            None,
            "GET /v2/x?a=1: refused: `/v2/x` is under none of the path prefixes (methods GET, POST; paths /v1/)",
        ),
        (
            "https://api.anthropic.com/v1/a\\b",
            None,
            None,
            "GET /v1/a\\b: refused: the path holds a backslash (methods GET, POST; paths /v1/)",
        ),
        (
            "https://api.github.com/",
            Some("TRACE"),
            None,
            "TRACE /: refused: `TRACE` is refused unless the rule lists it (methods any but TRACE and CONNECT; paths any)",
        ),
    ];
    for (request, method, path, want) in details {
        let got = bump("llm", request, method, path);
        let http = got.http.as_ref().unwrap();
        assert_eq!(
            format!("{} {}: {}", http.method, http.path, http.detail),
            want
        );
    }
    let trial = bump(
        "llm-trial",
        "https://api.anthropic.com/v1/models",
        None,
        None,
    );
    assert_eq!(
        trial.notes[2],
        "report mode: enforce mode would deny this request inside the tunnel (method_not_allowed); the edge lets it through, audits it with enforce_would_deny: true and injects nothing"
    );
    let plain = bump("llm", "http://api.github.com/repos", None, None);
    assert_eq!(
        plain.notes[..2],
        [
            "bump over plain HTTP: forwarded with Host `api.github.com:80`; the edge reads the request and applies rule b.yaml:10's method and path rules",
            "the deny-set is checked on the resolved addresses at connect time; give them (`--resolve host=ip`) to see its verdict",
        ]
    );
    assert_eq!(
        plain.notes[2],
        "no credential over plain HTTP: the edge injects only on its own validated TLS to the upstream"
    );
    let json = serde_json::to_value(bump(
        "llm",
        "https://api.anthropic.com/v1/m",
        Some("POST"),
        None,
    ))
    .unwrap();
    assert_eq!(
        json["http"],
        json!({"method": "POST", "path": "/v1/m", "allowed": true, "detail": "allowed (methods GET, POST; paths /v1/)"})
    );
    assert_eq!(
        json["inject"],
        json!([{"secret": "anthropic-api-key", "header": "x-api-key", "format": "{secret}"}])
    );
}

#[test]
fn the_deny_set_answers_before_the_request_inside() {
    let set = PolicySet::from_sources(&[("b.yaml".to_owned(), BUMP.to_owned())]).unwrap();
    let request = Request::parse("https://api.anthropic.com/admin", Some("get"), None).unwrap();
    let answers: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
    let got = explain(&set, "llm", &request, &answers, &DenySet::mandatory());
    assert_eq!(
        inside(&got),
        (
            Decision::Deny,
            Some("resolved_address_denied"),
            false,
            None,
            vec![]
        )
    );
}
