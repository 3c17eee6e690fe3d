use super::{Refusal, status};
use trust_core::DenyReason;

#[test]
fn every_reason_has_the_documented_status() {
    let expected = [
        (DenyReason::MalformedRequest, 400),
        (DenyReason::MissingSessionToken, 407),
        (DenyReason::InvalidSessionToken, 407),
        (DenyReason::SessionExpired, 407),
        (DenyReason::SessionRevoked, 403),
        (DenyReason::DenyAll, 403),
        (DenyReason::UnknownProfile, 403),
        (DenyReason::DestinationNotAllowed, 403),
        (DenyReason::PortNotAllowed, 403),
        (DenyReason::IpLiteralNotAllowed, 403),
        (DenyReason::ResolvedAddressDenied, 403),
        (DenyReason::HostMismatch, 403),
        (DenyReason::SniMismatch, 403),
        (DenyReason::MethodNotAllowed, 403),
        (DenyReason::PathNotAllowed, 403),
        (DenyReason::ProtocolNotAllowed, 403),
        (DenyReason::Tripwire, 403),
        (DenyReason::RateLimited, 429),
        (DenyReason::ConnectionLimit, 429),
        (DenyReason::ResolutionFailed, 502),
        (DenyReason::UpstreamUnreachable, 502),
        (DenyReason::UpstreamTlsFailed, 502),
        (DenyReason::UpstreamTimeout, 504),
        (DenyReason::ResponseNotInspectable, 502),
        (DenyReason::CredentialUnavailable, 503),
        (DenyReason::EdgeNotReady, 503),
    ];
    assert_eq!(expected.len(), DenyReason::ALL.len());
    for (reason, code) in expected {
        assert_eq!(status(reason), code, "{reason}");
    }
}

#[test]
fn renders_the_structured_refusal() {
    let r = Refusal {
        reason: DenyReason::RateLimited,
        request_id: "rid".into(),
        retry_after: Some(3),
    };
    let text = String::from_utf8(r.to_http1()).unwrap();
    assert!(text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
    assert!(text.contains("x-deny-reason: rate_limited\r\n"));
    assert!(text.contains("x-request-id: rid\r\n"));
    assert!(text.contains("retry-after: 3\r\n"));
    let body: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["reason"], "rate_limited");
    assert_eq!(body["request_id"], "rid");
    let auth = Refusal {
        reason: DenyReason::MissingSessionToken,
        request_id: "x".into(),
        retry_after: None,
    };
    assert!(
        String::from_utf8(auth.to_http1())
            .unwrap()
            .contains("proxy-authenticate: Bearer realm=\"trust-edge\"")
    );
}
