//! Loading a JWKS from a [`KeySource`]: a file, an HTTP(S) URL or a static document.

use std::path::Path;

use tokio::io::AsyncReadExt;

use super::KeySource;
use crate::token::defaults;
use crate::token::error::TokenError;
use crate::token::jwks::Jwks;

/// Builds the HTTP client for a URL source (none for the others).
pub(crate) fn http_client(source: &KeySource) -> Result<Option<reqwest::Client>, TokenError> {
    let KeySource::Url(url) = source else {
        return Ok(None);
    };
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| TokenError::Config(format!("jwks url is not a url: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TokenError::Config(format!(
            "jwks url scheme {:?} is not http or https",
            parsed.scheme()
        )));
    }
    // reqwest panics while building a client when no rustls provider is installed: refuse first.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        return Err(TokenError::Config(
            "no rustls crypto provider is installed; install one at process start".to_owned(),
        ));
    }
    // `no_proxy`: keys are fetched directly from the configured URL, never through a proxy
    // picked up from the environment.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(defaults::JWKS_FETCH_TIMEOUT)
        .build()
        .map(Some)
        .map_err(|e| TokenError::Config(format!("jwks http client: {}", e.without_url())))
}

/// Reads the key source once.
pub(crate) async fn load(
    source: &KeySource,
    client: Option<&reqwest::Client>,
) -> Result<Jwks, TokenError> {
    match source {
        KeySource::Static(doc) => Jwks::parse(doc),
        KeySource::File(path) => Jwks::from_slice(&read_file(path).await?),
        KeySource::Url(url) => {
            let client = client.ok_or_else(|| {
                TokenError::Config("jwks url source has no http client".to_owned())
            })?;
            Jwks::from_slice(&fetch(client, url).await?)
        }
    }
}

async fn read_file(path: &Path) -> Result<Vec<u8>, TokenError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| TokenError::io("open", path, e))?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(defaults::MAX_JWKS_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    file.take(limit)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| TokenError::io("read", path, e))?;
    if bytes.len() > defaults::MAX_JWKS_BYTES {
        return Err(TokenError::Jwks(format!(
            "{} is larger than {} bytes",
            path.display(),
            defaults::MAX_JWKS_BYTES
        )));
    }
    Ok(bytes)
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, TokenError> {
    let fail = |e: reqwest::Error| TokenError::Fetch(e.without_url().to_string());
    let mut response = client.get(url).send().await.map_err(fail)?;
    let status = response.status();
    if !status.is_success() {
        return Err(TokenError::Fetch(format!("status {status}")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        if body.len().saturating_add(chunk.len()) > defaults::MAX_JWKS_BYTES {
            return Err(TokenError::Fetch(format!(
                "body is larger than {} bytes",
                defaults::MAX_JWKS_BYTES
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
