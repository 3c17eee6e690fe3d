use std::path::Path;

use serde_json::json;

use super::{Severity, check_paths};
use crate::Deployment;

const GOOD: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: good}
spec:
  limits: {requests_per_second: 5, burst: 10, max_connections: 4, tunnel_idle_timeout: 1m, tunnel_max_lifetime: 1h}
  tripwire: {upload_bytes: 1GiB, distinct_destinations: 10, window: 5m, action: alert}
  destinations:
    - host: pypi.org
      rung: pass-through
";

const DEFAULTS: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: defaults}
spec:
  limits: {burst: 10}
  destinations:
    - host: pypi.org
      rung: pass-through
";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_directory_is_one_set_and_warnings_do_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.yaml", GOOD);
    write(dir.path(), "defaults.yml", DEFAULTS);
    write(dir.path(), "good.tests.yaml", "not: [a policy");
    write(dir.path(), "notes.txt", "ignored");
    let report = check_paths(&[dir.path().to_path_buf()], &Deployment::default());
    let d = dir.path().join("defaults.yml").display().to_string();
    let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            format!(
                "{d}:4:1: warning: `spec.tripwire` is not set; the documented defaults apply: upload_bytes 256MiB, distinct_destinations 200, window 10m, action alert; write them out so reviewers see them"
            ),
            format!(
                "{d}:5:11: warning: `spec.limits` leaves out requests_per_second, max_connections, tunnel_idle_timeout, tunnel_max_lifetime; the documented defaults apply: requests_per_second 50, max_connections 64, tunnel_idle_timeout 5m, tunnel_max_lifetime 1h; write them out so reviewers see them"
            ),
        ]
    );
    assert!(report.ok());
    assert_eq!((report.files, report.profiles), (2, 2));
    assert_eq!(
        report.to_string().lines().last(),
        Some("ok: 2 profile(s) in 2 file(s), 2 warning(s)")
    );
    assert_eq!(
        serde_json::to_value(&report.diagnostics[0]).unwrap(),
        json!({
            "file": d,
            "line": 4,
            "column": 1,
            "severity": "warning",
            "message": "`spec.tripwire` is not set; the documented defaults apply: upload_bytes 256MiB, distinct_destinations 200, window 10m, action alert; write them out so reviewers see them"
        })
    );
}

#[test]
fn each_directory_is_its_own_set_and_loose_files_are_one_more() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write(a.path(), "p.yaml", GOOD);
    write(b.path(), "p.yaml", GOOD);
    // The same profile name in two directories is fine: two edges, two sets.
    let report = check_paths(
        &[a.path().to_path_buf(), b.path().to_path_buf()],
        &Deployment::default(),
    );
    assert_eq!(report.diagnostics, []);
    assert_eq!(report.profiles, 2);
    // Two loose files are one set: the second definition is an error.
    let report = check_paths(
        &[a.path().join("p.yaml"), b.path().join("p.yaml")],
        &Deployment::default(),
    );
    let first = a.path().join("p.yaml").display().to_string();
    let second = b.path().join("p.yaml").display().to_string();
    let (later, earlier) = if first > second {
        (&first, &second)
    } else {
        (&second, &first)
    };
    let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [format!(
            "{later}:3:18: profile `good` is already defined at {earlier}:3"
        )]
    );
    assert!(!report.ok());
    assert_eq!(report.count(Severity::Error), 1);
}

#[test]
fn unreadable_and_empty_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let report = check_paths(&[dir.path().to_path_buf()], &Deployment::default());
    let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [format!(
            "{}:0:0: no policy files (`*.yaml`, `*.yml`) in this directory; an edge loading it would deny every session",
            dir.path().display()
        )]
    );
    write(dir.path(), "bad.yaml", "\u{0}");
    std::fs::write(dir.path().join("latin1.yaml"), [0xe9]).unwrap();
    write(dir.path(), "good.yaml", GOOD);
    let report = check_paths(
        &[dir.path().to_path_buf(), dir.path().join("missing.yaml")],
        &Deployment::default(),
    );
    let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    let shown = |n: &str| dir.path().join(n).display().to_string();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("{}:1:1: ", shown("bad.yaml"))),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        format!("{}:0:0: the file is not UTF-8 text", shown("latin1.yaml"))
    );
    assert!(
        lines[2].starts_with(&format!(
            "{}:0:0: cannot read the file: ",
            shown("missing.yaml")
        )),
        "{lines:?}"
    );
    assert!(!report.ok());
}
