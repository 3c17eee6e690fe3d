//! The client's rustls configuration: control's CA as the only root, the edge's certificate
//! as client identity, TLS 1.3 and ALPN `h2` only.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::config::TlsSettings;
use crate::error::SyncError;

/// What the connector needs: the rustls config and the name to check.
#[derive(Clone)]
pub(crate) struct ClientTls {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) server_name: ServerName<'static>,
}

/// Builds the client TLS config. Fails now, not at the first connect, on unusable material.
pub(crate) fn client_tls(settings: &TlsSettings) -> Result<ClientTls, SyncError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut cas = 0;
    for ca in CertificateDer::pem_slice_iter(settings.ca_pem.as_bytes()) {
        let ca = ca.map_err(|e| SyncError::Tls(format!("control CA: {e}")))?;
        roots
            .add(ca)
            .map_err(|e| SyncError::Tls(format!("control CA: {e}")))?;
        cas += 1;
    }
    if cas == 0 {
        return Err(SyncError::Tls("control CA: no certificate".to_owned()));
    }
    let chain = CertificateDer::pem_slice_iter(settings.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SyncError::Tls(format!("edge certificate: {e}")))?;
    if chain.is_empty() {
        return Err(SyncError::Tls("edge certificate: none found".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_slice(settings.key_pem.as_bytes())
        .map_err(|_| SyncError::Tls("edge key: not a PEM private key".to_owned()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SyncError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| SyncError::Tls(format!("edge certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server_name = ServerName::try_from(settings.server_name.clone())
        .map_err(|_| SyncError::Tls(format!("server name {:?}", settings.server_name)))?;
    Ok(ClientTls {
        config: Arc::new(config),
        server_name,
    })
}
