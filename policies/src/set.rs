//! The loaded policy: every profile of a policy directory, compiled once, looked up by name.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::compile;
use crate::defaults;
use crate::deployment::{self, Deployment, Site};
use crate::error::PolicyError;
use crate::model::Profile;
use crate::walker::Walker;
use crate::yaml;

/// Every compiled profile of one load, and the hash of the files it came from.
///
/// Immutable: a reload builds a new set (and a failed reload keeps the old one in force).
#[derive(Debug, Clone)]
pub struct PolicySet {
    by_name: HashMap<String, Arc<Profile>>,
    /// The same profiles, sorted by name.
    ordered: Vec<Arc<Profile>>,
    hash: String,
    /// Where the set depends on the deployment (each `rung: bump`, each `inject[].secret`).
    sites: Vec<Site>,
}

impl PolicySet {
    /// A set with no profiles: every session's profile is unknown, so everything is denied.
    pub fn empty() -> PolicySet {
        PolicySet {
            by_name: HashMap::new(),
            ordered: Vec::new(),
            hash: source_hash(&[]),
            sites: Vec::new(),
        }
    }

    /// Loads every `*.yaml` and `*.yml` file directly in `dir` (not sub-directories; names
    /// starting with `.` are skipped, as Kubernetes ConfigMap mounts keep their internals
    /// there, and so are policy test files, `*.tests.yaml` / `*.tests.yml`). Symbolic links
    /// are followed.
    ///
    /// # Errors
    /// Every problem found, in any file, each with its file, line and column.
    pub fn load_dir(dir: &Path) -> Result<PolicySet, Vec<PolicyError>> {
        let dir_error = |message: String| {
            vec![PolicyError {
                file: dir.display().to_string(),
                line: 0,
                column: 0,
                message,
            }]
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| dir_error(format!("cannot read the policy directory: {e}")))?;
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| dir_error(format!("cannot list the policy directory: {e}")))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str() else {
                errors.push(file_error(
                    &file_name.to_string_lossy(),
                    "the file name is not UTF-8",
                ));
                continue;
            };
            if !is_policy_file_name(name) {
                continue;
            }
            match read_policy_file(&entry.path()) {
                Ok(Some(text)) => sources.push((name.to_owned(), text)),
                Ok(None) => {}
                Err(message) => errors.push(file_error(name, &message)),
            }
        }
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.file.cmp(&b.file));
            return Err(errors);
        }
        PolicySet::from_sources(&sources)
    }

    /// Compiles policy sources: `(file name, text)` pairs, the name relative to the policy
    /// directory (it appears in errors and rule ids). Order does not matter.
    ///
    /// # Errors
    /// Every problem found, sorted by file, line and column: the first syntax error of each
    /// file, and every semantic error of every readable document.
    pub fn from_sources(sources: &[(String, String)]) -> Result<PolicySet, Vec<PolicyError>> {
        PolicySet::check_sources(sources).result
    }

    /// Loads `path`: a directory as [`PolicySet::load_dir`] does, or one policy file (named
    /// in errors and rule ids by its file name).
    ///
    /// # Errors
    /// Every problem found, each with its file, line and column.
    pub fn load_path(path: &Path) -> Result<PolicySet, Vec<PolicyError>> {
        if path.is_dir() {
            return PolicySet::load_dir(path);
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match read_policy_file(path) {
            Ok(Some(text)) => PolicySet::from_sources(&[(name, text)]),
            Ok(None) => Err(vec![file_error(&name, "not a regular file")]),
            Err(message) => Err(vec![file_error(&name, &message)]),
        }
    }

    /// Compiles policy sources like [`PolicySet::from_sources`], and also returns the
    /// warnings: things that load but that a reviewer should see (a missing limit taking its
    /// default). `trust-edge policy check` prints both; the edge logs the warnings.
    pub fn check_sources(sources: &[(String, String)]) -> Checked {
        PolicySet::check_sources_with(sources, &Deployment::default())
    }

    /// Like [`PolicySet::check_sources`], and also checks the sources against `deployment`
    /// (see [`PolicySet::cross_check`]), in every file, even one with other errors.
    pub fn check_sources_with(sources: &[(String, String)], deployment: &Deployment) -> Checked {
        let mut sites = Vec::new();
        let mut warnings = Vec::new();
        let mut sorted: Vec<&(String, String)> = sources.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut errors = Vec::new();
        let mut by_name: HashMap<String, Arc<Profile>> = HashMap::new();
        let mut defined_at: HashMap<String, (String, usize)> = HashMap::new();
        let mut previous_file: Option<&str> = None;
        for (file, text) in &sorted {
            if previous_file == Some(file.as_str()) {
                errors.push(file_error(file, "the file is given twice"));
                continue;
            }
            previous_file = Some(file);
            if u64::try_from(text.len()).unwrap_or(u64::MAX) > defaults::MAX_FILE_BYTES {
                let message = format!("the file is larger than {} bytes", defaults::MAX_FILE_BYTES);
                errors.push(file_error(file, &message));
                continue;
            }
            let docs = match yaml::parse_documents(text) {
                Ok(docs) => docs,
                Err(e) => {
                    errors.push(PolicyError {
                        file: file.clone(),
                        line: e.pos.line,
                        column: e.pos.column,
                        message: e.message,
                    });
                    continue;
                }
            };
            let mut w = Walker::new(file);
            for doc in &docs {
                let compiled = compile::document(&mut w, doc);
                let Some((name, pos)) = compiled.name else {
                    continue;
                };
                if let Some((first_file, first_line)) = defined_at.get(&name) {
                    w.error(
                        pos,
                        format!("profile `{name}` is already defined at {first_file}:{first_line}"),
                    );
                    continue;
                }
                defined_at.insert(name.clone(), (file.clone(), pos.line));
                if let Some(profile) = compiled.profile {
                    by_name.insert(name, Arc::new(profile));
                }
            }
            sites.extend(w.take_sites());
            let (file_errors, file_warnings) = w.into_parts();
            errors.extend(file_errors);
            warnings.extend(file_warnings);
        }
        let by_position = |a: &PolicyError, b: &PolicyError| {
            (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column))
        };
        warnings.sort_by(by_position);
        errors.extend(deployment::cross_check(&sites, deployment));
        if !errors.is_empty() {
            errors.sort_by(by_position);
            return Checked {
                result: Err(errors),
                warnings,
            };
        }
        let mut ordered: Vec<Arc<Profile>> = by_name.values().cloned().collect();
        ordered.sort_by(|a, b| a.name.cmp(&b.name));
        Checked {
            result: Ok(PolicySet {
                by_name,
                ordered,
                hash: source_hash(&sorted),
                sites,
            }),
            warnings,
        }
    }

    /// The profile called `name` (a session token's `profile` claim), if any.
    pub fn profile(&self, name: &str) -> Option<&Arc<Profile>> {
        self.by_name.get(name)
    }

    /// Every profile, sorted by name.
    pub fn profiles(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.ordered.iter()
    }

    /// Every problem of this set in `deployment`, each at the offending key, sorted by file,
    /// line and column: a `rung: bump` when the deployment has no CA, an `inject[].secret`
    /// that no SDS source defines. A check whose input is `None` (unknown) is skipped. The
    /// edge runs this on every set it loads and refuses a set with problems.
    pub fn cross_check(&self, deployment: &Deployment) -> Vec<PolicyError> {
        deployment::cross_check(&self.sites, deployment)
    }

    /// Every secret name an `inject` rule of any profile references: what the edge
    /// subscribes to over SDS.
    pub fn secrets(&self) -> BTreeSet<String> {
        self.ordered
            .iter()
            .flat_map(|p| p.rules())
            .flat_map(|r| r.inject.iter().map(|i| i.secret.clone()))
            .collect()
    }

    /// Whether any profile has a `bump` rule (the edge then needs its deployment CA).
    pub fn has_bump_rules(&self) -> bool {
        self.ordered
            .iter()
            .flat_map(|p| p.rules())
            .any(|r| r.rung == crate::model::Rung::Bump)
    }

    /// Hex SHA-256 of the sources, sorted by file name; each file contributes its name and
    /// content, each prefixed by its length as a big-endian `u64`, so no two different sets of
    /// files hash alike. Identifies the policy in audit events and `policy check` output.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// What [`PolicySet::check_sources`] found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The set, or every error (sorted by file, line and column).
    pub result: Result<PolicySet, Vec<PolicyError>>,
    /// Every warning, sorted by file, line and column; warnings never refuse a set.
    pub warnings: Vec<PolicyError>,
}

