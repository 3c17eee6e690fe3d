//! Secret sources: the watched directory ([`files`]), Vault KV v2 ([`vault`]), AWS Secrets
//! Manager ([`aws`]) and leaves minted from the deployment CA ([`minted`]). Each reads, hands what it read to the [`Store`] (which checks it and keeps
//! the last good version), and confirms unchanged versions so `max_age` does not withdraw them.

mod aws;
mod files;
mod manifest;
mod minted;
mod vault;

use crate::config::{Config, RemoteSource, SecretSpec};
use crate::error::{ContentError, SdsError, SourceError};
use crate::secret::{SecretKind, SecretValue};
use crate::store::{Registration, SourceKind, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

/// Registers every configured secret, reads the file source once, and starts the watcher and
/// pollers. Returns their tasks.
pub(crate) async fn start(
    config: &Config,
    store: Arc<Store>,
    shutdown: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, SdsError> {
    let mut tasks = Vec::new();
    let mut vault_specs = Vec::new();
    let mut aws_specs = Vec::new();
    for spec in &config.secrets {
        let source = match spec.source {
            RemoteSource::Vault { .. } => SourceKind::Vault,
            RemoteSource::Aws { .. } => SourceKind::Aws,
        };
        store
            .register(
                &spec.name,
                Registration {
                    kind: spec.kind,
                    source,
                    max_age: spec.max_age,
                },
            )
            .map_err(SdsError::Config)?;
        match source {
            SourceKind::Vault => vault_specs.push(spec.clone()),
            SourceKind::Aws => aws_specs.push(spec.clone()),
            SourceKind::Files | SourceKind::Minted => {}
        }
    }
    if let Some(files) = &config.files {
        tasks.push(files::start(
            files.clone(),
            Arc::clone(&store),
            shutdown.clone(),
        )?);
    }
    if let Some(minted) = &config.minted_leaves {
        tasks.push(minted::start(
            minted.clone(),
            Arc::clone(&store),
            shutdown.clone(),
        )?);
    }
    if !vault_specs.is_empty() {
        let Some(vault) = &config.vault else {
            return Err(SdsError::Config(
                "vault secrets need a [vault] section".to_owned(),
            ));
        };
        let remote = vault::Vault::new(vault.clone());
        tasks.push(tokio::spawn(poll(
            remote,
            vault_specs,
            Arc::clone(&store),
            vault.poll_interval,
            vault.timeout,
            shutdown.clone(),
        )));
    }
    if !aws_specs.is_empty() {
        let Some(aws) = &config.aws else {
            return Err(SdsError::Config(
                "aws secrets need an [aws] section".to_owned(),
            ));
        };
        let remote = aws::Aws::new(aws.clone()).await?;
        tasks.push(tokio::spawn(poll(
            remote,
            aws_specs,
            Arc::clone(&store),
            aws.poll_interval,
            aws.timeout,
            shutdown,
        )));
    }
    Ok(tasks)
}

/// A source polled by version: the cheap metadata call says which version is current; the
/// value is read only when that changed.
pub(crate) trait Remote: Send + Sync + 'static {
    /// The current version's label, from metadata only.
    fn current(
        &self,
        spec: &SecretSpec,
    ) -> impl Future<Output = Result<String, SourceError>> + Send;
    /// The value of version `label`.
    fn read(
        &self,
        spec: &SecretSpec,
        label: &str,
    ) -> impl Future<Output = Result<SecretValue, SourceError>> + Send;
}

/// Polls every spec each `interval` until shutdown.
async fn poll<R: Remote>(
    remote: R,
    specs: Vec<SecretSpec>,
    store: Arc<Store>,
    interval: Duration,
    timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        for spec in &specs {
            poll_one(&remote, spec, &store, timeout).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn poll_one<R: Remote>(remote: &R, spec: &SecretSpec, store: &Store, timeout: Duration) {
    let timed_out = || {
        SourceError::Unreachable(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        ))
    };
    let label = match tokio::time::timeout(timeout, remote.current(spec)).await {
        Ok(Ok(label)) => label,
        Ok(Err(e)) => return store.offer(&spec.name, Err(e)),
        Err(_) => return store.offer(&spec.name, Err(timed_out())),
    };
    if store.confirm(&spec.name, &label) {
        return;
    }
    let read = match tokio::time::timeout(timeout, remote.read(spec, &label)).await {
        Ok(read) => read,
        Err(_) => Err(timed_out()),
    };
    store.offer(&spec.name, read.map(|value| (value, Some(label))));
}

/// Builds a value of `kind` from a structured secret (Vault's data map, an AWS JSON secret):
/// `field` (default `default_field`) for a generic secret, `certificate` + `private_key` for a
/// TLS certificate, `trusted_ca` for a validation context.
///
/// # Errors
/// A missing or non-string field.
pub(crate) fn from_fields(
    kind: SecretKind,
    field: Option<&str>,
    default_field: &str,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<SecretValue, ContentError> {
    let get = |name: &str| match map.get(name) {
        Some(serde_json::Value::String(s)) => Ok(Zeroizing::new(s.as_bytes().to_vec())),
        Some(_) => Err(ContentError::Format("a string field")),
        None => Err(ContentError::MissingField(name.to_owned())),
    };
    match kind {
        SecretKind::GenericSecret => get(field.unwrap_or(default_field)).map(SecretValue::Generic),
        SecretKind::TlsCertificate => Ok(SecretValue::TlsCertificate {
            chain_pem: get("certificate")?,
            key_pem: get("private_key")?,
        }),
        SecretKind::ValidationContext => get("trusted_ca").map(SecretValue::ValidationContext),
    }
}

#[cfg(test)]
mod tests;
