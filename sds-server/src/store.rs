//! The current good version of every configured secret, and the signal that one changed.
//!
//! Sources [`offer`](Store::offer) what they read; the store checks it, keeps the last good
//! version when the new one is bad or the source fails, withdraws a version its source has not
//! confirmed for `max_age`, and bumps a generation that every stream watches. One watch for all
//! streams keeps a rotation a single wake-up per stream.

use crate::convert;
use crate::error::{ContentError, SourceError};
use crate::metrics::Metrics;
use crate::secret::{self, SecretKind, SecretValue};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use trust_core::audit::{Action, AuditEvent, AuditLog, ClassUid};
use zeroize::Zeroizing;

/// Where a secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A watched directory with a manifest.
    Files,
    /// Vault KV v2.
    Vault,
    /// AWS Secrets Manager.
    Aws,
    /// Leaves minted from the deployment CA (`sources::minted`).
    Minted,
}

impl SourceKind {
    /// The fixed label (`files`, `vault`, `aws`, `minted_leaves`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SourceKind::Files => "files",
            SourceKind::Vault => "vault",
            SourceKind::Aws => "aws",
            SourceKind::Minted => "minted_leaves",
        }
    }
}

/// One good version of a secret, shared by every stream that sends it.
pub(crate) struct Version {
    /// The version string sent to subscribers (`v3`, an AWS version id, or a salted hash).
    pub(crate) id: String,
    /// The encoded `envoy.extensions.transport_sockets.tls.v3.Secret`, zeroised on drop.
    pub(crate) encoded: Zeroizing<Vec<u8>>,
    /// When this version became current.
    pub(crate) since: Instant,
    /// Salted content fingerprint: tells an unchanged re-read from a rotation.
    fingerprint: [u8; 32],
}

/// What a stream sees for one name.
#[derive(Clone)]
pub(crate) enum Lookup {
    /// No such secret is configured.
    Unknown,
    /// Configured, but no good value has arrived yet.
    Pending,
    /// Its source has not confirmed it for longer than `max_age`.
    Withdrawn,
    /// The current good version.
    Ready(Arc<Version>),
}

impl Lookup {
    /// The version, if one is being served.
    pub(crate) fn ready(&self) -> Option<&Arc<Version>> {
        match self {
            Lookup::Ready(v) => Some(v),
            Lookup::Unknown | Lookup::Pending | Lookup::Withdrawn => None,
        }
    }
}

/// A secret's registration: what it is and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registration {
    pub(crate) kind: SecretKind,
    pub(crate) source: SourceKind,
    pub(crate) max_age: Option<Duration>,
}

struct Entry {
    reg: Registration,
    current: Option<Arc<Version>>,
    withdrawn: bool,
    confirmed_at: Option<Instant>,
    last_error: Option<SourceError>,
    errors: u64,
}

/// A secret's state as `/debug/sds` and `/metrics` show it: never the value.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Status {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) source: &'static str,
    pub(crate) state: &'static str,
    pub(crate) version: Option<String>,
    pub(crate) version_age_seconds: Option<f64>,
    pub(crate) unconfirmed_seconds: Option<f64>,
    pub(crate) max_age_seconds: Option<f64>,
    pub(crate) errors: u64,
    pub(crate) last_error: Option<String>,
}

/// Every secret's current state.
pub(crate) struct Store {
    entries: RwLock<BTreeMap<String, Entry>>,
    changes: watch::Sender<u64>,
    salt: [u8; 16],
    skip_checks: bool,
    metrics: Metrics,
    audit: AuditLog,
}

impl Store {
    /// An empty store. `skip_checks` (tests only) serves content without checking it.
    pub(crate) fn new(metrics: Metrics, audit: AuditLog, skip_checks: bool) -> Store {
        Store {
            entries: RwLock::new(BTreeMap::new()),
            changes: watch::Sender::new(0),
            salt: rand::random(),
            skip_checks,
            metrics,
            audit,
        }
    }

    /// A receiver that changes whenever any secret's served state changes.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn bump(&self) {
        self.changes.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Registers `name`, or updates its registration if the same source already owns it.
    ///
    /// # Errors
    /// Another source already serves `name` (the message names that source).
    pub(crate) fn register(&self, name: &str, reg: Registration) -> Result<(), String> {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        match entries.get_mut(name) {
            Some(entry) if entry.reg.source != reg.source => Err(format!(
                "secret {name:?} is already served by the {} source",
                entry.reg.source.as_str()
            )),
            Some(entry) => {
                if entry.reg.kind != reg.kind {
                    entry.current = None;
                }
                entry.reg = reg;
                Ok(())
            }
            None => {
                entries.insert(
                    name.to_owned(),
                    Entry {
                        reg,
                        current: None,
                        withdrawn: false,
                        confirmed_at: None,
                        last_error: None,
                        errors: 0,
                    },
                );
                Ok(())
            }
        }
    }

