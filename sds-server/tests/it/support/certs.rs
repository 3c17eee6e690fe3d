//! Certificates minted at test time (rcgen): a CA, server leaves, client leaves with SANs.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A CA that signs leaves.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf: PEM chain (leaf first) and PEM key.
#[derive(Clone)]
pub struct Leaf {
    pub chain_pem: String,
    pub key_pem: String,
}

impl Leaf {
    /// The leaf's DER (to compare with what a server presented).
    pub fn der(&self) -> CertificateDer<'static> {
        CertificateDer::pem_slice_iter(self.chain_pem.as_bytes())
            .next()
            .unwrap()
            .unwrap()
    }
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for DNS names / IP addresses, with `cn` as its common name.
    pub fn leaf(&self, cn: &str, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client leaf whose only SAN is the URI `uri`.
    pub fn client_uri(&self, uri: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}
