//! What the CA code needs to know about a certificate, read with x509-parser.

use crate::error::CaError;
use std::time::SystemTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Facts read from one certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertFacts {
    /// End of validity.
    pub(crate) not_after: SystemTime,
    /// `None` when the certificate may issue certificates, else why not.
    pub(crate) not_ca_because: Option<&'static str>,
    /// The subject public key (the BIT STRING contents of the SPKI).
    pub(crate) public_key: Vec<u8>,
}

/// Parses `der`.
///
/// # Errors
/// [`CaError::Invalid`] naming `origin` when it is not an X.509 certificate.
pub(crate) fn inspect(der: &[u8], origin: &str) -> Result<CertFacts, CaError> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| CaError::invalid(origin, format!("not an X.509 certificate: {e}")))?;
    if !rest.is_empty() {
        return Err(CaError::invalid(
            origin,
            "trailing bytes after the certificate",
        ));
    }
    let not_after = SystemTime::from(cert.validity().not_after.to_datetime());
    let not_ca_because = match cert.basic_constraints() {
        Err(_) => Some("malformed basic constraints"),
        Ok(None) => Some("no basic constraints extension"),
        Ok(Some(bc)) if !bc.value.ca => Some("basic constraints say CA:FALSE"),
        Ok(Some(_)) => match cert.key_usage() {
            Err(_) => Some("malformed key usage"),
            Ok(Some(ku)) if !ku.value.key_cert_sign() => Some("key usage lacks keyCertSign"),
            Ok(_) => None,
        },
    };
    Ok(CertFacts {
        not_after,
        not_ca_because,
        public_key: cert.public_key().subject_public_key.data.to_vec(),
    })
}
