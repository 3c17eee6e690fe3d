//! The deployment CA: created or loaded from its directory, supplied as PEM, rotated with an
//! overlap during which the previous certificate stays in the bundle.

use crate::ca_dir::{BUNDLE_FILE, CERT_FILE, CaDir, KEY_FILE, RETIRED_FILE};
use crate::error::CaError;
use crate::inspect::inspect;
use crate::leaf::{self, Leaf, Signer};
use crate::name::LeafName;
use crate::options::CaOptions;
use crate::pem;
use crate::retired::{self, Retired};
use crate::validity::{Validity, round_down};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Label used in errors for a certificate handed to [`Authority::from_pem`].
const SUPPLIED_CERT: &str = "supplied certificate";
/// Label used in errors for a key handed to [`Authority::from_pem`].
const SUPPLIED_KEY: &str = "supplied key";

/// The CA that mints leaves: the current issuer (certificate and key) and the rotated-out
/// certificates that sandboxes must still trust. `Debug` never shows the key.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The current CA certificate first, then any chain an operator supplied with it.
    chain: Vec<CertificateDer<'static>>,
    cert_pem: String,
    not_after: SystemTime,
    retired: Vec<Retired>,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("not_after", &self.not_after)
            .field("chain_len", &self.chain.len())
            .field("retired", &self.retired.len())
            .field("key", &"***")
            .finish()
    }
}

impl Authority {
    /// Loads the CA in `dir`, or creates one there (directory 0700, `ca.key` 0600 written
    /// atomically and last, `ca.pem`, `bundle.pem`) when `dir` holds no `ca.key`. An existing
    /// CA is loaded as it is: `opts` only shapes a new one.
    ///
    /// # Errors
    /// [`CaError`] naming the file that could not be read, written or used.
    pub fn load_or_create(dir: &Path, opts: &CaOptions) -> Result<Authority, CaError> {
        Self::load_or_create_at(dir, opts, SystemTime::now())
    }

    /// Loads the CA in `dir` without creating anything. Rotated-out certificates whose overlap
    /// has ended are dropped, and `bundle.pem` is rewritten when it is stale.
    ///
    /// # Errors
    /// [`CaError::Missing`] when there is no CA; [`CaError::Invalid`], [`CaError::NotCa`] or
    /// [`CaError::KeyMismatch`] naming the file that is unusable.
    pub fn load(dir: &Path) -> Result<Authority, CaError> {
        Self::load_at(dir, SystemTime::now())
    }