/// Whether a directory entry called `name` is a policy file: `*.yaml` or `*.yml`, not hidden,
/// not a policy test file (`*.tests.yaml`, `*.tests.yml`).
pub fn is_policy_file_name(name: &str) -> bool {
    is_yaml_name(name) && !is_test_file_name(name)
}

/// Whether a directory entry called `name` is a policy test file: `*.tests.yaml` or
/// `*.tests.yml`, not hidden.
pub fn is_test_file_name(name: &str) -> bool {
    is_yaml_name(name) && (name.ends_with(".tests.yaml") || name.ends_with(".tests.yml"))
}

fn is_yaml_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// Reads one policy file; `Ok(None)` for a directory or other non-file that merely has a
/// policy-like name.
pub(crate) fn read_policy_file(path: &Path) -> Result<Option<String>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > defaults::MAX_FILE_BYTES {
        return Err(format!(
            "the file is larger than {} bytes",
            defaults::MAX_FILE_BYTES
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "the file is not UTF-8 text".to_owned())
}

pub(crate) fn file_error(file: &str, message: &str) -> PolicyError {
    PolicyError {
        file: file.to_owned(),
        line: 0,
        column: 0,
        message: message.to_owned(),
    }
}

fn source_hash(sorted: &[&(String, String)]) -> String {
    let mut hasher = Sha256::new();
    for (name, text) in sorted {
        for part in [name.as_bytes(), text.as_bytes()] {
            hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            hasher.update(part);
        }
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests;
