//! AWS Secrets Manager: `DescribeSecret` says which version id carries `AWSCURRENT`; the value
//! is read (`GetSecretValue` for that version id) only when it changed. Standard credential
//! chain unless static credentials are configured; endpoint override for VPC endpoints and
//! local test servers. One rustls (ring) stack: the SDK's HTTP client is built here.

use super::{Remote, from_fields};
use crate::config::{AwsConfig, AwsCredentials, RemoteSource, SecretSpec};
use crate::error::{ContentError, SdsError, SourceError};
use crate::secret::{SecretKind, SecretValue};
use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{Credentials, Region};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use zeroize::Zeroizing;

/// The stage whose version is served.
const CURRENT: &str = "AWSCURRENT";

/// A Secrets Manager client.
pub(crate) struct Aws {
    client: Client,
}

impl Aws {
    /// Builds the client (credentials resolve lazily, at the first call).
    ///
    /// # Errors
    /// The static secret key file cannot be read.
    pub(crate) async fn new(config: AwsConfig) -> Result<Aws, SdsError> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(config.region.clone()));
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        if let AwsCredentials::Static {
            access_key_id,
            secret_access_key_file,
        } = &config.credentials
        {
            let secret = std::fs::read_to_string(secret_access_key_file)
                .map(|s| Zeroizing::new(s.trim().to_owned()))
                .map_err(|e| SdsError::Source {
                    source_name: "aws",
                    message: format!(
                        "cannot read {}: {}",
                        secret_access_key_file.display(),
                        e.kind()
                    ),
                })?;
            loader = loader.credentials_provider(Credentials::new(
                access_key_id.clone(),
                secret.as_str(),
                None,
                None,
                "trust-edge-static",
            ));
        }
        let sdk = loader.load().await;
        Ok(Aws {
            client: Client::new(&sdk),
        })
    }
}

fn place(spec: &SecretSpec) -> Result<(&str, Option<&str>), SourceError> {
    match &spec.source {
        RemoteSource::Aws { secret_id, field } => Ok((secret_id, field.as_deref())),
        RemoteSource::Vault { .. } => Err(SourceError::NotFound("not an aws secret".to_owned())),
    }
}

fn failed<E, R>(what: &str, e: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> SourceError
where
    E: std::error::Error + aws_sdk_secretsmanager::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    if e.as_service_error()
        .and_then(aws_sdk_secretsmanager::error::ProvideErrorMetadata::code)
        == Some("ResourceNotFoundException")
    {
        return SourceError::NotFound(what.to_owned());
    }
    SourceError::Unreachable(format!("{what}: {}", DisplayErrorContext(e)))
}

impl Remote for Aws {
    async fn current(&self, spec: &SecretSpec) -> Result<String, SourceError> {
        let (secret_id, _) = place(spec)?;
        let described = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| failed(secret_id, &e))?;
        described
            .version_ids_to_stages()
            .and_then(|m| {
                m.iter()
                    .find(|(_, stages)| stages.iter().any(|s| s == CURRENT))
                    .map(|(id, _)| id.clone())
            })
            .ok_or_else(|| SourceError::NotFound(format!("{secret_id}: no {CURRENT} version")))
    }

    async fn read(&self, spec: &SecretSpec, label: &str) -> Result<SecretValue, SourceError> {
        let (secret_id, field) = place(spec)?;
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(label)
            .send()
            .await
            .map_err(|e| failed(secret_id, &e))?;
        let raw: Zeroizing<Vec<u8>> = match (out.secret_string(), out.secret_binary()) {
            (Some(s), _) => Zeroizing::new(s.as_bytes().to_vec()),
            (None, Some(b)) => Zeroizing::new(b.as_ref().to_vec()),
            (None, None) => return Err(ContentError::Empty.into()),
        };
        drop(out);
        if spec.kind == SecretKind::GenericSecret && field.is_none() {
            return Ok(SecretValue::Generic(raw));
        }
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&raw).map_err(|_| ContentError::Format("a JSON object"))?;
        Ok(from_fields(spec.kind, field, "value", &map)?)
    }
}
