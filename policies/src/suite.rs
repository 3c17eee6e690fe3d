//! `policy test`: table-driven cases kept beside the policies they test.
//!
//! A policy directory holds, next to its policy files, test files named `*.tests.yaml` (or
//! `*.tests.yml`; the policy loader skips them). Each test file is one or more YAML
//! documents of `kind: PolicyTests`:
//!
//! ```yaml
//! apiVersion: trust-edge/v1
//! kind: PolicyTests
//! profile: sandbox-default          # the default for every case (optional)
//! cases:
//!   - name: pip reaches the index
//!     url: https://pypi.org/simple/requests/
//!     expect: {decision: allow, rung: pass-through, rule: pypi.org}
//!   - name: ssh to GitHub is refused
//!     connect: github.com:22
//!     expect: {decision: deny, reason: port_not_allowed}
//!   - name: the API key is attached to a message
//!     url: https://api.anthropic.com/v1/messages
//!     method: POST
//!     expect: {decision: allow, rung: bump, inject: [anthropic-api-key]}
//!   - name: an allowed name that resolves to the metadata service is refused
//!     url: https://pypi.org/
//!     resolve: [169.254.169.254]
//!     expect: {decision: deny, reason: resolved_address_denied}
//! ```
//!
//! Each case is run through [`crate::explain::explain`] against the directory's policies and
//! the mandatory deny-set, and every expectation it states is compared.

mod file;
mod junit;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::denyset::DenySet;
use crate::error::PolicyError;
use crate::explain::{Decision, Explanation, explain};
use crate::set::{PolicySet, file_error, is_test_file_name, read_policy_file};
use crate::walker::Walker;
use crate::yaml;

pub use file::KIND;
#[cfg(test)]
pub(crate) use file::{CASE_KEYS, EXPECT_KEYS, TOP_KEYS};

/// The result of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRun {
    /// The case's `name`.
    pub name: String,
    /// The line the case starts on.
    pub line: usize,
    /// Each expectation that did not hold; empty when the case passed.
    pub failures: Vec<String>,
}

impl CaseRun {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The results of one test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRun {
    /// The test file (or, when it has none, the directory), as given on the command line.
    pub file: String,
    /// Its cases, in file order.
    pub cases: Vec<CaseRun>,
    /// Problems that kept cases from running: the test file's own errors, or the errors of
    /// the policies it tests.
    pub errors: Vec<PolicyError>,
}

/// The results of a whole `policy test` run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Run {
    /// One entry per test file.
    pub files: Vec<FileRun>,
}

impl Run {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.cases().filter(|c| c.passed()).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases().filter(|c| !c.passed()).count()
    }

    /// Files that could not be run (or ran only in part).
    pub fn errored(&self) -> usize {
        self.files.iter().filter(|f| !f.errors.is_empty()).count()
    }

    /// Whether the run succeeded: at least one case, every case passed, no errors.
    pub fn ok(&self) -> bool {
        self.passed() > 0 && self.failed() == 0 && self.errored() == 0
    }

    /// The run as JUnit XML, for CI systems.
    pub fn junit(&self) -> String {
        junit::render(self)
    }

    fn cases(&self) -> impl Iterator<Item = &CaseRun> {
        self.files.iter().flat_map(|f| f.cases.iter())
    }
}

/// Runs the tests found at `paths`: a directory runs every `*.tests.yaml` in it against the
/// policies in it; a test file runs against the policies in its directory.
pub fn run_paths(paths: &[PathBuf]) -> Run {
    let mut run = Run::default();
    for path in paths {
        let shown = path.display().to_string();
        let (dir, files) = if path.is_dir() {
            (path.clone(), test_files(path))
        } else {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            (parent, Ok(vec![path.clone()]))
        };
        let files = match files {
            Ok(files) if files.is_empty() => {
                Err(format!("no policy test files (`*.tests.yaml`) in {shown}"))
            }
            other => other,
        };
        let files = match files {
            Ok(files) => files,
            Err(message) => {
                run.files.push(FileRun {
                    file: shown.clone(),
                    cases: Vec::new(),
                    errors: vec![file_error(&shown, &message)],
                });
                continue;
            }
        };
        let policies = PolicySet::load_dir(&dir);
        for file in files {
            let name = file.display().to_string();
            let run_file = match read_policy_file(&file) {
                Ok(Some(text)) => run_text(policies.as_ref(), &dir, &name, &text),
                Ok(None) => error_run(&name, "not a regular file"),
                Err(message) => error_run(&name, &message),
            };
            run.files.push(run_file);
        }
    }
    run
}

fn error_run(file: &str, message: &str) -> FileRun {
    FileRun {
        file: file.to_owned(),
        cases: Vec::new(),
        errors: vec![file_error(file, message)],
    }
}

