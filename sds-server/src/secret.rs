//! Secrets as the server and the client hold them: a kind, a value kept zeroised, a version.
//!
//! A [`SecretValue`] never prints its content: `Debug` shows the kind and sizes only.

mod check;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub(crate) use check::check;

/// What a secret is, which decides how it is checked and sent to Envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// An opaque value (API key, token), as `credential_injector` wants it.
    GenericSecret,
    /// A certificate chain and its private key.
    TlsCertificate,
    /// A trusted CA bundle.
    ValidationContext,
}

impl SecretKind {
    /// The fixed label (`generic_secret`, `tls_certificate`, `validation_context`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SecretKind::GenericSecret => "generic_secret",
            SecretKind::TlsCertificate => "tls_certificate",
            SecretKind::ValidationContext => "validation_context",
        }
    }
}

/// A secret's content. The bytes are zeroised when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    /// An opaque value.
    Generic(Zeroizing<Vec<u8>>),
    /// A PEM certificate chain (leaf first) and its PEM private key.
    TlsCertificate {
        /// The PEM chain, leaf first.
        chain_pem: Zeroizing<Vec<u8>>,
        /// The PEM private key.
        key_pem: Zeroizing<Vec<u8>>,
    },
    /// A PEM bundle of trusted CA certificates.
    ValidationContext(Zeroizing<Vec<u8>>),
}

impl SecretValue {
    /// The value's kind.
    pub fn kind(&self) -> SecretKind {
        match self {
            SecretValue::Generic(_) => SecretKind::GenericSecret,
            SecretValue::TlsCertificate { .. } => SecretKind::TlsCertificate,
            SecretValue::ValidationContext(_) => SecretKind::ValidationContext,
        }
    }

    /// The opaque bytes of a generic secret.
    pub fn generic(&self) -> Option<&[u8]> {
        match self {
            SecretValue::Generic(v) => Some(v.as_slice()),
            _ => None,
        }
    }

    /// The PEM chain and PEM key of a TLS certificate.
    pub fn tls_certificate(&self) -> Option<(&[u8], &[u8])> {
        match self {
            SecretValue::TlsCertificate { chain_pem, key_pem } => {
                Some((chain_pem.as_slice(), key_pem.as_slice()))
            }
            _ => None,
        }
    }

    /// The PEM CA bundle of a validation context.
    pub fn trusted_ca(&self) -> Option<&[u8]> {
        match self {
            SecretValue::ValidationContext(v) => Some(v.as_slice()),
            _ => None,
        }
    }

    /// Feeds the kind and content into a hasher (to tell versions apart without storing them).
    pub(crate) fn hash_into(&self, hasher: &mut impl sha2::Digest) {
        hasher.update(self.kind().as_str().as_bytes());
        let parts: [&[u8]; 2] = match self {
            SecretValue::Generic(v) | SecretValue::ValidationContext(v) => [v.as_slice(), &[]],
            SecretValue::TlsCertificate { chain_pem, key_pem } => {
                [chain_pem.as_slice(), key_pem.as_slice()]
            }
        };
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretValue::Generic(v) => write!(f, "Generic(*** {} bytes)", v.len()),
            SecretValue::TlsCertificate { chain_pem, .. } => {
                write!(
                    f,
                    "TlsCertificate(chain {} bytes, key ***)",
                    chain_pem.len()
                )
            }
            SecretValue::ValidationContext(v) => write!(f, "ValidationContext({} bytes)", v.len()),
        }
    }
}

#[cfg(test)]
mod tests;
