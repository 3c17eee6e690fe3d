//! The deny vocabulary: one closed enum of reasons, each with a stable code.
//!
//! A refusal anywhere in trust-edge is a [`DenyReason`]. Its [`DenyReason::code`] is what the
//! `x-deny-reason` header, the JSON body, the audit event and the metrics label carry. HTTP
//! statuses are mapped in one exhaustive match per component (the edge's lives in
//! `edge-proxy/src/deny.rs`), so a new variant does not compile until every mapping handles it.

use std::fmt;

/// Why a request was refused. Closed and documented: extend it deliberately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The request could not be parsed or its framing was ambiguous.
    MalformedRequest,
    /// No session token was presented.
    MissingSessionToken,
    /// The session token failed verification (signature, algorithm, issuer, audience, claims).
    InvalidSessionToken,
    /// The session token's `exp` has passed.
    SessionExpired,
    /// The session was revoked by the control plane.
    SessionRevoked,
    /// The deny-all switch is on.
    DenyAll,
    /// The token names a profile the edge has no policy for.
    UnknownProfile,
    /// No rule of the profile names this destination host.
    DestinationNotAllowed,
    /// The host is allowed but not on this port.
    PortNotAllowed,
    /// The destination is an IP literal that no rule names.
    IpLiteralNotAllowed,
    /// The destination resolved to an address in the mandatory deny-set.
    ResolvedAddressDenied,
    /// The request's Host does not match its target's (or its tunnel's) authority.
    HostMismatch,
    /// The TLS ClientHello's SNI is missing or differs from the CONNECT host.
    SniMismatch,
    /// The method is not allowed by the destination's rule.
    MethodNotAllowed,
    /// The path is not allowed by the destination's rule.
    PathNotAllowed,
    /// The protocol (an upgrade, h2c, non-TLS bytes in a tunnel) is not allowed.
    ProtocolNotAllowed,
    /// The session crossed its profile's exfiltration tripwire.
    Tripwire,
    /// The session exceeded its request rate.
    RateLimited,
    /// The session has too many concurrent connections, or the edge too many unauthenticated ones.
    ConnectionLimit,
    /// The destination name could not be resolved.
    ResolutionFailed,
    /// The upstream could not be reached.
    UpstreamUnreachable,
    /// The upstream's TLS certificate did not validate.
    UpstreamTlsFailed,
    /// The upstream sent nothing for longer than the edge's upstream read timeout before its
    /// response began.
    UpstreamTimeout,
    /// The upstream answered a request that carried an injected credential with a body the edge
    /// cannot inspect (an unsupported `Content-Encoding`), so it cannot be scrubbed and is not
    /// passed on.
    ResponseNotInspectable,
    /// A credential the rule injects is not available.
    CredentialUnavailable,
    /// The edge is not ready to decide (no policy, no keys, stale control snapshot).
    EdgeNotReady,
}

impl DenyReason {
    /// Every reason, in documentation order.
    pub const ALL: [DenyReason; 26] = [
        DenyReason::MalformedRequest,
        DenyReason::MissingSessionToken,
        DenyReason::InvalidSessionToken,
        DenyReason::SessionExpired,
        DenyReason::SessionRevoked,
        DenyReason::DenyAll,
        DenyReason::UnknownProfile,
        DenyReason::DestinationNotAllowed,
        DenyReason::PortNotAllowed,
        DenyReason::IpLiteralNotAllowed,
        DenyReason::ResolvedAddressDenied,
        DenyReason::HostMismatch,
        DenyReason::SniMismatch,
        DenyReason::MethodNotAllowed,
        DenyReason::PathNotAllowed,
        DenyReason::ProtocolNotAllowed,
        DenyReason::Tripwire,
        DenyReason::RateLimited,
        DenyReason::ConnectionLimit,
        DenyReason::ResolutionFailed,
        DenyReason::UpstreamUnreachable,
        DenyReason::UpstreamTlsFailed,
        DenyReason::UpstreamTimeout,
        DenyReason::ResponseNotInspectable,
        DenyReason::CredentialUnavailable,
        DenyReason::EdgeNotReady,
    ];

