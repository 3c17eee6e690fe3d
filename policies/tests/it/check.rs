//! `policy check` on fixtures: each file in `tests/fixtures/check/` states, in `# expect:`
//! comments at its end, exactly the diagnostics (line:column: message) the check must give,
//! and, in `# deployment:` comments, the deployment it is checked against (`ca_configured:
//! false`, `secrets: a, b`); without them, the deployment is unknown and not checked.

use std::collections::BTreeSet;
use std::path::Path;

use policies::{Deployment, PolicySet};

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The deployment a fixture states in its `# deployment:` comments.
fn deployment(text: &str) -> Deployment {
    let mut deployment = Deployment::default();
    for line in text
        .lines()
        .filter_map(|l| l.strip_prefix("# deployment: "))
    {
        match line.split_once(": ") {
            Some(("ca_configured", value)) => deployment.ca_configured = Some(value == "true"),
            Some(("secrets", names)) => {
                let names: BTreeSet<String> = names
                    .split(", ")
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
                deployment.secrets = Some(names);
            }
            _ => panic!("unknown deployment line {line:?}"),
        }
    }
    deployment
}

/// Every diagnostic of one file checked alone, as `line:column: [warning: ]message`.
fn diagnostics(name: &str, text: &str) -> Vec<String> {
    let sources = [(name.to_owned(), text.to_owned())];
    let checked = PolicySet::check_sources_with(&sources, &deployment(text));
    let mut out: Vec<(usize, usize, String)> = checked
        .result
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.line, e.column, e.message))
        .chain(
            checked
                .warnings
                .into_iter()
                .map(|w| (w.line, w.column, format!("warning: {}", w.message))),
        )
        .collect();
    out.sort();
    out.into_iter()
        .map(|(line, column, message)| format!("{line}:{column}: {message}"))
        .collect()
}

#[test]
fn every_error_class_has_its_fixture_with_exact_message_and_position() {
    let files = fixtures();
    assert!(files.len() >= 37, "{files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let want: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(!want.is_empty(), "{name} states no expectation");
        assert_eq!(diagnostics(name, &text), want, "{name}");
    }
}

#[test]
fn a_file_with_many_errors_reports_all_of_them() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check/many-errors.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let got = diagnostics("many-errors.yaml", &text);
    // One per problem written into the file (its `# expect:` lines, checked above), in order.
    assert_eq!(got.len(), 32, "{got:#?}");
    assert_eq!(
        got.first().map(String::as_str),
        Some(
            "3:18: profile name `Sandbox_1` is not valid; use 1 to 63 lowercase letters, digits or `-`, starting and ending with a letter or digit"
        )
    );
    assert_eq!(
        got.last().map(String::as_str),
        Some("56:22: `spec.destinations` must be a list of destination rules, found `443`")
    );
}
