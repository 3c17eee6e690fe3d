//! A minted leaf: an ECDSA P-256 server certificate for exactly one name.

use crate::error::CaError;
use crate::name::LeafName;
use crate::pem;
use crate::validity::Validity;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// A leaf certificate with its key, ready for rustls and as PEM (for SDS).
#[derive(Clone)]
pub struct Leaf {
    /// Chain (leaf, then the CA certificate(s)) and signing key, for a rustls resolver.
    pub certified: Arc<CertifiedKey>,
    /// The chain as PEM: the leaf first, then the CA certificate(s).
    pub cert_pem: String,
    /// The leaf's PKCS#8 private key as PEM; wiped from memory on drop.
    pub key_pem: Zeroizing<String>,
    /// End of the leaf's validity.
    pub not_after: SystemTime,
}

impl fmt::Debug for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("not_after", &self.not_after)
            .field("chain_len", &self.certified.cert.len())
            .field("key_pem", &"***")
            .finish()
    }
}

/// The CA side of minting: what signs, and the chain that follows the leaf.
pub(crate) struct Signer<'a> {
    /// The CA's distinguished name, key identifier and key.
    pub(crate) issuer: &'a Issuer<'static, KeyPair>,
    /// The CA certificate(s) sent after the leaf.
    pub(crate) chain: &'a [CertificateDer<'static>],
    /// A leaf never outlives this.
    pub(crate) ca_not_after: SystemTime,
}

/// Mints a leaf for `name`, valid from five minutes before `now` for `validity`.
///
/// # Errors
/// [`CaError::Expired`] when the CA has expired; [`CaError::Generate`] when key generation or
/// signing fails.
pub(crate) fn mint(
    signer: &Signer<'_>,
    name: &LeafName,
    validity: Duration,
    now: SystemTime,
) -> Result<Leaf, CaError> {
    let window = Validity::new(now, validity, Some(signer.ca_not_after))?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(CaError::generate)?;

    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![match name {
        LeafName::Dns(dns) => SanType::DnsName(dns.clone().try_into().map_err(CaError::generate)?),
        LeafName::Ip(ip) => SanType::IpAddress(*ip),
    }];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name.to_string());
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    window.apply(&mut params)?;

    let cert = params
        .signed_by(&key, signer.issuer)
        .map_err(CaError::generate)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing_key =
        rustls::crypto::ring::sign::any_ecdsa_type(&key_der).map_err(CaError::generate)?;

    let mut chain = Vec::with_capacity(1 + signer.chain.len());
    chain.push(cert.der().clone());
    chain.extend(signer.chain.iter().cloned());
    let cert_pem = pem::chain(&chain);
    Ok(Leaf {
        certified: Arc::new(CertifiedKey::new(chain, signing_key)),
        cert_pem,
        key_pem: Zeroizing::new(key.serialize_pem()),
        not_after: window.not_after(),
    })
}
