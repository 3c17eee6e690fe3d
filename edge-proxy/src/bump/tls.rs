//! TLS towards the sandbox inside a bumped tunnel: TLS 1.3 (and 1.2 unless configured off), the
//! minted leaf for the SNI, and ALPN pinned to `http/1.1` — every request inside is read by the
//! edge's own HTTP/1 head reader and decided on its own.

use super::leaves::{LeafResolver, Leaves};
use rustls::ServerConfig;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The acceptor every bumped tunnel uses.
pub(crate) fn acceptor(leaves: Arc<Leaves>, tls12: bool) -> Result<TlsAcceptor, rustls::Error> {
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(LeafResolver(leaves)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
