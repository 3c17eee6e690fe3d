//! PEM encoding and decoding of certificates and keys.

use crate::error::CaError;
use base64::Engine as _;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Encodes DER as one PEM block with the given label (64-column lines, trailing newline).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Every `CERTIFICATE` block in `text`, in order; at least one.
///
/// # Errors
/// [`CaError::Invalid`] naming `origin` when a block is malformed or there is none.
pub(crate) fn certificates(
    text: &str,
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, CaError> {
    let certs = CertificateDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaError::invalid(origin, format!("malformed PEM: {e}")))?;
    if certs.is_empty() {
        return Err(CaError::invalid(
            origin,
            "no PEM certificate (BEGIN CERTIFICATE) found",
        ));
    }
    Ok(certs)
}

/// Renders a chain as concatenated PEM blocks.
pub(crate) fn chain(certs: &[CertificateDer<'_>]) -> String {
    certs
        .iter()
        .map(|c| encode("CERTIFICATE", c.as_ref()))
        .collect()
}