/// The test files directly in `dir`, sorted by name.
fn test_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        if entry.file_name().to_str().is_some_and(is_test_file_name) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Runs the test file `file` (its text) against `policies`, the policy set loaded from `dir`
/// (or its errors).
pub fn run_text(
    policies: Result<&PolicySet, &Vec<PolicyError>>,
    dir: &Path,
    file: &str,
    text: &str,
) -> FileRun {
    let mut out = FileRun {
        file: file.to_owned(),
        cases: Vec::new(),
        errors: Vec::new(),
    };
    let docs = match yaml::parse_documents(text) {
        Ok(docs) => docs,
        Err(e) => {
            out.errors.push(PolicyError {
                file: file.to_owned(),
                line: e.pos.line,
                column: e.pos.column,
                message: e.message,
            });
            return out;
        }
    };
    let mut w = Walker::new(file);
    let cases = file::cases(&mut w, &docs);
    let (mut errors, _) = w.into_parts();
    errors.sort_by_key(|e| (e.line, e.column));
    out.errors = errors;
    let set = match policies {
        Ok(set) => set,
        Err(errors) => {
            out.errors.push(file_error(
                file,
                &format!(
                    "the policies in {} do not load ({} error(s)); run `trust-edge policy check {}`",
                    dir.display(),
                    errors.len(),
                    dir.display()
                ),
            ));
            out.errors.extend(errors.iter().cloned());
            return out;
        }
    };
    let deny_set = DenySet::mandatory();
    for case in cases {
        let got = explain(set, &case.profile, &case.request, &case.answers, &deny_set);
        out.cases.push(CaseRun {
            name: case.name.clone(),
            line: case.line,
            failures: compare(&case.expect, &got),
        });
    }
    out
}

/// Every expectation of `want` that `got` does not meet, as sentences.
fn compare(want: &file::Expect, got: &Explanation) -> Vec<String> {
    let mut failures = Vec::new();
    let outcome = summary(got);
    if want.decision != got.decision {
        failures.push(format!(
            "expected {}, got {outcome}",
            want.decision.as_str()
        ));
        return failures;
    }
    if want.enforce_would_deny != got.enforce_would_deny {
        failures.push(format!(
            "expected enforce_would_deny: {}, got {outcome}",
            want.enforce_would_deny
        ));
    }
    if let Some(reason) = want.reason
        && got.reason != Some(reason)
    {
        failures.push(format!("expected reason {}, got {outcome}", reason.code()));
    }
    if let Some(rung) = &want.rung
        && got.rung.as_ref() != Some(rung)
    {
        failures.push(format!("expected rung {rung}, got {outcome}"));
    }
    if let Some(rule) = &want.rule
        && !got
            .rule
            .as_ref()
            .is_some_and(|r| r.id == *rule || r.host == *rule)
    {
        failures.push(format!("expected rule {rule}, got {outcome}"));
    }
    if let Some(inject) = &want.inject {
        let mut got_names: Vec<&str> = got.inject.iter().map(|i| i.secret.as_str()).collect();
        got_names.sort_unstable();
        if *inject != got_names {
            failures.push(format!(
                "expected inject [{}], got inject [{}]: {outcome}",
                inject.join(", "),
                got_names.join(", ")
            ));
        }
    }
    if let Some(flag) = want.deny_set_override {
        let overridden = got
            .address_check
            .as_ref()
            .is_some_and(|c| c.overrides.is_some());
        if flag != overridden {
            failures.push(format!("expected deny_set_override: {flag}, got {outcome}"));
        }
    }
    failures
}

/// `deny (port_not_allowed)`, or `allow by f.yaml:7 (host pypi.org), rung pass-through`.
fn summary(got: &Explanation) -> String {
    let mut text = got.decision.as_str().to_owned();
    if got.enforce_would_deny {
        text.push_str(" (report mode)");
    }
    if let Some(reason) = got.reason {
        text.push_str(&format!(" ({})", reason.code()));
    }
    if got.decision == Decision::Allow
        && let Some(rule) = &got.rule
    {
        text.push_str(&format!(
            " by {} (host {}), rung {}",
            rule.id, rule.host, rule.rung
        ));
    }
    if let Some(check) = got.address_check.as_ref().filter(|c| c.overrides.is_some()) {
        text.push_str(&format!(
            ", deny-set overridden for {}",
            crate::explain::join(&check.answers)
        ));
    }
    text
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            writeln!(f, "{}", file.file)?;
            for error in &file.errors {
                writeln!(f, "  error {error}")?;
            }
            for case in &file.cases {
                if case.passed() {
                    writeln!(f, "  ok    {} (line {})", case.name, case.line)?;
                } else {
                    writeln!(f, "  FAIL  {} (line {})", case.name, case.line)?;
                    for failure in &case.failures {
                        writeln!(f, "        {failure}")?;
                    }
                }
            }
        }
        write!(
            f,
            "{} passed, {} failed, {} file(s) with errors",
            self.passed(),
            self.failed(),
            self.errored()
        )?;
        if self.passed() + self.failed() == 0 {
            write!(f, "; no test case ran")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
