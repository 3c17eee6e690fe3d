//! [`SessionClaims`]: what an egress token says about its session.

use serde::{Deserialize, Deserializer, Serialize};

/// The claims of a session egress token.
///
/// `sid`, `tenant`, `profile` and `jti` must be non-empty; `exp` is required. `aud` is written
/// as a string and read from a string or a one-element array (RFC 7519 allows both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The session id.
    pub sid: String,
    /// The tenant that owns the session.
    pub tenant: String,
    /// The egress profile (policy) the session runs under.
    pub profile: String,
    /// The token's unique id (a UUIDv7 when minted by [`issue`](crate::token::issue)).
    pub jti: String,
    /// The issuer.
    pub iss: String,
    /// The audience.
    #[serde(deserialize_with = "single_audience")]
    pub aud: String,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, in seconds since the Unix epoch.
    pub exp: u64,
    /// Not valid before, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

impl SessionClaims {
    /// The name of the first required claim that is empty, if any.
    pub(crate) fn first_empty_required(&self) -> Option<&'static str> {
        [
            ("sid", &self.sid),
            ("tenant", &self.tenant),
            ("profile", &self.profile),
            ("jti", &self.jti),
            ("iss", &self.iss),
            ("aud", &self.aud),
        ]
        .into_iter()
        .find(|(_, value)| value.is_empty())
        .map(|(name, _)| name)
    }
}

/// `aud` as a string, or an array holding exactly one string.
fn single_audience<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audience {
        One(String),
        Many(Vec<String>),
    }
    match Audience::deserialize(deserializer)? {
        Audience::One(aud) => Ok(aud),
        Audience::Many(auds) => match <[String; 1]>::try_from(auds) {
            Ok([aud]) => Ok(aud),
            Err(_) => Err(serde::de::Error::custom(
                "aud must be a string or a one-element array",
            )),
        },
    }
}
