use std::path::{Path, PathBuf};

use super::{Run, run_paths, run_text};
use crate::set::PolicySet;

const POLICY: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: t}
spec:
  destinations:
    - host: pypi.org
      rung: pass-through
    - host: artifacts.internal.example
      ports: [8443]
      addresses: [10.20.0.15]
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

fn run(tests: &str) -> super::FileRun {
    let set = set();
    run_text(Ok(&set), Path::new("dir"), "t.tests.yaml", tests)
}

const HEAD: &str = "apiVersion: trust-edge/v1\nkind: PolicyTests\nprofile: t\ncases:\n";

#[test]
fn passing_cases_pass() {
    let got = run(&format!(
        "{HEAD}{}",
        "  - name: index
    url: https://pypi.org/simple/
    expect: {decision: allow, rung: pass-through, rule: pypi.org}
  - name: by id
    connect: pypi.org:443
    expect: {decision: allow, rule: \"p.yaml:6\"}
  - name: port
    url: http://pypi.org/
    method: POST
    expect: {decision: deny, reason: port_not_allowed}
  - name: rebinding
    url: https://pypi.org/
    resolve: [151.101.0.223, 169.254.169.254]
    expect: {decision: deny, reason: resolved_address_denied}
  - name: internal
    connect: artifacts.internal.example:8443
    resolve: [10.20.0.15]
    expect: {decision: allow, deny_set_override: true}
  - name: trial
    profile: trial
    connect: github.com:443
    expect: {decision: allow, enforce_would_deny: true, reason: destination_not_allowed}
  - name: unknown
    profile: nope
    connect: pypi.org:443
    expect: {decision: deny, reason: unknown_profile}
"
    ));
    assert_eq!(got.errors, []);
    let names: Vec<(&str, usize, bool)> = got
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.line, c.passed()))
        .collect();
    assert_eq!(
        names,
        [
            ("index", 5, true),
            ("by id", 8, true),
            ("port", 11, true),
            ("rebinding", 15, true),
            ("internal", 19, true),
            ("trial", 23, true),
            ("unknown", 27, true)
        ]
    );
}

#[test]
fn failing_cases_say_what_differed() {
    let got = run(&format!(
        "{HEAD}{}",
        "  - name: wrong decision
    connect: github.com:443
    expect: {decision: allow}
  - name: wrong reason
    connect: pypi.org:22
    expect: {decision: deny, reason: destination_not_allowed}
  - name: wrong rule and rung
    connect: pypi.org:443
    expect: {decision: allow, rule: \"*.pypi.org\", rung: bump}
  - name: report mode is not a plain allow
    profile: trial
    connect: github.com:443
    expect: {decision: allow}
  - name: no override
    connect: artifacts.internal.example:8443
    expect: {decision: allow, deny_set_override: true}
"
    ));
    assert_eq!(got.errors, []);
    let failures: Vec<Vec<String>> = got.cases.iter().map(|c| c.failures.clone()).collect();
    assert_eq!(
        failures,
        [
            vec!["expected allow, got deny (destination_not_allowed)".to_owned()],
            vec!["expected reason destination_not_allowed, got deny (port_not_allowed)".to_owned()],
            vec![
                "expected rung bump, got allow by p.yaml:6 (host pypi.org), rung pass-through".to_owned(),
                "expected rule *.pypi.org, got allow by p.yaml:6 (host pypi.org), rung pass-through".to_owned(),
            ],
            vec!["expected enforce_would_deny: false, got allow (report mode) (destination_not_allowed)".to_owned()],
            vec!["expected deny_set_override: true, got allow by p.yaml:8 (host artifacts.internal.example), rung pass-through".to_owned()],
        ]
    );
}

#[test]
fn test_file_errors_have_positions() {
    let got = run("\
apiVersion: trust-edge/v1
kind: PolicyTest
cases:
  - name: a
    profile: t
    url: pypi.org
    expect: {decision: allow}
  - name: b
    profile: t
    connect: pypi.org:443
    expect: {decision: deny}
  - name: c
    connect: pypi.org:443
    url: https://pypi.org/
    expect: {decision: allow, reason: rate_limited, inject: k}
  - name: a
    profile: t
    connect: pypi.org:443
    expect: {desicion: allow}
  - name: e
    profile: t
    url: https://pypi.org/
    path: /x
    resolve: [10.0.0.300]
    expect: {decision: maybe}
");
    let errors: Vec<String> = got.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "t.tests.yaml:2:7: `kind` must be `PolicyTests`, found `PolicyTest`",
            "t.tests.yaml:6:10: `cases[0].url` must start with `https://` or `http://`; use `connect` for a `host:port`",
            "t.tests.yaml:11:13: `cases[1].expect` is missing `reason` (for example `reason: destination_not_allowed`)",
            "t.tests.yaml:12:5: `cases[2]` is missing `profile` (for example `profile: sandbox-default`)",
            "t.tests.yaml:13:14: `cases[2]` has both `url` and `connect`; keep one",
            "t.tests.yaml:15:39: `cases[2].expect.reason`: `rate_limited` is decided by the running edge, not by the policy; a policy test can expect `unknown_profile`, `ip_literal_not_allowed`, `destination_not_allowed`, `port_not_allowed`, `resolved_address_denied`, `method_not_allowed` or `path_not_allowed`",
            "t.tests.yaml:15:39: `cases[2].expect.reason` goes with `decision: deny`, or with `enforce_would_deny: true` in report mode",
            "t.tests.yaml:15:61: `cases[2].expect.inject` must be a list of secret names, found `k`",
            "t.tests.yaml:19:13: `cases[3].expect` is missing `decision` (for example `decision: allow`)",
            "t.tests.yaml:19:14: unknown key `desicion` in `cases[3].expect`; did you mean `decision`?",
            "t.tests.yaml:23:5: `cases[4].path` does not go with `url`, which carries its own path; put the path in the URL",
            "t.tests.yaml:24:15: `cases[4].resolve`: `10.0.0.300` is not an IP address",
            "t.tests.yaml:25:24: `cases[4].expect.decision` cannot be `maybe`; expected one of `allow` or `deny`",
        ]
    );
    assert!(got.cases.is_empty());
}

