//! `policy check`: every problem of one or more policy sets, errors and warnings, each with
//! its file, line and column.
//!
//! Each directory given is checked as its own set (as one edge would load it); the files
//! given one by one are checked together as one more set. Files are named as given (a
//! directory's files as `dir/name.yaml`), so editors and CI annotations can jump to them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::deployment::Deployment;
use crate::error::PolicyError;
use crate::set::{PolicySet, file_error, is_policy_file_name, read_policy_file};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The set is refused; `policy check` exits with 1.
    Error,
    /// The set loads, but a reviewer should look (a limit left to its default).
    Warning,
}

/// One problem or warning, with where it is. `line` and `column` are 1-based (0 for a
/// problem with a whole file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given (a directory's files as `dir/name.yaml`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// A plain sentence.
    pub message: String,
}

impl Diagnostic {
    fn from_error(e: PolicyError, severity: Severity) -> Diagnostic {
        Diagnostic {
            file: e.file,
            line: e.line,
            column: e.column,
            severity,
            message: e.message,
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: message` for an error, `file:line:column: warning: message` for a
    /// warning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What `policy check` found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Every error and warning, set by set, each set's sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// Policy files read.
    pub files: usize,
    /// Profiles in the sets that loaded.
    pub profiles: usize,
}

impl Report {
    /// How many diagnostics have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Whether every set loads (warnings allowed).
    pub fn ok(&self) -> bool {
        self.count(Severity::Error) == 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        if errors == 0 {
            write!(
                f,
                "ok: {} profile(s) in {} file(s), {warnings} warning(s)",
                self.profiles, self.files
            )
        } else {
            write!(
                f,
                "{errors} error(s), {warnings} warning(s) in {} file(s)",
                self.files
            )
        }
    }
}

/// Checks the policy files and directories at `paths`, and each set against `deployment`
/// (pass `&Deployment::default()` to check the files on their own).
pub fn check_paths(paths: &[PathBuf], deployment: &Deployment) -> Report {
    let mut report = Report::default();
    let mut loose = Vec::new();
    let mut loose_errors = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        if path.is_dir() {
            match dir_sources(path) {
                Ok((sources, read_errors)) if sources.is_empty() && read_errors.is_empty() => {
                    push_errors(
                        &mut report,
                        vec![file_error(
                            &shown,
                            "no policy files (`*.yaml`, `*.yml`) in this directory; an edge \
                         loading it would deny every session",
                        )],
                    )
                }
                Ok((sources, read_errors)) => {
                    check_set(&mut report, &sources, read_errors, deployment);
                }
                Err(errors) => push_errors(&mut report, errors),
            }
            continue;
        }
        match read_policy_file(path) {
            Ok(Some(text)) => loose.push((shown, text)),
            Ok(None) => loose_errors.push(file_error(&shown, "not a regular file")),
            Err(message) => loose_errors.push(file_error(&shown, &message)),
        }
    }
    if !loose.is_empty() || !loose_errors.is_empty() {
        check_set(&mut report, &loose, loose_errors, deployment);
    }
    report
}

/// Checks one set of sources (`(name, text)` pairs) and adds its diagnostics.
fn check_set(
    report: &mut Report,
    sources: &[(String, String)],
    read_errors: Vec<PolicyError>,
    deployment: &Deployment,
) {
    report.files = report.files.saturating_add(sources.len());
    let checked = PolicySet::check_sources_with(sources, deployment);
    let mut diagnostics: Vec<Diagnostic> = read_errors
        .into_iter()
        .map(|e| Diagnostic::from_error(e, Severity::Error))
        .collect();
    match checked.result {
        Ok(set) => report.profiles = report.profiles.saturating_add(set.profiles().count()),
        Err(errors) => diagnostics.extend(
            errors
                .into_iter()
                .map(|e| Diagnostic::from_error(e, Severity::Error)),
        ),
    }
    diagnostics.extend(
        checked
            .warnings
            .into_iter()
            .map(|e| Diagnostic::from_error(e, Severity::Warning)),
    );
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.severity).cmp(&(&b.file, b.line, b.column, b.severity))
    });
    report.diagnostics.extend(diagnostics);
}

fn push_errors(report: &mut Report, errors: Vec<PolicyError>) {
    report.diagnostics.extend(
        errors
            .into_iter()
            .map(|e| Diagnostic::from_error(e, Severity::Error)),
    );
}

/// The policy files directly in `dir` (as [`PolicySet::load_dir`] picks them), named
/// `dir/name`, and the files among them that could not be read.
///
/// # Errors
/// When the directory itself cannot be read.
#[allow(clippy::type_complexity)]
fn dir_sources(dir: &Path) -> Result<(Vec<(String, String)>, Vec<PolicyError>), Vec<PolicyError>> {
    let shown = dir.display().to_string();
    let dir_error = |e: std::io::Error| {
        vec![file_error(
            &shown,
            &format!("cannot read the policy directory: {e}"),
        )]
    };
    let entries = std::fs::read_dir(dir).map_err(dir_error)?;
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        let entry = entry.map_err(dir_error)?;
        let path = entry.path();
        let name = path.display().to_string();
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            errors.push(file_error(&name, "the file name is not UTF-8"));
            continue;
        };
        if !is_policy_file_name(file_name) {
            continue;
        }
        match read_policy_file(&path) {
            Ok(Some(text)) => sources.push((name, text)),
            Ok(None) => {}
            Err(message) => errors.push(file_error(&name, &message)),
        }
    }
    errors.sort_by(|a, b| a.file.cmp(&b.file));
    Ok((sources, errors))
}

#[cfg(test)]
mod tests;
