//! [`Jwks`]: building and parsing JSON Web Key Sets (RFC 7517) of Ed25519 and P-256 keys.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::defaults;
use super::error::TokenError;
use super::key::{KeyAlgorithm, SigningKey};

/// A set of public verification keys, each with a `kid`.
///
/// Parsing keeps only signature keys of the two supported types (OKP/Ed25519 and EC/P-256);
/// other key types (RSA, `oct`, other curves, `use: "enc"`) are skipped, never trusted. A
/// supported key that is malformed, lacks a `kid`, carries private material or repeats a `kid`
/// fails the whole document, so a broken JWKS never half-replaces a good one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<PublicKey>,
}

impl Jwks {
    /// The JWKS publishing the public halves of `keys`.
    pub fn from_signing_keys<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> Jwks {
        Jwks {
            keys: keys
                .into_iter()
                .map(|key| key.public_key().clone())
                .collect(),
        }
    }

    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// # Errors
    /// [`TokenError::Jwks`] if the document is not a JWKS, holds more than
    /// [`defaults::MAX_JWKS_KEYS`] keys, or a supported key is unusable.
    pub fn parse(doc: &Value) -> Result<Jwks, TokenError> {
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| TokenError::Jwks("document has no \"keys\" array".to_owned()))?;
        if entries.len() > defaults::MAX_JWKS_KEYS {
            return Err(TokenError::Jwks(format!(
                "{} keys exceed the limit of {}",
                entries.len(),
                defaults::MAX_JWKS_KEYS
            )));
        }
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let Some(key) = PublicKey::from_jwk(entry)
                .map_err(|reason| TokenError::Jwks(format!("keys[{index}]: {reason}")))?
            else {
                tracing::debug!(index, "jwks: skipping a key of an unsupported type or use");
                continue;
            };
            if !seen.insert(key.kid.clone()) {
                return Err(TokenError::Jwks(format!(
                    "keys[{index}]: duplicate kid {:?}",
                    key.kid
                )));
            }
            keys.push(key);
        }
        Ok(Jwks { keys })
    }

    /// Parses a JWKS document from JSON bytes.
    ///
    /// # Errors
    /// As [`Jwks::parse`], and [`TokenError::Jwks`] if the bytes are not JSON.
    pub fn from_slice(bytes: &[u8]) -> Result<Jwks, TokenError> {
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| TokenError::Jwks(format!("not json: {e}")))?;
        Jwks::parse(&doc)
    }

    /// The JWKS document: `{"keys": [...]}`.
    pub fn to_value(&self) -> Value {
        json!({ "keys": self.keys.iter().map(PublicKey::to_jwk).collect::<Vec<_>>() })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.kid.as_str())
    }

    /// The algorithm of the key with this `kid`.
    pub fn algorithm(&self, kid: &str) -> Option<KeyAlgorithm> {
        self.keys
            .iter()
            .find(|key| key.kid == kid)
            .map(|key| key.alg)
    }

    pub(crate) fn into_keys(self) -> Vec<PublicKey> {
        self.keys
    }
}

/// One public key: its id, algorithm and raw bytes (Ed25519: 32 bytes; P-256: the 65-byte
/// uncompressed SEC1 point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicKey {
    pub(crate) kid: String,
    pub(crate) alg: KeyAlgorithm,
    pub(crate) raw: Vec<u8>,
}

impl PublicKey {
    /// Checks the bytes form a valid public key of `alg` (length, and a point on the curve).
    pub(crate) fn new(
        kid: String,
        alg: KeyAlgorithm,
        raw: Vec<u8>,
    ) -> Result<PublicKey, TokenError> {
        let expected = match alg {
            KeyAlgorithm::EdDSA => 32,
            KeyAlgorithm::Es256 => 65,
        };
        if kid.is_empty() {
            return Err(TokenError::Jwks("kid is empty".to_owned()));
        }
        if raw.len() != expected || (alg == KeyAlgorithm::Es256 && raw.first() != Some(&0x04)) {
            return Err(TokenError::Jwks(format!(
                "{alg} public key has the wrong length or form"
            )));
        }
        let key = PublicKey { kid, alg, raw };
        (DEFAULT_PROVIDER.verifier_factory)(&alg.jwt(), &key.decoding_key())
            .map_err(|_| TokenError::Jwks(format!("{alg} public key is not a valid point")))?;
        Ok(key)
    }

