//! Domain ↔ proto: [`SecretValue`] to Envoy's `Secret` and back. The only place that builds or
//! reads `envoy.extensions.transport_sockets.tls.v3.Secret`.

use crate::secret::SecretValue;
use envoy_types::pb::envoy::config::core::v3::DataSource;
use envoy_types::pb::envoy::config::core::v3::data_source::Specifier;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::secret::Type;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, GenericSecret, Secret, TlsCertificate,
};
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};
use zeroize::{Zeroize, Zeroizing};

/// The type URL of an SDS resource.
pub fn secret_type_url() -> String {
    Secret::type_url()
}

fn inline(bytes: &[u8]) -> Option<DataSource> {
    Some(DataSource {
        watched_directory: None,
        specifier: Some(Specifier::InlineBytes(bytes.to_vec())),
    })
}

/// Encodes `value` as the `Secret` named `name`; the buffers holding the value are zeroised.
pub(crate) fn encode_secret(name: &str, value: &SecretValue) -> Zeroizing<Vec<u8>> {
    let r#type = match value {
        SecretValue::Generic(v) => Type::GenericSecret(GenericSecret {
            secret: inline(v),
            secrets: Default::default(),
        }),
        SecretValue::TlsCertificate { chain_pem, key_pem } => {
            Type::TlsCertificate(TlsCertificate {
                certificate_chain: inline(chain_pem),
                private_key: inline(key_pem),
                ..Default::default()
            })
        }
        SecretValue::ValidationContext(bundle) => {
            Type::ValidationContext(CertificateValidationContext {
                trusted_ca: inline(bundle),
                ..Default::default()
            })
        }
    };
    let mut secret = Secret {
        name: name.to_owned(),
        r#type: Some(r#type),
    };
    let encoded = Zeroizing::new(secret.encode_to_vec());
    wipe(&mut secret);
    encoded
}

/// An `Any` carrying an encoded `Secret`.
pub(crate) fn to_any(encoded: &[u8]) -> Any {
    Any {
        type_url: secret_type_url(),
        value: encoded.to_vec(),
    }
}

/// Decodes an `Any` holding a `Secret` into its name and value; the proto's buffers (and the
/// `Any`'s bytes) are zeroised afterwards.
///
/// # Errors
/// A wrong type URL, an undecodable message, or a secret kind we do not hold.
pub(crate) fn decode_secret(any: &mut Any) -> Result<(String, SecretValue), String> {
    if any.type_url != secret_type_url() {
        return Err(format!("unexpected resource type {:?}", any.type_url));
    }
    let decoded = Secret::decode(any.value.as_slice());
    any.value.zeroize();
    let mut secret = decoded.map_err(|e| format!("undecodable secret: {e}"))?;
    let bytes = |ds: &Option<DataSource>| match ds.as_ref().and_then(|d| d.specifier.as_ref()) {
        Some(Specifier::InlineBytes(b)) => Ok(Zeroizing::new(b.clone())),
        Some(Specifier::InlineString(s)) => Ok(Zeroizing::new(s.as_bytes().to_vec())),
        _ => Err("the secret is not inline".to_owned()),
    };
    let value = match &secret.r#type {
        Some(Type::GenericSecret(g)) => bytes(&g.secret).map(SecretValue::Generic),
        Some(Type::TlsCertificate(t)) => bytes(&t.certificate_chain).and_then(|chain_pem| {
            bytes(&t.private_key).map(|key_pem| SecretValue::TlsCertificate { chain_pem, key_pem })
        }),
        Some(Type::ValidationContext(v)) => {
            bytes(&v.trusted_ca).map(SecretValue::ValidationContext)
        }
        Some(Type::SessionTicketKeys(_)) | None => Err("unsupported secret type".to_owned()),
    };
    let name = std::mem::take(&mut secret.name);
    wipe(&mut secret);
    value.map(|v| (name, v))
}

/// Zeroises every inline buffer a `Secret` holds.
fn wipe(secret: &mut Secret) {
    let clear = |ds: &mut Option<DataSource>| match ds.as_mut().and_then(|d| d.specifier.as_mut()) {
        Some(Specifier::InlineBytes(b)) => b.zeroize(),
        Some(Specifier::InlineString(s)) => s.zeroize(),
        _ => {}
    };
    match secret.r#type.as_mut() {
        Some(Type::GenericSecret(g)) => clear(&mut g.secret),
        Some(Type::TlsCertificate(t)) => {
            clear(&mut t.certificate_chain);
            clear(&mut t.private_key);
        }
        Some(Type::ValidationContext(v)) => clear(&mut v.trusted_ca),
        Some(Type::SessionTicketKeys(_)) | None => {}
    }
}

#[cfg(test)]
mod tests;
