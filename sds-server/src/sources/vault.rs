//! Vault KV v2 (vaultrs): the metadata endpoint says which version is current; the value is
//! read only for a new version. Token or AppRole login; a 403 drops the session so the next
//! poll logs in again (AppRole secret ids and token files are re-read then).
//!
//! Endpoints used (Vault's documented HTTP API): `GET /v1/{mount}/metadata/{path}`,
//! `GET /v1/{mount}/data/{path}?version=N`, and for AppRole `POST /v1/auth/{mount}/login`.

use super::{Remote, from_fields};
use crate::config::{RemoteSource, SecretSpec, VaultAuth, VaultConfig};
use crate::defaults;
use crate::error::SourceError;
use crate::secret::SecretValue;
use std::sync::Arc;
use tokio::sync::Mutex;
use vaultrs::client::{Client, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use zeroize::Zeroizing;

/// A Vault connection, logged in lazily.
pub(crate) struct Vault {
    config: VaultConfig,
    session: Mutex<Option<Arc<VaultClient>>>,
}

impl Vault {
    pub(crate) fn new(config: VaultConfig) -> Vault {
        Vault {
            config,
            session: Mutex::new(None),
        }
    }

    fn read_file(path: &std::path::Path) -> Result<Zeroizing<String>, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|e| SourceError::Read {
            path: path.to_path_buf(),
            message: e.kind().to_string(),
        })?;
        Ok(Zeroizing::new(text.trim().to_owned()))
    }

    /// The logged-in client, logging in first if needed.
    async fn client(&self) -> Result<Arc<VaultClient>, SourceError> {
        let mut session = self.session.lock().await;
        if let Some(client) = session.as_ref() {
            return Ok(Arc::clone(client));
        }
        let token = match &self.config.auth {
            VaultAuth::TokenFile(path) => Self::read_file(path)?,
            VaultAuth::AppRole { .. } => Zeroizing::new(String::new()),
        };
        let mut builder = VaultClientSettingsBuilder::default();
        builder
            .address(&self.config.address)
            .token(token.as_str())
            .ca_certs(
                self.config
                    .ca_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
            )
            .identity(None)
            .verify(true)
            .timeout(Some(self.config.timeout));
        if let Some(ns) = &self.config.namespace {
            builder.namespace(Some(ns.clone()));
        }
        let settings = builder
            .build()
            .map_err(|e| SourceError::Unreachable(format!("vault client settings: {e}")))?;
        let mut client = VaultClient::new(settings).map_err(|e| unreachable("vault client", &e))?;
        if let VaultAuth::AppRole {
            mount,
            role_id,
            secret_id_file,
        } = &self.config.auth
        {
            let secret_id = Self::read_file(secret_id_file)?;
            let auth = vaultrs::auth::approle::login(&client, mount, role_id, &secret_id)
                .await
                .map_err(|e| unreachable("approle login", &e))?;
            let token = Zeroizing::new(auth.client_token);
            client.set_token(&token);
        }
        let client = Arc::new(client);
        *session = Some(Arc::clone(&client));
        Ok(client)
    }

    /// Maps a vaultrs error, forgetting the session on 401/403 so the next poll logs in again.
    async fn failed(&self, what: &str, e: &ClientError) -> SourceError {
        if let ClientError::APIError { code, .. } = e {
            if *code == 401 || *code == 403 {
                *self.session.lock().await = None;
            }
            if *code == 404 {
                return SourceError::NotFound(what.to_owned());
            }
        }
        unreachable(what, e)
    }
}

fn unreachable(what: &str, e: &ClientError) -> SourceError {
    let mut message = format!("{what}: {e}");
    if let ClientError::RestClientError { source } = e {
        message.push_str(&format!(" ({source})"));
    }
    SourceError::Unreachable(message)
}

fn place(spec: &SecretSpec) -> Result<(&str, &str, Option<&str>), SourceError> {
    match &spec.source {
        RemoteSource::Vault { mount, path, field } => Ok((mount, path, field.as_deref())),
        RemoteSource::Aws { .. } => Err(SourceError::NotFound("not a vault secret".to_owned())),
    }
}

impl Remote for Vault {
    async fn current(&self, spec: &SecretSpec) -> Result<String, SourceError> {
        let (mount, path, _) = place(spec)?;
        let client = self.client().await?;
        let meta = match vaultrs::kv2::read_metadata(client.as_ref(), mount, path).await {
            Ok(meta) => meta,
            Err(e) => return Err(self.failed(&format!("{mount}/metadata/{path}"), &e).await),
        };
        let current = meta.current_version;
        let live = meta
            .versions
            .get(&current.to_string())
            .is_some_and(|v| !v.destroyed && v.deletion_time.is_empty());
        if current == 0 || !live {
            return Err(SourceError::NotFound(format!(
                "{mount}/{path}: current version {current} is deleted or destroyed"
            )));
        }
        Ok(format!("v{current}"))
    }

    async fn read(&self, spec: &SecretSpec, label: &str) -> Result<SecretValue, SourceError> {
        let (mount, path, field) = place(spec)?;
        let version: u64 = label
            .strip_prefix('v')
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| SourceError::NotFound(format!("bad version label {label:?}")))?;
        let client = self.client().await?;
        let data: serde_json::Map<String, serde_json::Value> =
            match vaultrs::kv2::read_version(client.as_ref(), mount, path, version).await {
                Ok(data) => data,
                Err(e) => return Err(self.failed(&format!("{mount}/data/{path}"), &e).await),
            };
        Ok(from_fields(spec.kind, field, defaults::VAULT_FIELD, &data)?)
    }
}