#[test]
fn duplicate_case_names_are_refused() {
    let got = run(&format!(
        "{HEAD}  - {{name: a, connect: \"pypi.org:443\", expect: {{decision: allow}}}}\n  - {{name: a, connect: \"pypi.org:443\", expect: {{decision: allow}}}}\n"
    ));
    let errors: Vec<String> = got.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        ["t.tests.yaml:6:5: test `a` is already defined at line 5; give each case its own name"]
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_directory_runs_its_test_files_and_renders_junit() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.yaml", POLICY);
    write(
        dir.path(),
        "a.tests.yaml",
        &format!(
            "{HEAD}  - name: index & co\n    connect: pypi.org:443\n    expect: {{decision: allow}}\n"
        ),
    );
    write(
        dir.path(),
        "b.tests.yml",
        &format!(
            "{HEAD}  - name: \"<ssh>\"\n    connect: pypi.org:22\n    expect: {{decision: allow}}\n"
        ),
    );
    let run = run_paths(&[dir.path().to_path_buf()]);
    assert_eq!(
        (run.passed(), run.failed(), run.errored(), run.ok()),
        (1, 1, 0, false)
    );
    let a = dir.path().join("a.tests.yaml").display().to_string();
    let b = dir.path().join("b.tests.yml").display().to_string();
    assert_eq!(
        run.to_string(),
        format!(
            "{a}\n  ok    index & co (line 5)\n{b}\n  FAIL  <ssh> (line 5)\n        expected allow, got deny (port_not_allowed)\n1 passed, 1 failed, 0 file(s) with errors"
        )
    );
    assert_eq!(
        run.junit(),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<testsuites name=\"trust-edge policy test\" tests=\"2\" failures=\"1\" errors=\"0\">
  <testsuite name=\"{a}\" tests=\"1\" failures=\"0\" errors=\"0\">
    <testcase name=\"index &amp; co\" classname=\"{a}\" file=\"{a}\" line=\"5\"/>
  </testsuite>
  <testsuite name=\"{b}\" tests=\"1\" failures=\"1\" errors=\"0\">
    <testcase name=\"&lt;ssh&gt;\" classname=\"{b}\" file=\"{b}\" line=\"5\">
      <failure message=\"expected allow, got deny (port_not_allowed)\" type=\"policy\">expected allow, got deny (port_not_allowed)</failure>
    </testcase>
  </testsuite>
</testsuites>
"
        )
    );

    // One test file given alone runs against the policies of its directory.
    let alone = run_paths(&[dir.path().join("a.tests.yaml")]);
    assert_eq!((alone.passed(), alone.failed(), alone.ok()), (1, 0, true));
}