    /// Removes `name` if `source` owns it (it left the manifest); subscribers see it go.
    pub(crate) fn unregister(&self, name: &str, source: SourceKind) {
        let removed = {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            match entries.get(name) {
                Some(e) if e.reg.source == source => entries.remove(name).is_some(),
                _ => false,
            }
        };
        if removed {
            tracing::info!(secret = name, "secret removed from its source's manifest");
            self.bump();
        }
    }

    /// Names currently registered by `source`.
    pub(crate) fn names_of(&self, source: SourceKind) -> Vec<String> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .filter(|(_, e)| e.reg.source == source)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// What a stream should send for `name`.
    pub(crate) fn lookup(&self, name: &str) -> Lookup {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        match entries.get(name) {
            None => Lookup::Unknown,
            Some(e) if e.withdrawn => Lookup::Withdrawn,
            Some(e) => match &e.current {
                Some(v) => Lookup::Ready(Arc::clone(v)),
                None => Lookup::Pending,
            },
        }
    }

    /// A source read `name`: a value (`label` is its version in the source, if it has one) or
    /// an error. A good new value replaces the current one and is pushed; the same value only
    /// confirms it; an error or bad content keeps the last good version and alarms.
    pub(crate) fn offer(
        &self,
        name: &str,
        read: Result<(SecretValue, Option<String>), SourceError>,
    ) {
        let kind = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            match entries.get(name) {
                Some(e) => e.reg.kind,
                None => return,
            }
        };
        let read = read.and_then(|(value, label)| {
            if value.kind() != kind {
                return Err(ContentError::Format("of the configured kind").into());
            }
            if !self.skip_checks {
                secret::check(&value)?;
            }
            Ok((value, label))
        });
        match read {
            Ok((value, label)) => self.accept(name, value, label),
            Err(error) => self.fail(name, error),
        }
    }

    fn accept(&self, name: &str, value: SecretValue, label: Option<String>) {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        value.hash_into(&mut hasher);
        let fingerprint: [u8; 32] = hasher.finalize().into();
        let id = label.unwrap_or_else(|| {
            format!(
                "sha256:{}",
                hex::encode(fingerprint.get(..8).unwrap_or_default())
            )
        });
        let (changed, recovered, source, kind) = {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            let Some(entry) = entries.get_mut(name) else {
                return;
            };
            let same = entry
                .current
                .as_ref()
                .is_some_and(|c| c.fingerprint == fingerprint && c.id == id);
            let recovered = entry.last_error.take().is_some() || entry.withdrawn;
            entry.confirmed_at = Some(Instant::now());
            let was_withdrawn = std::mem::replace(&mut entry.withdrawn, false);
            if !same {
                let encoded = convert::encode_secret(name, &value);
                entry.current = Some(Arc::new(Version {
                    id: id.clone(),
                    encoded,
                    since: Instant::now(),
                    fingerprint,
                }));
            }
            (
                !same || was_withdrawn,
                recovered,
                entry.reg.source,
                entry.reg.kind,
            )
        };
        if changed {
            self.metrics
                .rotations
                .with_label_values(&[source.as_str()])
                .inc();
            tracing::info!(secret = name, version = %id, source = source.as_str(), kind = kind.as_str(), "secret version now served");
            let mut event = event(name, "secret_rotated", Action::Allow, source);
            event.status_detail = Some("secret_rotated".into());
            self.audit.record(event);
            self.bump();
        } else if recovered {
            tracing::info!(
                secret = name,
                source = source.as_str(),
                "secret source recovered"
            );
        }
    }

    fn fail(&self, name: &str, error: SourceError) {
        let (source, first, kept) = {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            let Some(entry) = entries.get_mut(name) else {
                return;
            };
            entry.errors = entry.errors.saturating_add(1);
            let first = entry.last_error.as_ref() != Some(&error);
            entry.last_error = Some(error.clone());
            (
                entry.reg.source,
                first,
                entry.current.as_ref().map(|v| v.id.clone()),
            )
        };
        self.metrics
            .source_errors
            .with_label_values(&[source.as_str(), error.class()])
            .inc();
        tracing::warn!(secret = name, source = source.as_str(), error = %error, kept_version = kept.as_deref().unwrap_or("none"), "secret source failed; last good version kept");
        if first {
            let activity = match error {
                SourceError::Invalid(_) => "secret_rejected",
                _ => "secret_source_unreachable",
            };
            let mut event = event(name, activity, Action::Alert, source);
            event.outcome = trust_core::audit::Outcome::Failure;
            event.status_detail = Some(activity.into());
            self.audit.record(event);
        }
    }

    /// The source says version `label` of `name` is still current. If that is the version
    /// being served, it is confirmed (and served again if it had been withdrawn) and `true` is
    /// returned; otherwise `false`: the caller should read the value.
    pub(crate) fn confirm(&self, name: &str, label: &str) -> bool {
        let (confirmed, revived) = {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            let Some(entry) = entries.get_mut(name) else {
                return false;
            };
            if entry.current.as_ref().is_none_or(|c| c.id != label) {
                return false;
            }
            entry.confirmed_at = Some(Instant::now());
            entry.last_error = None;
            (true, std::mem::replace(&mut entry.withdrawn, false))
        };
        if revived {
            tracing::info!(
                secret = name,
                "secret confirmed again by its source; served again"
            );
            self.bump();
        }
        confirmed
    }

    /// A problem a source has that is not about one secret (e.g. a broken manifest): counted,
    /// logged and audited. Secrets keep their last good versions.
    pub(crate) fn report_source_problem(&self, source: SourceKind, message: &str) {
        self.metrics
            .source_errors
            .with_label_values(&[source.as_str(), "invalid"])
            .inc();
        tracing::error!(
            source = source.as_str(),
            error = message,
            "secret source configuration unusable; last good versions kept"
        );
        let mut event = AuditEvent::new(
            ClassUid::EntityManagement,
            "secret_source_invalid",
            Action::Alert,
        );
        event.outcome = trust_core::audit::Outcome::Failure;
        event.status_detail = Some("secret_source_invalid".into());
        event.rule = Some(format!("secret/{}", source.as_str()));
        self.audit.record(event);
    }

    /// Withdraws every served version whose source has not confirmed it for its `max_age`.
    /// Returns how many were withdrawn.
    pub(crate) fn sweep(&self, now: Instant) -> usize {
        let mut withdrawn = Vec::new();
        {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            for (name, entry) in entries.iter_mut() {
                let (Some(max_age), Some(confirmed)) = (entry.reg.max_age, entry.confirmed_at)
                else {
                    continue;
                };
                if !entry.withdrawn
                    && entry.current.is_some()
                    && now.saturating_duration_since(confirmed) > max_age
                {
                    entry.withdrawn = true;
                    withdrawn.push((name.clone(), entry.reg.source));
                }
            }
        }
        for (name, source) in &withdrawn {
            self.metrics
                .withdrawals
                .with_label_values(&[source.as_str()])
                .inc();
            tracing::error!(secret = %name, source = source.as_str(), "secret withdrawn: its source has not confirmed it within max_age");
            let mut event = event(name, "secret_withdrawn", Action::Alert, *source);
            event.outcome = trust_core::audit::Outcome::Failure;
            event.status_detail = Some("credential_unavailable".into());
            self.audit.record(event);
        }
        if !withdrawn.is_empty() {
            self.bump();
        }
        withdrawn.len()
    }

    /// The smallest `max_age` configured, if any (the sweeper's pace).
    pub(crate) fn min_max_age(&self) -> Option<Duration> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.values().filter_map(|e| e.reg.max_age).min()
    }

    /// Every secret's state, sorted by name.
    pub(crate) fn statuses(&self) -> Vec<Status> {
        let now = Instant::now();
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .map(|(name, e)| Status {
                name: name.clone(),
                kind: e.reg.kind.as_str(),
                source: e.reg.source.as_str(),
                state: match (&e.current, e.withdrawn, &e.last_error) {
                    (None, _, _) => "pending",
                    (Some(_), true, _) => "withdrawn",
                    (Some(_), false, Some(_)) => "stale",
                    (Some(_), false, None) => "ok",
                },
                version: e.current.as_ref().map(|v| v.id.clone()),
                version_age_seconds: e
                    .current
                    .as_ref()
                    .map(|v| now.saturating_duration_since(v.since).as_secs_f64()),
                unconfirmed_seconds: e
                    .confirmed_at
                    .map(|c| now.saturating_duration_since(c).as_secs_f64()),
                max_age_seconds: e.reg.max_age.map(|d| d.as_secs_f64()),
                errors: e.errors,
                last_error: e.last_error.as_ref().map(ToString::to_string),
            })
            .collect()
    }
}

/// An SDS audit event. `rule` names the secret as `secret/<source>/<name>` (never its value);
/// `AuditEvent` has no resource field yet.
fn event(name: &str, activity: &'static str, action: Action, source: SourceKind) -> AuditEvent {
    let mut event = AuditEvent::new(ClassUid::EntityManagement, activity, action);
    event.rule = Some(format!("secret/{}/{name}", source.as_str()));
    event
}

#[cfg(test)]
mod tests;
