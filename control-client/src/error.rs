//! [`SyncError`]: what can go wrong setting up or running a sync client.

use std::path::PathBuf;
use std::time::Duration;

/// A sync client failure. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The control URL is not `https://host:port` or `unix:/path`.
    #[error("invalid control url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The CA, certificate or key is unusable.
    #[error("tls material: {0}")]
    Tls(String),
    /// Reading a certificate or key file failed.
    #[error("read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No snapshot arrived in time.
    #[error("no snapshot from control within {0:?}")]
    NotReady(Duration),
    /// Connecting to control failed (TCP, TLS, HTTP/2), or control refused the stream.
    #[error("connect: {0}")]
    Connect(String),
    /// The stream broke or went silent.
    #[error("stream: {0}")]
    Stream(String),
    /// Control sent something out of order or unusable.
    #[error("protocol: {0}")]
    Protocol(String),
}

/// The error and all its sources, `: `-joined (tonic and hyper hide the cause otherwise).
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    let mut depth = 0;
    while let Some(cause) = source
        && depth < 8
    {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
        depth += 1;
    }
    text
}