    /// The key for jsonwebtoken's verifiers.
    pub(crate) fn decoding_key(&self) -> DecodingKey {
        match self.alg {
            KeyAlgorithm::EdDSA => DecodingKey::from_ed_der(&self.raw),
            KeyAlgorithm::Es256 => DecodingKey::from_ec_der(&self.raw),
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): a stable `kid` for a public key.
    pub(crate) fn thumbprint(alg: KeyAlgorithm, raw: &[u8]) -> String {
        // Members in lexicographic order, no whitespace, as RFC 7638 section 3 requires.
        let canonical = match alg {
            KeyAlgorithm::EdDSA => {
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    URL_SAFE_NO_PAD.encode(raw)
                )
            }
            KeyAlgorithm::Es256 => {
                let (x, y) = ec_coordinates(raw);
                format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    URL_SAFE_NO_PAD.encode(x),
                    URL_SAFE_NO_PAD.encode(y)
                )
            }
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    pub(crate) fn to_jwk(&self) -> Value {
        match self.alg {
            KeyAlgorithm::EdDSA => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(&self.raw),
                "kid": self.kid,
                "alg": self.alg.jwa(),
                "use": "sig",
            }),
            KeyAlgorithm::Es256 => {
                let (x, y) = ec_coordinates(&self.raw);
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(x),
                    "y": URL_SAFE_NO_PAD.encode(y),
                    "kid": self.kid,
                    "alg": self.alg.jwa(),
                    "use": "sig",
                })
            }
        }
    }

    /// `Ok(None)` for a key this edge does not use (other type, curve or `use`).
    fn from_jwk(value: &Value) -> Result<Option<PublicKey>, String> {
        let jwk = value.as_object().ok_or("not a json object")?;
        let alg = match (str_member(jwk, "kty")?, str_member(jwk, "crv")?) {
            (Some("OKP"), Some("Ed25519")) => KeyAlgorithm::EdDSA,
            (Some("EC"), Some("P-256")) => KeyAlgorithm::Es256,
            _ => return Ok(None),
        };
        if str_member(jwk, "use")?.is_some_and(|usage| usage != "sig") {
            return Ok(None);
        }
        if let Some(named) = str_member(jwk, "alg")?
            && named != alg.jwa()
        {
            return Err(format!("alg {named:?} does not match a {} key", alg.jwa()));
        }
        if jwk.contains_key("d") {
            return Err("contains private key material (\"d\")".to_owned());
        }
        let kid = str_member(jwk, "kid")?
            .filter(|kid| !kid.is_empty())
            .ok_or("missing kid")?;
        let raw = match alg {
            KeyAlgorithm::EdDSA => coordinate(jwk, "x")?,
            KeyAlgorithm::Es256 => {
                let (x, y) = (coordinate(jwk, "x")?, coordinate(jwk, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("P-256 coordinates must be 32 bytes".to_owned());
                }
                let mut raw = Vec::with_capacity(65);
                raw.push(0x04);
                raw.extend_from_slice(&x);
                raw.extend_from_slice(&y);
                raw
            }
        };
        PublicKey::new(kid.to_owned(), alg, raw)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// Splits a 65-byte uncompressed SEC1 point into its coordinates (empty if malformed, which
/// [`PublicKey::new`] has already ruled out).
fn ec_coordinates(raw: &[u8]) -> (&[u8], &[u8]) {
    raw.get(1..)
        .map(|xy| xy.split_at(xy.len() / 2))
        .unwrap_or_default()
}

fn str_member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

fn coordinate(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let encoded = str_member(jwk, name)?.ok_or_else(|| format!("missing {name}"))?;
    URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| format!("{name} is not base64url"))
}

#[cfg(test)]
mod tests;
