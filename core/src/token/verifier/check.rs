//! The steps of verifying one token, as plain functions: split, header, signature, claims.
//! Each returns `None`/`false` for any malformed input; none of them panics.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::token::claims::SessionClaims;
use crate::token::defaults;
use crate::token::key::KeyAlgorithm;

/// The three segments of a compact JWS, and the signed input (`header.payload`).
pub(crate) struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signed: &'a str,
}

/// Splits a token after the cheap checks: length, base64url alphabet, exactly three non-empty
/// segments. Runs before hashing, so oversized or non-ASCII junk costs one linear scan.
pub(crate) fn split(token: &str) -> Option<Parts<'_>> {
    if token.is_empty() || token.len() > defaults::MAX_TOKEN_LEN {
        return None;
    }
    // Folded without an early exit, so the scan is branch-free (it runs on every request).
    let alphabet = |b: u8| b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_') | (b == b'.');
    if !token.bytes().fold(true, |ok, b| ok & alphabet(b)) {
        return None;
    }
    let (signed, signature) = token.rsplit_once('.')?;
    let (header, payload) = signed.split_once('.')?;
    if header.is_empty() || payload.is_empty() || signature.is_empty() || payload.contains('.') {
        return None;
    }
    Some(Parts {
        header,
        payload,
        signature,
        signed,
    })
}

/// The header fields the verifier acts on.
pub(crate) struct TokenHeader {
    pub(crate) alg: KeyAlgorithm,
    pub(crate) kid: String,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// We understand no extension, so any `crit` means refuse (RFC 7515 section 4.1.11).
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// The header, if it names an allowed algorithm and a non-empty `kid`. `none`, HS*, RS*, PS*
/// and anything unknown never parse into a [`KeyAlgorithm`].
pub(crate) fn header(parts: &Parts<'_>, allowed: &[KeyAlgorithm]) -> Option<TokenHeader> {
    let raw: RawHeader = decode_json(parts.header)?;
    if raw.crit.is_some() {
        return None;
    }
    let alg = KeyAlgorithm::from_jwa(&raw.alg).filter(|alg| allowed.contains(alg))?;
    let kid = raw.kid.filter(|kid| !kid.is_empty())?;
    Some(TokenHeader { alg, kid })
}

/// Whether the signature over `header.payload` verifies with `key` under `alg`.
pub(crate) fn signature_ok(parts: &Parts<'_>, key: &DecodingKey, alg: KeyAlgorithm) -> bool {
    let Ok(signature) = URL_SAFE_NO_PAD.decode(parts.signature) else {
        return false;
    };
    let Ok(verifier) = (DEFAULT_PROVIDER.verifier_factory)(&alg.jwt(), key) else {
        return false;
    };
    verifier.verify(parts.signed.as_bytes(), &signature).is_ok()
}

/// The claims, if the payload is JSON of the right shape.
pub(crate) fn claims(parts: &Parts<'_>) -> Option<SessionClaims> {
    decode_json(parts.payload)
}

fn decode_json<T: DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}
