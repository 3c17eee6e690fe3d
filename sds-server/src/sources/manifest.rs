//! The file source's manifest: which secrets the directory holds, their kinds and files.
//!
//! ```yaml
//! secrets:
//!   - name: edge-server-cert
//!     kind: tls_certificate
//!     certificate: tls.crt        # paths relative to the manifest's directory
//!     private_key: tls.key
//!     max_age: 24h                # optional
//!   - name: anthropic-api-key
//!     kind: generic_secret
//!     file: anthropic-api-key     # trailing CR/LF trimmed unless `trim: false`
//!   - name: upstream-ca
//!     kind: validation_context
//!     trusted_ca: ca.pem
//! ```

use crate::error::SourceError;
use crate::secret::{SecretKind, SecretValue};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileManifest {
    #[serde(default)]
    secrets: Vec<FileEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    kind: SecretKind,
    file: Option<PathBuf>,
    certificate: Option<PathBuf>,
    private_key: Option<PathBuf>,
    trusted_ca: Option<PathBuf>,
    max_age: Option<String>,
    trim: Option<bool>,
}

/// Where a file secret's content lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Files {
    Generic {
        file: PathBuf,
        trim: bool,
    },
    Tls {
        certificate: PathBuf,
        private_key: PathBuf,
    },
    Validation {
        trusted_ca: PathBuf,
    },
}

/// One secret named by the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSecret {
    pub(crate) name: String,
    pub(crate) kind: SecretKind,
    pub(crate) max_age: Option<Duration>,
    pub(crate) files: Files,
}

/// The parsed manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) secrets: Vec<FileSecret>,
}

impl Manifest {
    /// Parses manifest text; relative paths are taken from `dir`.
    ///
    /// # Errors
    /// YAML errors (with line and column) and every entry problem, joined.
    pub(crate) fn parse(text: &str, dir: &Path) -> Result<Manifest, String> {
        let file: FileManifest = serde_yaml::from_str(text).map_err(|e| match e.location() {
            Some(l) => format!("{}:{}: {e}", l.line(), l.column()),
            None => e.to_string(),
        })?;
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut secrets = Vec::new();
        for (i, entry) in file.secrets.into_iter().enumerate() {
            let at = format!("secrets[{i}]");
            if entry.name.is_empty() || entry.name.contains('*') {
                problems.push(format!("{at}.name: must be non-empty and contain no '*'"));
                continue;
            }
            if !seen.insert(entry.name.clone()) {
                problems.push(format!("{at}.name: duplicate {:?}", entry.name));
                continue;
            }
            let max_age = match entry.max_age.as_deref().map(humantime::parse_duration) {
                None => None,
                Some(Ok(d)) if !d.is_zero() => Some(d),
                Some(_) => {
                    problems.push(format!("{at}.max_age: not a positive duration"));
                    continue;
                }
            };
            let join = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
            let files = match (
                entry.kind,
                entry.file,
                entry.certificate,
                entry.private_key,
                entry.trusted_ca,
            ) {
                (SecretKind::GenericSecret, Some(file), None, None, None) => Files::Generic {
                    file: join(file),
                    trim: entry.trim.unwrap_or(true),
                },
                (SecretKind::TlsCertificate, None, Some(c), Some(k), None) => Files::Tls {
                    certificate: join(c),
                    private_key: join(k),
                },
                (SecretKind::ValidationContext, None, None, None, Some(ca)) => Files::Validation {
                    trusted_ca: join(ca),
                },
                (kind, ..) => {
                    let needs = match kind {
                        SecretKind::GenericSecret => "`file`",
                        SecretKind::TlsCertificate => "`certificate` and `private_key`",
                        SecretKind::ValidationContext => "`trusted_ca`",
                    };
                    problems.push(format!(
                        "{at}: a {} needs {needs} and nothing else",
                        kind.as_str()
                    ));
                    continue;
                }
            };
            secrets.push(FileSecret {
                name: entry.name,
                kind: entry.kind,
                max_age,
                files,
            });
        }
        if problems.is_empty() {
            Ok(Manifest { secrets })
        } else {
            Err(problems.join("; "))
        }
    }

    /// Every file the manifest names.
    pub(crate) fn paths(&self) -> Vec<&Path> {
        self.secrets
            .iter()
            .flat_map(|s| match &s.files {
                Files::Generic { file, .. } => vec![file.as_path()],
                Files::Tls {
                    certificate,
                    private_key,
                } => {
                    vec![certificate.as_path(), private_key.as_path()]
                }
                Files::Validation { trusted_ca } => vec![trusted_ca.as_path()],
            })
            .collect()
    }
}

fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, SourceError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| SourceError::Read {
            path: path.to_path_buf(),
            message: e.kind().to_string(),
        })
}

impl FileSecret {
    /// Reads the secret's files (following symlinks, so a `..data` swap is seen whole).
    ///
    /// # Errors
    /// A file cannot be read.
    pub(crate) fn read(&self) -> Result<SecretValue, SourceError> {
        Ok(match &self.files {
            Files::Generic { file, trim } => {
                let mut value = read(file)?;
                if *trim {
                    while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        value.pop();
                    }
                }
                SecretValue::Generic(value)
            }
            Files::Tls {
                certificate,
                private_key,
            } => SecretValue::TlsCertificate {
                chain_pem: read(certificate)?,
                key_pem: read(private_key)?,
            },
            Files::Validation { trusted_ca } => SecretValue::ValidationContext(read(trusted_ca)?),
        })
    }
}

impl crate::config::FilesConfig {
    /// The secret names the manifest defines (for `trust-edge policy check --sds-config`).
    ///
    /// # Errors
    /// The manifest cannot be read or parsed; the message names the file.
    pub fn secret_names(&self) -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(&self.manifest)
            .map_err(|e| format!("{}: {e}", self.manifest.display()))?;
        let manifest = Manifest::parse(&text, &self.dir)
            .map_err(|e| format!("{}: {e}", self.manifest.display()))?;
        Ok(manifest.secrets.into_iter().map(|s| s.name).collect())
    }
}
