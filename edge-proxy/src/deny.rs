//! How the edge says no: the one mapping from [`DenyReason`] to an HTTP status, and the
//! structured response every refusal carries (`x-deny-reason`, `x-request-id`, a JSON body, plus
//! `Proxy-Authenticate` on 407 and `Retry-After` on 429).

use trust_core::DenyReason;

/// The realm offered in `Proxy-Authenticate`.
const REALM: &str = "trust-edge";

/// The HTTP status for a refusal. Exhaustive on purpose: a new reason must be mapped here.
pub fn status(reason: DenyReason) -> u16 {
    match reason {
        DenyReason::MalformedRequest => 400,
        DenyReason::MissingSessionToken
        | DenyReason::InvalidSessionToken
        | DenyReason::SessionExpired => 407,
        DenyReason::SessionRevoked
        | DenyReason::DenyAll
        | DenyReason::UnknownProfile
        | DenyReason::DestinationNotAllowed
        | DenyReason::PortNotAllowed
        | DenyReason::IpLiteralNotAllowed
        | DenyReason::ResolvedAddressDenied
        | DenyReason::HostMismatch
        | DenyReason::SniMismatch
        | DenyReason::MethodNotAllowed
        | DenyReason::PathNotAllowed
        | DenyReason::ProtocolNotAllowed
        | DenyReason::Tripwire => 403,
        DenyReason::RateLimited | DenyReason::ConnectionLimit => 429,
        DenyReason::ResolutionFailed
        | DenyReason::UpstreamUnreachable
        | DenyReason::UpstreamTlsFailed
        | DenyReason::ResponseNotInspectable => 502,
        DenyReason::UpstreamTimeout => 504,
        DenyReason::CredentialUnavailable | DenyReason::EdgeNotReady => 503,
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        407 => "Proxy Authentication Required",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// A refusal ready to be written: reason, request id and (for 429) a retry hint in seconds.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Why.
    pub reason: DenyReason,
    /// The request id, echoed as `x-request-id`.
    pub request_id: String,
    /// Seconds after which a retry may succeed (429 only).
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// The JSON body: `{"reason", "message", "request_id"}`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "reason": self.reason.code(),
            "message": self.reason.message(),
            "request_id": self.request_id,
        })
        .to_string()
    }

    /// The extra headers beyond content type and length, as (name, value) pairs.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("x-deny-reason", self.reason.code().to_owned()),
            ("x-request-id", self.request_id.clone()),
        ];
        match status(self.reason) {
            407 => headers.push((
                "proxy-authenticate",
                format!("Bearer realm=\"{REALM}\", Basic realm=\"{REALM}\""),
            )),
            429 => headers.push((
                "retry-after",
                self.retry_after.unwrap_or(1).max(1).to_string(),
            )),
            _ => {}
        }
        headers
    }

    /// The whole HTTP/1.1 response, closing the connection afterwards.
    pub fn to_http1(&self) -> Vec<u8> {
        let code = status(self.reason);
        let body = self.body();
        let mut out = format!("HTTP/1.1 {code} {}\r\n", status_text(code));
        for (name, value) in self.headers() {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(&value);
            out.push_str("\r\n");
        }
        out.push_str("content-type: application/json\r\nconnection: close\r\n");
        out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests;
