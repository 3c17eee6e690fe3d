//! Test support: how a sandbox's TLS client judges a leaf (rustls's `WebPkiServerVerifier`
//! over the bundle it was given).

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

/// The roots a client trusting `bundle_pem` has.
pub(crate) fn roots(bundle_pem: &str) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(bundle_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(roots)
}

/// Verifies the chain in `certified` for `name` as a client trusting `bundle_pem` would, now.
pub(crate) fn verify(
    bundle_pem: &str,
    certified: &CertifiedKey,
    name: &str,
) -> Result<(), rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(bundle_pem), provider)
        .build()
        .unwrap();
    let (leaf, rest) = certified.cert.split_first().unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    verifier
        .verify_server_cert(leaf, rest, &name, &[], UnixTime::now())
        .map(|_| ())
}
