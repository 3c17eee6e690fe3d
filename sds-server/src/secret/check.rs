//! Content checks run before a value may replace the last good one: PEM decodes, certificates
//! parse, the key belongs to the leaf, the leaf has not expired.

use super::SecretValue;
use crate::error::ContentError;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::time::{SystemTime, UNIX_EPOCH};

/// Checks `value`; `Ok` means it may be served.
///
/// # Errors
/// The first problem found.
pub(crate) fn check(value: &SecretValue) -> Result<(), ContentError> {
    match value {
        SecretValue::Generic(v) => {
            if v.is_empty() {
                Err(ContentError::Empty)
            } else {
                Ok(())
            }
        }
        SecretValue::TlsCertificate { chain_pem, key_pem } => check_pair(chain_pem, key_pem),
        SecretValue::ValidationContext(bundle) => {
            certificates(bundle, "trusted CA bundle").map(|_| ())
        }
    }
}

/// Decodes every certificate of a PEM bundle and parses each as X.509.
fn certificates(
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, ContentError> {
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        let der = item.map_err(|_| ContentError::BadPem(what))?;
        if x509_parser::parse_x509_certificate(&der).is_err() {
            return Err(ContentError::BadCertificate {
                what,
                index: certs.len(),
            });
        }
        certs.push(der);
    }
    if certs.is_empty() {
        return Err(ContentError::NoCertificate(what));
    }
    Ok(certs)
}

fn check_pair(chain_pem: &[u8], key_pem: &[u8]) -> Result<(), ContentError> {
    let chain = certificates(chain_pem, "certificate chain")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        ContentError::BadKey(match e {
            rustls_pki_types::pem::Error::NoItemsFound => "no PEM private key found".to_owned(),
            _ => "bad PEM in the private key".to_owned(),
        })
    })?;
    if let Some(leaf) = chain.first()
        && let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf)
    {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        if cert.validity().not_after.timestamp() < now {
            return Err(ContentError::Expired);
        }
    }
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| ContentError::BadKey("unsupported or malformed private key".to_owned()))?;
    match CertifiedKey::new(chain, signing_key).keys_match() {
        Ok(()) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(ContentError::KeyMismatch)
        }
        Err(_) => Err(ContentError::BadKey(
            "cannot confirm the key belongs to the certificate".to_owned(),
        )),
    }
}
