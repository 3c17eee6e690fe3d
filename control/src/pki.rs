//! The sync channel's certificates: a control CA created in `<data_dir>/pki/` on first run, a
//! server certificate issued from it at every start (in memory only), and edge client
//! certificates issued on demand. Edges pin the CA; control requires a client certificate the
//! CA signed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::defaults;
use crate::error::ControlError;
use crate::files;

/// Where an issued edge certificate was written (the names
/// [`control_client::TlsSettings::from_dir`] reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeCertFiles {
    /// Control's CA certificate (what the edge pins).
    pub ca: PathBuf,
    /// The edge's certificate.
    pub cert: PathBuf,
    /// The edge's private key (mode 0600).
    pub key: PathBuf,
}

/// The control CA, loaded or created.
pub(crate) struct ControlPki {
    ca_pem: String,
    ca_key: KeyPair,
}

impl ControlPki {
    /// The directory holding `ca.pem` and `ca.key`.
    pub(crate) fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join("pki")
    }

    /// Loads `<data_dir>/pki/ca.{pem,key}`, creating them on first run.
    pub(crate) fn load_or_create(data_dir: &Path) -> Result<ControlPki, ControlError> {
        let dir = ControlPki::dir(data_dir);
        files::private_dir(&dir)?;
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if let (Some(ca_pem), Some(key_pem)) = (
            files::read_optional(&cert_path)?,
            files::read_optional(&key_path)?,
        ) {
            let ca_key = KeyPair::from_pem(&key_pem)
                .map_err(|e| ControlError::Pki(format!("{}: {e}", key_path.display())))?;
            Issuer::from_ca_cert_pem(&ca_pem, &ca_key)
                .map_err(|e| ControlError::Pki(format!("{}: {e}", cert_path.display())))?;
            return Ok(ControlPki { ca_pem, ca_key });
        }
        let ca_key = KeyPair::generate().map_err(pki)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        // A name of its own per deployment: a certificate from another control's CA is then
        // an unknown issuer, not a look-alike.
        let id: [u8; 6] = rand::random();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("trust-edge control CA {}", hex::encode(id)),
        );
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, defaults::CA_VALIDITY)?;
        let ca_pem = params.self_signed(&ca_key).map_err(pki)?.pem();
        files::write_private(&key_path, ca_key.serialize_pem().as_bytes())?;
        files::write_private(&cert_path, ca_pem.as_bytes())?;
        tracing::info!(target: "control", path = %cert_path.display(), "created the control CA");
        Ok(ControlPki { ca_pem, ca_key })
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, ControlError> {
        Issuer::from_ca_cert_pem(&self.ca_pem, &self.ca_key).map_err(pki)
    }

    /// The sync listener's TLS config: a fresh server certificate for
    /// [`control_client::defaults::SERVER_NAME`], `localhost` and `127.0.0.1`; client
    /// certificates from this CA required; TLS 1.3; ALPN `h2`.
    pub(crate) fn server_config(&self) -> Result<rustls::ServerConfig, ControlError> {
        let key = KeyPair::generate().map_err(pki)?;
        let mut params = CertificateParams::new(vec![
            control_client::defaults::SERVER_NAME.to_owned(),
            "localhost".to_owned(),
        ])
        .map_err(pki)?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .distinguished_name
            .push(DnType::CommonName, control_client::defaults::SERVER_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        validity(&mut params, defaults::SERVER_CERT_VALIDITY)?;
        let cert = params.signed_by(&key, &self.issuer()?).map_err(pki)?;
        let ca = CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).map_err(pki)?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).map_err(pki)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(pki)?;
        let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).map_err(pki)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(pki)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert.der().clone()], key)
            .map_err(pki)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }

    /// Issues a client certificate for `edge_name` and writes `ca.pem`, `edge.pem` and
    /// `edge.key` (0600) into `out_dir`.
    pub(crate) fn issue_edge(
        &self,
        edge_name: &str,
        out_dir: &Path,
    ) -> Result<EdgeCertFiles, ControlError> {
        if edge_name.is_empty()
            || edge_name.len() > 64
            || !edge_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(ControlError::Config(format!(
                "edge name {edge_name:?}: use 1-64 letters, digits, '-', '.' or '_'"
            )));
        }
        let key = KeyPair::generate().map_err(pki)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        params
            .distinguished_name
            .push(DnType::CommonName, edge_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        validity(&mut params, defaults::EDGE_CERT_VALIDITY)?;
        let cert = params.signed_by(&key, &self.issuer()?).map_err(pki)?;
        files::private_dir(out_dir)?;
        let [ca, cert_path, key_path] =
            control_client::TlsSettings::FILE_NAMES.map(|name| out_dir.join(name));
        files::write_private(&key_path, key.serialize_pem().as_bytes())?;
        files::write_private(&cert_path, cert.pem().as_bytes())?;
        files::write_private(&ca, self.ca_pem.as_bytes())?;
        Ok(EdgeCertFiles {
            ca,
            cert: cert_path,
            key: key_path,
        })
    }
}

/// Issues an edge client certificate from the CA in `data_dir` (created if missing) into
/// `out_dir`: `ca.pem`, `edge.pem`, `edge.key`. What `trust-edge control issue-edge-cert` runs.
///
/// # Errors
/// [`ControlError::Config`] for an unusable name; [`ControlError::Pki`] or
/// [`ControlError::Io`] if the CA cannot be loaded or the files written.
pub fn issue_edge_cert(
    data_dir: &Path,
    edge_name: &str,
    out_dir: &Path,
) -> Result<EdgeCertFiles, ControlError> {
    ControlPki::load_or_create(data_dir)?.issue_edge(edge_name, out_dir)
}

/// Sets not-before to a day ago (tolerates skewed edge clocks) and not-after to now + `valid`.
fn validity(params: &mut CertificateParams, valid: Duration) -> Result<(), ControlError> {
    let now = time::OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let valid = time::Duration::try_from(valid).map_err(pki)?;
    params.not_before = now.checked_sub(day).unwrap_or(now);
    params.not_after = now
        .checked_add(valid)
        .ok_or_else(|| ControlError::Pki("validity overflows".to_owned()))?;
    Ok(())
}

fn pki(e: impl std::fmt::Display) -> ControlError {
    ControlError::Pki(e.to_string())
}
