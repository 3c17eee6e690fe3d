//! `trust-edge policy …` end to end: one smoke test per command, each comparing the binary's
//! exact output and exit code with the expected files in `policies/tests/fixtures/expected/`.
//! (The logic behind each command is tested in the `policies` crate.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_trust-edge");
const FIXTURES: &str = "policies/tests/fixtures";

/// Runs `trust-edge policy ARGS` from the workspace root (so paths in the output are the
/// relative paths given).
fn policy(args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("policy")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn expected(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join("expected")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn check_passes_the_shipped_policies_and_fails_a_broken_file() {
    let ok = policy(&["check", "policies/default", "policies/examples"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(
        stdout(&ok).ends_with("ok: 5 profile(s) in 4 file(s), 2 warning(s)\n"),
        "{}",
        stdout(&ok)
    );

    let bad = policy(&[
        "check",
        &format!("{FIXTURES}/check/host-twice-different-rungs.yaml"),
        &format!("{FIXTURES}/check/missing-limits.yaml"),
        "--format",
        "json",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stdout(&bad), expected("check.json"));

    let warnings_only = policy(&["check", &format!("{FIXTURES}/check/missing-limits.yaml")]);
    assert_eq!(
        warnings_only.status.code(),
        Some(0),
        "{}",
        stdout(&warnings_only)
    );
}

#[test]
fn check_against_the_deployment_needs_a_ca_and_known_secrets() {
    let dep = format!("{FIXTURES}/deployment");
    let bad = policy(&[
        "check",
        "--edge-config",
        &format!("{dep}/edge-no-ca.toml"),
        "--sds-config",
        &format!("{dep}/sds.toml"),
        &format!("{dep}/agent.yaml"),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stdout(&bad), expected("check-deployment.txt"));

    // The shipped example needs `anthropic-api-key` and a CA: both are there.
    let ok = policy(&[
        "check",
        "--edge-config",
        &format!("{dep}/edge-ca.toml"),
        "--sds-config",
        &format!("{dep}/sds.toml"),
        "policies/examples",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).ends_with("ok: 4 profile(s) in 3 file(s), 2 warning(s)\n"));

    // Without the flags, the deployment is not checked.
    let alone = policy(&["check", &format!("{dep}/agent.yaml")]);
    assert_eq!(alone.status.code(), Some(0), "{}", stdout(&alone));

    // Only one of the two: only that check.
    let ca_only = policy(&[
        "check",
        "--edge-config",
        &format!("{dep}/edge-no-ca.toml"),
        "--format",
        "json",
        &format!("{dep}/agent.yaml"),
    ]);
    assert_eq!(ca_only.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&ca_only.stdout).unwrap();
    let lines: Vec<(u64, u64)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    assert_eq!(lines, [(9, 13), (12, 13)]);

    // A file source: the names in its manifest count.
    let files = policy(&[
        "check",
        "--sds-config",
        &format!("{dep}/sds-files.toml"),
        "policies/examples",
    ]);
    assert_eq!(files.status.code(), Some(0), "{}", stdout(&files));
    let no_manifest = policy(&[
        "check",
        "--sds-config",
        &format!("{dep}/sds-no-manifest.toml"),
        "policies/examples",
    ]);
    assert_eq!(no_manifest.status.code(), Some(1));
    let err = String::from_utf8(no_manifest.stderr).unwrap();
    assert!(
        err.starts_with(&format!(
            "trust-edge: --sds-config {dep}/sds-no-manifest.toml: policies/tests/fixtures/deployment/no-such-dir/manifest.yaml: "
        )),
        "{err}"
    );
    let broken = policy(&[
        "check",
        "--sds-config",
        &format!("{dep}/edge-ca.toml"),
        "policies/examples",
    ]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        String::from_utf8(broken.stderr)
            .unwrap()
            .starts_with(&format!("trust-edge: --sds-config {dep}/edge-ca.toml does not load:\n4:2: unknown field `bump`")),
    );
    let missing = policy(&[
        "check",
        "--edge-config",
        &format!("{dep}/missing.toml"),
        "policies/examples",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .starts_with(&format!("trust-edge: --edge-config {dep}/missing.toml: ")),
    );
}

#[test]
fn explain_shows_the_method_path_and_credentials_of_a_bump_rule() {
    let text = policy(&[
        "explain",
        "--profile",
        "llm-agent",
        "--policy-dir",
        "policies/examples",
        "https://api.anthropic.com/v1/messages",
        "--method",
        "POST",
        "--resolve",
        "api.anthropic.com=160.79.104.10",
    ]);
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(stdout(&text), expected("explain-bump.txt"));

    let json = policy(&[
        "explain",
        "--profile",
        "llm-agent",
        "--policy-dir",
        "policies/examples",
        "api.anthropic.com:443",
        "--method",
        "GET",
        "--path",
        "/v1/%2e%2e/admin",
        "--format",
        "json",
    ]);
    assert_eq!(json.status.code(), Some(0));
    assert_eq!(stdout(&json), expected("explain-bump-path.json"));

    let both = policy(&[
        "explain",
        "--profile",
        "llm-agent",
        "--policy-dir",
        "policies/examples",
        "https://api.anthropic.com/v1/",
        "--path",
        "/x",
    ]);
    assert_eq!(both.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(both.stderr).unwrap(),
        "trust-edge: https://api.anthropic.com/v1/: the URL carries the path; give the path in the URL, or a CONNECT authority and a path\n"
    );
}

#[test]
fn explain_shows_the_rule_the_rung_and_the_deny_set() {
    let text = policy(&[
        "explain",
        "--profile",
        "internal-build",
        "--policy-dir",
        "policies/examples",
        "artifacts.internal.example:8443",
        "--resolve",
        "artifacts.internal.example=10.20.0.15,10.20.0.16",
    ]);
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(stdout(&text), expected("explain-internal.txt"));

    let json = policy(&[
        "explain",
        "--profile",
        "browser-agent",
        "--policy-dir",
        "policies/examples",
        "https://news.example.org/",
        "--resolve",
        "news.example.org=10.0.0.5",
        "--format",
        "json",
    ]);
    assert_eq!(json.status.code(), Some(0));
    assert_eq!(stdout(&json), expected("explain-report.json"));

    let wrong_host = policy(&[
        "explain",
        "--profile",
        "sandbox-default",
        "https://pypi.org/",
        "--resolve",
        "github.com=1.2.3.4",
    ]);
    assert_eq!(wrong_host.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(wrong_host.stderr).unwrap(),
        "trust-edge: --resolve github.com=1.2.3.4: `github.com` is not the request's host `pypi.org`\n"
    );
}

#[test]
fn test_runs_the_shipped_cases_and_reports_failures_with_junit() {
    let ok = policy(&["test", "policies/default", "policies/examples"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(
        stdout(&ok).ends_with("45 passed, 0 failed, 0 file(s) with errors\n"),
        "{}",
        stdout(&ok)
    );

    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let failing = policy(&[
        "test",
        &format!("{FIXTURES}/suite-fail"),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(failing.status.code(), Some(1));
    assert_eq!(stdout(&failing), expected("suite-fail.txt"));
    assert_eq!(
        std::fs::read_to_string(&junit).unwrap(),
        expected("suite-fail.junit.xml")
    );
}

#[test]
fn diff_lists_what_changed_per_profile() {
    let old = format!("{FIXTURES}/diff/old.yaml");
    let new = format!("{FIXTURES}/diff/new.yaml");
    let text = policy(&["diff", &old, &new]);
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(stdout(&text), expected("diff.txt"));
    let json = policy(&["diff", &old, &new, "--format", "json", "--exit-code"]);
    assert_eq!(json.status.code(), Some(1));
    assert_eq!(stdout(&json), expected("diff.json"));
    let same = policy(&[
        "diff",
        "policies/default",
        "policies/default",
        "--exit-code",
    ]);
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(stdout(&same), "no changes\n");
}

#[test]
fn schema_prints_the_shipped_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/schema");
    for (args, file) in [
        (&["schema"][..], "egress-profile.schema.json"),
        (&["schema", "--tests"][..], "policy-tests.schema.json"),
    ] {
        let out = policy(args);
        assert_eq!(out.status.code(), Some(0));
        let shipped = std::fs::read_to_string(root.join(file)).unwrap();
        assert_eq!(
            stdout(&out),
            shipped,
            "policies/schema/{file} is stale: regenerate it with `trust-edge policy {}`",
            args.join(" ")
        );
    }
}