    /// An operator-supplied CA (files, or a `tls_certificate` from SDS): `cert_pem` holds the
    /// CA certificate first, optionally followed by the chain above it; `key_pem` its PKCS#8
    /// private key. The bundle is `cert_pem` itself.
    ///
    /// # Errors
    /// [`CaError::Invalid`] for unparsable PEM, [`CaError::NotCa`] when the first certificate
    /// may not issue certificates, [`CaError::KeyMismatch`] when the key is not its key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Authority, CaError> {
        Self::from_parts(cert_pem, SUPPLIED_CERT, key_pem, SUPPLIED_KEY, Vec::new())
    }

    /// Replaces the CA in `dir` with a new key and certificate. The previous certificate stays
    /// in `bundle.pem` until `now + opts.overlap` (or its own expiry, if sooner) so leaves it
    /// signed keep verifying; it is dropped by the first load or rotation after that.
    ///
    /// # Errors
    /// As [`Authority::load`] for the current CA (which must exist), and [`CaError::Io`] naming
    /// the file that could not be written.
    pub fn rotate(dir: &Path, opts: &CaOptions) -> Result<Authority, CaError> {
        Self::rotate_at(dir, opts, SystemTime::now())
    }

    /// The current CA certificate (PEM; with an operator-supplied chain, the whole chain).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// What sandboxes must trust: the current CA certificate(s) and every rotated-out one whose
    /// overlap has not ended.
    pub fn bundle_pem(&self) -> String {
        self.bundle_at(SystemTime::now())
    }

    /// End of the current CA certificate's validity.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Whether the current CA certificate expires within `d` from now (or already has).
    pub fn expires_within(&self, d: Duration) -> bool {
        SystemTime::now()
            .checked_add(d)
            .is_none_or(|limit| self.not_after <= limit)
    }

    /// Mints a leaf for exactly `host` (a DNS name, or an IP literal which becomes an IP SAN),
    /// valid for `validity` from now, never past the CA's own expiry.
    ///
    /// # Errors
    /// [`CaError::InvalidName`] for wildcards and anything that is not an exact DNS name or IP;
    /// [`CaError::Expired`] when the CA has expired; [`CaError::Generate`] on a signing failure.
    pub fn mint(&self, host: &str, validity: Duration) -> Result<Leaf, CaError> {
        self.mint_at(&LeafName::parse(host)?, validity, SystemTime::now())
    }

    /// Mints for an already validated name at `now`.
    pub(crate) fn mint_at(
        &self,
        name: &LeafName,
        validity: Duration,
        now: SystemTime,
    ) -> Result<Leaf, CaError> {
        let signer = Signer {
            issuer: &self.issuer,
            chain: &self.chain,
            ca_not_after: self.not_after,
        };
        leaf::mint(&signer, name, validity, now)
    }

    pub(crate) fn bundle_at(&self, now: SystemTime) -> String {
        let mut bundle = self.cert_pem.clone();
        for r in self.retired.iter().filter(|r| r.trusted_at(now)) {
            bundle.push_str(&r.pem);
        }
        bundle
    }

    pub(crate) fn load_or_create_at(
        dir: &Path,
        opts: &CaOptions,
        now: SystemTime,
    ) -> Result<Authority, CaError> {
        let ca_dir = CaDir::new(dir);
        if ca_dir.has_key() {
            return Self::load_at(dir, now);
        }
        ca_dir.create()?;
        let authority = Self::generate(opts, now, Vec::new())?;
        authority.write(&ca_dir, now)?;
        tracing::info!(dir = %dir.display(), "created the deployment CA");
        Ok(authority)
    }

    pub(crate) fn load_at(dir: &Path, now: SystemTime) -> Result<Authority, CaError> {
        let ca_dir = CaDir::new(dir);
        let key_pem = ca_dir.read(KEY_FILE)?;
        let cert_pem = ca_dir.read(CERT_FILE)?;
        let retired_origin = ca_dir.path(RETIRED_FILE).display().to_string();
        let all_retired = match ca_dir.read_optional(RETIRED_FILE)? {
            Some(text) => retired::parse(&text, &retired_origin)?,
            None => Vec::new(),
        };
        let kept: Vec<Retired> = all_retired
            .iter()
            .filter(|r| r.trusted_at(now))
            .cloned()
            .collect();
        let authority = Self::from_parts(
            &cert_pem,
            &ca_dir.path(CERT_FILE).display().to_string(),
            &key_pem,
            &ca_dir.path(KEY_FILE).display().to_string(),
            kept,
        )?;
        if ca_dir.key_is_exposed() {
            tracing::warn!(
                path = %ca_dir.path(KEY_FILE).display(),
                "the CA key file is readable by group or others; chmod 600 it"
            );
        }
        // Keep the files in step with what was loaded; the in-memory CA is right either way,
        // so a read-only directory only warns.
        let refresh = || -> Result<(), CaError> {
            if authority.retired.len() != all_retired.len() {
                ca_dir.write_public(RETIRED_FILE, &retired::render(&authority.retired))?;
            }
            let bundle = authority.bundle_at(now);
            if ca_dir.read_optional(BUNDLE_FILE)?.as_deref() != Some(bundle.as_str()) {
                ca_dir.write_public(BUNDLE_FILE, &bundle)?;
            }
            Ok(())
        };
        if let Err(e) = refresh() {
            tracing::warn!(error = %e, "could not refresh the CA bundle files");
        }
        Ok(authority)
    }

    pub(crate) fn rotate_at(
        dir: &Path,
        opts: &CaOptions,
        now: SystemTime,
    ) -> Result<Authority, CaError> {
        let ca_dir = CaDir::new(dir);
        let old = Self::load_at(dir, now)?;
        let mut retired = old.retired.clone();
        if let Some(current) = old.chain.first() {
            let until = now
                .checked_add(opts.overlap)
                .map_or(old.not_after, |t| t.min(old.not_after));
            let entry = Retired {
                pem: pem::encode("CERTIFICATE", current.as_ref()),
                trusted_until: round_down(until),
            };
            if entry.trusted_at(now) {
                retired.push(entry);
            }
        }
        let authority = Self::generate(opts, now, retired)?;
        authority.write(&ca_dir, now)?;
        tracing::info!(dir = %dir.display(), "rotated the deployment CA");
        Ok(authority)
    }

    /// A new self-signed P-256 CA that may only sign leaves (path length 0).
    fn generate(
        opts: &CaOptions,
        now: SystemTime,
        retired: Vec<Retired>,
    ) -> Result<Authority, CaError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(CaError::generate)?;
        let window = Validity::new(now, opts.validity, None)?;
        let mut params = CertificateParams::default();
        // The unit names this key, so the certificates of successive rotations (all with the
        // same common name) have distinct subjects: every TLS stack then finds the right issuer.
        let key_id: String = params
            .key_identifier(&key)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, opts.common_name.clone());
        dn.push(DnType::OrganizationalUnitName, format!("key {key_id}"));
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        window.apply(&mut params)?;
        let cert = params.self_signed(&key).map_err(CaError::generate)?;
        let der = cert.der().clone();
        Ok(Authority {
            cert_pem: pem::chain(std::slice::from_ref(&der)),
            chain: vec![der],
            issuer: Issuer::new(params, key),
            not_after: window.not_after(),
            retired,
        })
    }

    /// Writes the CA to `ca_dir`: retired list and bundle first (so a new certificate is
    /// trusted before anything is signed with it), then the certificate, then the key.
    /// A crash between the last two leaves a key that does not match, which `load` reports.
    fn write(&self, ca_dir: &CaDir, now: SystemTime) -> Result<(), CaError> {
        if self.retired.is_empty() {
            ca_dir.remove(RETIRED_FILE)?;
        } else {
            ca_dir.write_public(RETIRED_FILE, &retired::render(&self.retired))?;
        }
        ca_dir.write_public(BUNDLE_FILE, &self.bundle_at(now))?;
        ca_dir.write_public(CERT_FILE, &self.cert_pem)?;
        ca_dir.write_key(&self.issuer.key().serialize_pem())
    }

    /// Builds an authority from PEM text, checking that the first certificate is a CA and that
    /// the key is its key.
    fn from_parts(
        cert_pem: &str,
        cert_origin: &str,
        key_pem: &str,
        key_origin: &str,
        retired: Vec<Retired>,
    ) -> Result<Authority, CaError> {
        let chain = pem::certificates(cert_pem, cert_origin)?;
        let Some(first) = chain.first() else {
            return Err(CaError::invalid(cert_origin, "no certificate"));
        };
        let facts = inspect(first.as_ref(), cert_origin)?;
        if let Some(reason) = facts.not_ca_because {
            return Err(CaError::NotCa {
                origin: cert_origin.to_owned(),
                message: reason.to_owned(),
            });
        }
        let key = KeyPair::from_pem(key_pem).map_err(|_| {
            CaError::invalid(
                key_origin,
                "not a PKCS#8 private key (BEGIN PRIVATE KEY) of a supported type; \
                 convert with `openssl pkcs8 -topk8 -nocrypt`",
            )
        })?;
        if key.public_key_raw() != facts.public_key.as_slice() {
            return Err(CaError::KeyMismatch {
                key: key_origin.to_owned(),
                cert: cert_origin.to_owned(),
            });
        }
        let issuer = Issuer::from_ca_cert_der(first, key)
            .map_err(|e| CaError::invalid(cert_origin, e.to_string()))?;
        Ok(Authority {
            issuer,
            cert_pem: pem::chain(&chain),
            chain,
            not_after: facts.not_after,
            retired,
        })
    }
}

#[cfg(test)]
mod tests;
