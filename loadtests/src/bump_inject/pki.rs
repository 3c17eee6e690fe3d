//! The run's certificates: a test CA with a leaf for the upstream (what the real API would
//! present), the deployment CA the edge mints from (and the leaf minted from it that Envoy gets
//! over SDS), rustls client configs trusting either, and the cost of a cold leaf mint.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde::Serialize;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::error::Error;

/// Validity of the leaves minted for the mint-cost measurement (as the edge's default).
const MINT_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// The upstream's certificate: a CA nobody else trusts and a leaf it signed.
pub struct UpstreamCert {
    /// The test CA certificate (PEM): what the proxies validate the upstream against.
    pub ca_pem: String,
    /// The leaf (PEM).
    pub cert_pem: String,
    /// The leaf's PKCS#8 key (PEM).
    pub key_pem: String,
}

impl UpstreamCert {
    /// Mints a fresh CA and a leaf for `names` (DNS names or IP literals).
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn new(names: &[&str]) -> Result<Self, Error> {
        let pki = |e: rcgen::Error| Error::Config(format!("test certificate: {e}"));
        let ca_key = KeyPair::generate().map_err(pki)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "loadtests upstream CA");
        let ca_cert = ca_params.self_signed(&ca_key).map_err(pki)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().map_err(pki)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf = CertificateParams::new(names)
            .map_err(pki)?
            .signed_by(&leaf_key, &issuer)
            .map_err(pki)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            cert_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        })
    }

    /// A rustls server config presenting the leaf, ALPN http/1.1.
    ///
    /// # Errors
    /// The PEM did not load.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, Error> {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let certs = certs(&self.cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| Error::Config(format!("upstream key: {e}")))?;
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| Error::Config(format!("upstream TLS config: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Writes `ca.pem`, `tls.crt` and `tls.key` into `dir`; returns their paths in that order.
    ///
    /// # Errors
    /// A file could not be written.
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), Error> {
        std::fs::create_dir_all(dir).map_err(Error::io("creating the upstream cert dir"))?;
        let paths = (dir.join("ca.pem"), dir.join("tls.crt"), dir.join("tls.key"));
        for (path, text) in [
            (&paths.0, &self.ca_pem),
            (&paths.1, &self.cert_pem),
            (&paths.2, &self.key_pem),
        ] {
            std::fs::write(path, text).map_err(Error::io(format!("writing {}", path.display())))?;
        }
        Ok(paths)
    }
}

/// Every certificate in a PEM text.
fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("certificate PEM: {e}")))
}

/// A rustls client config trusting only the CAs in `ca_pem`, ALPN http/1.1, no session
/// resumption (every handshake is a full one, as a fresh sandbox process does).
///
/// # Errors
/// The PEM holds no usable certificate.
pub fn client_config(ca_pem: &str) -> Result<Arc<ClientConfig>, Error> {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs(ca_pem)?);
    if added == 0 {
        return Err(Error::Config("no CA certificate to trust".into()));
    }
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = tokio_rustls::rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// The deployment CA in `dir` (created when absent), as `trust-edge up` makes it.
///
/// # Errors
/// The CA could not be created or loaded.
pub fn deployment_ca(dir: &Path) -> Result<trust_ca::Authority, Error> {
    trust_ca::Authority::load_or_create(dir, &trust_ca::CaOptions::default())
        .map_err(|e| Error::Config(format!("deployment CA: {e}")))
}

/// What minting a leaf for a name never seen costs, measured in this process with the same
/// `trust_ca::Authority::mint` the edge calls on a cache miss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MintCost {
    /// Leaves minted.
    pub samples: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

/// Mints `samples` leaves for distinct names (`m{i}.mint.test`) and summarises their cost.
///
/// # Errors
/// A mint failed.
pub fn mint_cost(ca: &trust_ca::Authority, samples: usize) -> Result<MintCost, Error> {
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let started = Instant::now();
        ca.mint(&format!("m{i}.mint.test"), MINT_VALIDITY)
            .map_err(|e| Error::Config(format!("minting a leaf: {e}")))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let index = ((times.len() as f64 * q).ceil() as usize).saturating_sub(1);
        times.get(index).copied().unwrap_or(0.0)
    };
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    Ok(MintCost {
        samples: times.len(),
        p50_ms: round(at(0.50)),
        p99_ms: round(at(0.99)),
        max_ms: round(times.last().copied().unwrap_or(0.0)),
    })
}