    /// The stable snake_case code: the `x-deny-reason` value, audit `status_detail` and metric label.
    pub const fn code(self) -> &'static str {
        match self {
            DenyReason::MalformedRequest => "malformed_request",
            DenyReason::MissingSessionToken => "missing_session_token",
            DenyReason::InvalidSessionToken => "invalid_session_token",
            DenyReason::SessionExpired => "session_expired",
            DenyReason::SessionRevoked => "session_revoked",
            DenyReason::DenyAll => "deny_all",
            DenyReason::UnknownProfile => "unknown_profile",
            DenyReason::DestinationNotAllowed => "destination_not_allowed",
            DenyReason::PortNotAllowed => "port_not_allowed",
            DenyReason::IpLiteralNotAllowed => "ip_literal_not_allowed",
            DenyReason::ResolvedAddressDenied => "resolved_address_denied",
            DenyReason::HostMismatch => "host_mismatch",
            DenyReason::SniMismatch => "sni_mismatch",
            DenyReason::MethodNotAllowed => "method_not_allowed",
            DenyReason::PathNotAllowed => "path_not_allowed",
            DenyReason::ProtocolNotAllowed => "protocol_not_allowed",
            DenyReason::Tripwire => "tripwire",
            DenyReason::RateLimited => "rate_limited",
            DenyReason::ConnectionLimit => "connection_limit",
            DenyReason::ResolutionFailed => "resolution_failed",
            DenyReason::UpstreamUnreachable => "upstream_unreachable",
            DenyReason::UpstreamTlsFailed => "upstream_tls_failed",
            DenyReason::UpstreamTimeout => "upstream_timeout",
            DenyReason::ResponseNotInspectable => "response_not_inspectable",
            DenyReason::CredentialUnavailable => "credential_unavailable",
            DenyReason::EdgeNotReady => "edge_not_ready",
        }
    }

    /// A short human sentence for the JSON body: no host names, addresses or secrets.
    pub const fn message(self) -> &'static str {
        match self {
            DenyReason::MalformedRequest => "the request is malformed or its framing is ambiguous",
            DenyReason::MissingSessionToken => "a session token is required in Proxy-Authorization",
            DenyReason::InvalidSessionToken => "the session token is not valid",
            DenyReason::SessionExpired => "the session token has expired",
            DenyReason::SessionRevoked => "the session has been revoked",
            DenyReason::DenyAll => "all egress is currently denied",
            DenyReason::UnknownProfile => "the session's profile is not known to this edge",
            DenyReason::DestinationNotAllowed => "the destination is not allowed by the profile",
            DenyReason::PortNotAllowed => "the destination port is not allowed by the profile",
            DenyReason::IpLiteralNotAllowed => "IP-literal destinations are not allowed",
            DenyReason::ResolvedAddressDenied => "the destination resolves to a denied address",
            DenyReason::HostMismatch => {
                "the Host header does not match the request target's authority"
            }
            DenyReason::SniMismatch => "the TLS server name does not match the CONNECT host",
            DenyReason::MethodNotAllowed => "the method is not allowed for this destination",
            DenyReason::PathNotAllowed => "the path is not allowed for this destination",
            DenyReason::ProtocolNotAllowed => "the protocol is not allowed for this destination",
            DenyReason::Tripwire => "the session crossed its exfiltration tripwire",
            DenyReason::RateLimited => "the session's request rate limit was exceeded",
            DenyReason::ConnectionLimit => "too many concurrent connections",
            DenyReason::ResolutionFailed => "the destination name could not be resolved",
            DenyReason::UpstreamUnreachable => "the upstream could not be reached",
            DenyReason::UpstreamTlsFailed => "the upstream's TLS certificate did not validate",
            DenyReason::UpstreamTimeout => "the upstream did not answer in time",
            DenyReason::ResponseNotInspectable => {
                "the upstream's response could not be inspected for credentials"
            }
            DenyReason::CredentialUnavailable => "a credential for this destination is unavailable",
            DenyReason::EdgeNotReady => "the edge is not ready",
        }
    }

    /// Parses a code back into its reason (for policy test tables and audit tooling).
    pub fn from_code(code: &str) -> Option<DenyReason> {
        DenyReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::DenyReason;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for reason in DenyReason::ALL {
            let code = reason.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert_eq!(DenyReason::from_code(code), Some(reason));
            assert!(reason.message().len() <= 256);
        }
        assert_eq!(DenyReason::from_code("nope"), None);
    }
}
