//! [`KeyAlgorithm`] and [`SigningKey`]: the private half, used by the control plane and the
//! dev setup to mint tokens.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::claims::SessionClaims;
use super::error::TokenError;
use super::jwks::PublicKey;

/// The signature algorithms a session token may use. Nothing else is ever accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// EdDSA over Ed25519 (RFC 8037), JWA name `EdDSA`.
    #[serde(rename = "EdDSA")]
    EdDSA,
    /// ECDSA over P-256 with SHA-256, JWA name `ES256`.
    #[serde(rename = "ES256")]
    Es256,
}

impl KeyAlgorithm {
    /// Both algorithms, in preference order.
    pub const ALL: [KeyAlgorithm; 2] = [KeyAlgorithm::EdDSA, KeyAlgorithm::Es256];

    /// The JWA name, as written in a token header and a JWK `alg`.
    pub const fn jwa(self) -> &'static str {
        match self {
            KeyAlgorithm::EdDSA => "EdDSA",
            KeyAlgorithm::Es256 => "ES256",
        }
    }

    /// Parses a JWA name; `None` for every other algorithm (`none`, HS*, RS*, PS*, ES384, ...).
    pub fn from_jwa(name: &str) -> Option<KeyAlgorithm> {
        KeyAlgorithm::ALL.into_iter().find(|alg| alg.jwa() == name)
    }

    pub(crate) const fn jwt(self) -> Algorithm {
        match self {
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            KeyAlgorithm::Es256 => Algorithm::ES256,
        }
    }

    fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            KeyAlgorithm::EdDSA => &rcgen::PKCS_ED25519,
            KeyAlgorithm::Es256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jwa())
    }
}

/// A private signing key with its `kid`. The key material never appears in `Debug` output and
/// is zeroised on drop.
pub struct SigningKey {
    public: PublicKey,
    /// PKCS#8 DER; `EncodingKey` zeroises it on drop.
    private: EncodingKey,
}

impl SigningKey {
    /// Generates a fresh key pair. Its `kid` is the RFC 7638 thumbprint of the public key.
    ///
    /// # Errors
    /// [`TokenError::KeyGeneration`] if the system random source fails.
    pub fn generate(alg: KeyAlgorithm) -> Result<SigningKey, TokenError> {
        let pair = rcgen::KeyPair::generate_for(alg.rcgen())
            .map_err(|e| TokenError::KeyGeneration(e.to_string()))?;
        let kid = PublicKey::thumbprint(alg, pair.public_key_raw());
        SigningKey::from_pair(&pair, kid, alg)
    }

    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) of algorithm `alg`.
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] if the PEM does not hold a PKCS#8 key of that algorithm or
    /// `kid` is empty.
    pub fn from_pkcs8_pem(
        pem: &str,
        kid: &str,
        alg: KeyAlgorithm,
    ) -> Result<SigningKey, TokenError> {
        if kid.is_empty() {
            return Err(invalid_key(alg, "kid is empty"));
        }
        let pair = parse_pem(pem, alg)?;
        SigningKey::from_pair(&pair, kid.to_owned(), alg)
    }

    /// Loads a PKCS#8 PEM private key whose `kid` is its RFC 7638 thumbprint.
    pub(crate) fn from_pkcs8_pem_thumbprint(
        pem: &str,
        alg: KeyAlgorithm,
    ) -> Result<SigningKey, TokenError> {
        let pair = parse_pem(pem, alg)?;
        let kid = PublicKey::thumbprint(alg, pair.public_key_raw());
        SigningKey::from_pair(&pair, kid, alg)
    }

    fn from_pair(
        pair: &rcgen::KeyPair,
        kid: String,
        alg: KeyAlgorithm,
    ) -> Result<SigningKey, TokenError> {
        let public = PublicKey::new(kid, alg, pair.public_key_raw().to_vec())?;
        let der = pair.serialized_der();
        let private = match alg {
            KeyAlgorithm::EdDSA => EncodingKey::from_ed_der(der),
            KeyAlgorithm::Es256 => EncodingKey::from_ec_der(der),
        };
        // Fail now, not at the first signature, if the signer cannot use this key.
        (DEFAULT_PROVIDER.signer_factory)(&alg.jwt(), &private)
            .map_err(|e| invalid_key(alg, &e.to_string()))?;
        Ok(SigningKey { public, private })
    }

    /// The private key as PKCS#8 PEM. This is the secret: write it only to a 0600 file.
    pub fn to_pkcs8_pem(&self) -> String {
        let encoded = STANDARD.encode(self.private.as_bytes());
        let mut pem = String::with_capacity(encoded.len() + encoded.len() / 64 + 64);
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        for (i, c) in encoded.chars().enumerate() {
            if i > 0 && i % 64 == 0 {
                pem.push('\n');
            }
            pem.push(c);
        }
        pem.push_str("\n-----END PRIVATE KEY-----\n");
        pem
    }

    /// The key id written in every token header this key signs.
    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    /// The key's algorithm.
    pub fn alg(&self) -> KeyAlgorithm {
        self.public.alg
    }

    /// The public key as a JWK (RFC 7517 / RFC 8037) with `kid`, `alg` and `use: "sig"`.
    pub fn public_jwk(&self) -> serde_json::Value {
        self.public.to_jwk()
    }

    pub(crate) fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `claims` into a compact JWT whose header carries `alg`, `typ` and `kid`.
    ///
    /// # Errors
    /// [`TokenError::InvalidClaims`] if a required claim is empty; [`TokenError::Signing`] if
    /// the signer fails.
    pub fn sign(&self, claims: &SessionClaims) -> Result<String, TokenError> {
        if claims.first_empty_required().is_some() {
            return Err(TokenError::InvalidClaims(
                "sid, tenant, profile, jti, iss and aud must be non-empty",
            ));
        }
        let alg = self.public.alg.jwt();
        let mut header = Header::new(alg);
        header.kid = Some(self.public.kid.clone());
        let header = serde_json::to_vec(&header).map_err(|e| TokenError::Signing(e.to_string()))?;
        let payload = serde_json::to_vec(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let signer = (DEFAULT_PROVIDER.signer_factory)(&alg, &self.private)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        let signature = signer
            .try_sign(token.as_bytes())
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.public.kid)
            .field("alg", &self.public.alg)
            .finish_non_exhaustive()
    }
}

fn parse_pem(pem: &str, alg: KeyAlgorithm) -> Result<rcgen::KeyPair, TokenError> {
    rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(pem, alg.rcgen())
        .map_err(|_| invalid_key(alg, "not a PKCS#8 PEM private key of this algorithm"))
}

fn invalid_key(alg: KeyAlgorithm, reason: &str) -> TokenError {
    TokenError::InvalidKey {
        alg: alg.jwa(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