#[test]
fn broken_policies_and_missing_tests_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = run_paths(&[dir.path().to_path_buf()]);
    assert_eq!(empty.errored(), 1);
    assert!(!empty.ok());
    assert_eq!(
        empty.files[0].errors[0].message,
        format!(
            "no policy test files (`*.tests.yaml`) in {}",
            dir.path().display()
        )
    );

    write(
        dir.path(),
        "p.yaml",
        &POLICY.replace("rung: pass-through\n---", "rung: bumpy\n---"),
    );
    write(
        dir.path(),
        "a.tests.yaml",
        &format!("{HEAD}  - name: x\n    connect: pypi.org:443\n    expect: {{decision: allow}}\n"),
    );
    let broken = run_paths(&[dir.path().to_path_buf()]);
    assert!(!broken.ok());
    let errors: Vec<String> = broken.files[0]
        .errors
        .iter()
        .map(ToString::to_string)
        .collect();
    let a = dir.path().join("a.tests.yaml").display().to_string();
    let shown = dir.path().display();
    assert_eq!(
        errors,
        [
            format!(
                "{a}:0:0: the policies in {shown} do not load (1 error(s)); run `trust-edge policy check {shown}`"
            ),
            "p.yaml:11:13: `spec.destinations[1].rung` cannot be `bumpy`; did you mean `bump`?"
                .to_owned(),
        ]
    );
    let xml = broken.junit();
    assert!(xml.contains("<testcase name=\"(load)\""), "{xml}");
    assert!(xml.contains("errors=\"1\""), "{xml}");
}

#[test]
fn an_empty_run_is_not_ok() {
    assert!(!Run::default().ok());
    assert_eq!(
        Run::default().to_string(),
        "0 passed, 0 failed, 0 file(s) with errors; no test case ran"
    );
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
      inject:
        - {secret: anthropic-api-key, header: x-api-key}
        - {secret: anthropic-beta, header: anthropic-beta}
";

#[test]
fn cases_check_the_request_inside_a_bump_tunnel_and_its_credentials() {
    let set = PolicySet::from_sources(&[("b.yaml".to_owned(), BUMP.to_owned())]).unwrap();
    let tests = "\
apiVersion: trust-edge/v1
kind: PolicyTests
profile: llm
cases:
  - name: a message gets both credentials, in any order
    url: https://api.anthropic.com/v1/messages
    method: POST
    expect: {decision: allow, rung: bump, inject: [anthropic-beta, anthropic-api-key]}
  - name: the method and path inside a CONNECT
    connect: api.anthropic.com:443
    method: GET
    path: /v1/models?limit=5
    expect: {decision: allow, inject: [anthropic-api-key, anthropic-beta]}
  - name: a lower-case method is refused and injects nothing
    url: https://api.anthropic.com/v1/messages
    method: post
    expect: {decision: deny, reason: method_not_allowed, inject: []}
  - name: a dot-segment is refused
    connect: api.anthropic.com:443
    path: /v1/../admin
    expect: {decision: deny, reason: path_not_allowed}
  - name: expected to inject one, injects two
    url: https://api.anthropic.com/v1/messages
    expect: {decision: allow, inject: [anthropic-api-key]}
  - name: expected no credential over TLS
    url: https://api.anthropic.com/v1/x
    expect: {decision: allow, inject: []}
";
    let got = run_text(Ok(&set), Path::new("dir"), "b.tests.yaml", tests);
    assert_eq!(got.errors, []);
    let failures: Vec<Vec<String>> = got.cases.iter().map(|c| c.failures.clone()).collect();
    assert_eq!(
        failures,
        [
            vec![],
            vec![],
            vec![],
            vec![],
            vec!["expected inject [anthropic-api-key], got inject [anthropic-api-key, anthropic-beta]: allow by b.yaml:6 (host api.anthropic.com), rung bump".to_owned()],
            vec!["expected inject [], got inject [anthropic-api-key, anthropic-beta]: allow by b.yaml:6 (host api.anthropic.com), rung bump".to_owned()],
        ]
    );
}
