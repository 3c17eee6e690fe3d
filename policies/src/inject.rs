//! Credentials a `bump` rule attaches: which secret, on which header, in which format.
//!
//! The policy names secrets, never holds them: the edge reads the value from its SDS cache
//! and calls [`Inject::render`] for every request it injects.

use std::fmt;

/// The placeholder a format holds exactly once.
pub(crate) const PLACEHOLDER: &str = "{secret}";

/// Longest `format` accepted.
const MAX_FORMAT_LEN: usize = 256;

/// Longest header name accepted.
const MAX_HEADER_LEN: usize = 64;

/// Longest secret name accepted (a DNS name's length).
const MAX_SECRET_LEN: usize = 253;

/// Headers a credential may never be written to: hop-by-hop headers, framing, routing and the
/// proxy's own authentication.
const FORBIDDEN_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One credential of a rule: `{secret, header, format}` in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Inject {
    /// The SDS resource name of the secret (`[A-Za-z0-9._/-]+`).
    pub secret: String,
    /// The header it is written to, lower-case; any value the sandbox sent in it is replaced.
    pub header: String,
    /// How the header value is built from the secret.
    pub format: InjectFormat,
}

impl Inject {
    /// The header value for the secret `value`: the format with the value in place of
    /// `{secret}`.
    pub fn render(&self, value: &[u8]) -> Vec<u8> {
        self.format.render(value)
    }
}

/// A header-value template with exactly one `{secret}` placeholder, e.g. `Bearer {secret}`;
/// the default is `{secret}`. Printable ASCII only, so it can never split a header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct InjectFormat {
    /// Text before the placeholder.
    prefix: String,
    /// Text after the placeholder.
    suffix: String,
}

impl InjectFormat {
    /// Reads a template.
    ///
    /// # Errors
    /// A sentence saying what is wrong (no placeholder, two of them, a control character).
    pub(crate) fn parse(template: &str) -> Result<InjectFormat, String> {
        if template.len() > MAX_FORMAT_LEN {
            return Err(format!("is longer than {MAX_FORMAT_LEN} characters"));
        }
        if template
            .bytes()
            .any(|b| !(b.is_ascii_graphic() || b == b' '))
        {
            return Err(
                "may hold only printable ASCII and spaces (no control characters, line breaks \
                 or non-ASCII), so it can never split a header"
                    .to_owned(),
            );
        }
        let mut parts = template.split(PLACEHOLDER);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(prefix), Some(suffix), None) => Ok(InjectFormat {
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            }),
            (_, None, _) => Err(format!(
                "must hold `{PLACEHOLDER}` where the secret goes, like `Bearer {PLACEHOLDER}`"
            )),
            _ => Err(format!("must hold `{PLACEHOLDER}` exactly once")),
        }
    }

    /// The template as written (`Bearer {secret}`).
    pub fn template(&self) -> String {
        format!("{}{PLACEHOLDER}{}", self.prefix, self.suffix)
    }

    /// The header value for the secret `value`.
    pub fn render(&self, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.prefix
                .len()
                .saturating_add(value.len())
                .saturating_add(self.suffix.len()),
        );
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(value);
        out.extend_from_slice(self.suffix.as_bytes());
        out
    }
}

impl fmt::Display for InjectFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template())
    }
}

/// Checks a header name: a token, not one the edge owns. Returns it lower-cased.
///
/// # Errors
/// A sentence saying why the header cannot carry a credential.
pub(crate) fn header_name(text: &str) -> Result<String, String> {
    if !crate::http::is_token(text, MAX_HEADER_LEN) {
        return Err(format!(
            "`{text}` is not a header name (an HTTP token of at most {MAX_HEADER_LEN} \
             characters, like `x-api-key`)"
        ));
    }
    let lower = text.to_ascii_lowercase();
    if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "`{text}` is a header the edge owns (hop-by-hop, framing, routing or proxy \
             authentication); a credential cannot go there"
        ));
    }
    Ok(lower)
}

/// Checks a secret name: 1 to 253 of `A-Z a-z 0-9 . _ / -`.
pub(crate) fn is_valid_secret_name(name: &str) -> bool {
    (1..=MAX_SECRET_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
}

#[cfg(test)]
mod tests;
