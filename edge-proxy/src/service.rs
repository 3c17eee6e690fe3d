//! The only `impl ProxyHttp`: how pingora forwards a request the edge already allowed — a plain
//! HTTP forward, or a request read inside a bumped tunnel.
//!
//! The decision travels into pingora as connection user context (see [`crate::connection`] and
//! [`crate::bump`]); here it becomes the peer (the checked address, in a pool keyed by session so
//! two sessions never share an upstream connection; for a bumped request TLS to the CONNECT host,
//! with the certificate validated), the origin-form request with `Host` set by the edge and
//! hop-by-hop and `Proxy-*` headers removed, the injected credentials (overwriting whatever the
//! sandbox sent in those headers), the scrubbed response ([`crate::redact`]), and finally the
//! audit record.

use crate::bump::request::Injection;
use crate::decide::Allowed;
use crate::deny::{Refusal, status};
use crate::edge::Edge;
use crate::record::Record;
use crate::redact::Redactor;
use crate::sessions::Trip;
use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::modules::http::HttpModules;
use pingora_core::prelude::HttpPeer;
use pingora_core::protocols::ALPN;
use pingora_core::{Error, ErrorSource, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use scrub::Patterns;
use std::any::Any;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use trust_core::DenyReason;

/// One allowed forward, handed to pingora.
pub(crate) struct Forward {
    /// The decision.
    pub(crate) allowed: Allowed,
    /// Its record, emitted when pingora drops the context.
    pub(crate) record: Record,
    /// Origin-form target.
    pub(crate) path: String,
    /// `Host` for the upstream.
    pub(crate) host: String,
    /// Whether an upgrade (allowed by the rule) is being requested.
    pub(crate) upgrade: bool,
    /// How the edge reaches the upstream.
    pub(crate) upstream: Upstream,
    /// Response scrubbing, set up when the response head arrives (injected requests only).
    pub(crate) redactor: Option<Redactor>,
}

/// The upstream leg of a forward.
pub(crate) enum Upstream {
    /// Plain HTTP to the checked address.
    Plain,
    /// TLS to the checked address, validating the certificate for `sni` (a bumped request).
    Tls {
        /// The CONNECT host: SNI and the name the certificate must carry.
        sni: String,
        /// Headers to attach.
        injections: Vec<Injection>,
        /// The forms of the injected values, scrubbed from the response.
        patterns: Option<Arc<Patterns>>,
    },
}

impl Forward {
    fn patterns(&self) -> Option<&Arc<Patterns>> {
        match &self.upstream {
            Upstream::Tls { patterns, .. } => patterns.as_ref(),
            Upstream::Plain => None,
        }
    }
}

/// The pingora application forwarding allowed plain-HTTP requests.
pub(crate) struct Forwarder {
    pub(crate) edge: Arc<Edge>,
}

#[async_trait]
impl ProxyHttp for Forwarder {
    type CTX = Option<Box<Forward>>;

    fn new_ctx(&self) -> Self::CTX {
        None
    }

    fn init_downstream_modules(&self, _modules: &mut HttpModules) {
        // No response compression: bodies pass through as the upstream sent them, and pingora
        // need not build a (disabled) module per request.
    }

    fn on_connection_reuse(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
        prev: Box<dyn Any + Send + Sync>,
    ) {
        if let Ok(forward) = prev.downcast::<Forward>() {
            *ctx = Some(forward);
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let f = ctx.as_ref().ok_or_else(|| {
            Error::explain(
                ErrorType::InternalError,
                "request reached pingora without a decision",
            )
        })?;
        let mut peer = match &f.upstream {
            Upstream::Plain => HttpPeer::new(f.allowed.addr, false, String::new()),
            Upstream::Tls { sni, .. } => {
                let mut peer = HttpPeer::new(f.allowed.addr, true, sni.clone());
                peer.options.alpn = ALPN::H1;
                peer.options.verify_cert = true;
                peer.options.verify_hostname = true;
                peer
            }
        };
        let mut h = DefaultHasher::new();
        f.allowed.session.claims.sid.hash(&mut h);
        peer.group_key = h.finish();
        peer.options.connection_timeout = Some(self.edge.config.connect_timeout);
        peer.options.idle_timeout = Some(crate::defaults::UPSTREAM_IDLE_TIMEOUT);
        peer.options.read_timeout = Some(self.edge.config.upstream_timeout);
        peer.options.write_timeout = Some(self.edge.config.upstream_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let f = ctx
            .as_ref()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no decision"))?;
        let uri = http::Uri::try_from(f.path.as_str())
            .map_err(|_| Error::explain(ErrorType::InvalidHTTPHeader, "bad path"))?;
        req.set_uri(uri);
        let listed: Vec<Vec<u8>> = req
            .headers
            .get_all("connection")
            .iter()
            .flat_map(|v| crate::plain::connection_tokens(v.as_bytes()))
            .filter(|t| !t.is_empty())
            .map(<[u8]>::to_ascii_lowercase)
            .collect();
        // One rule for both forwarding paths: hop-by-hop, any `Proxy-*`, and what `Connection`
        // names (an allowed upgrade keeps its `Upgrade` and `Connection`).
        let hop: Vec<http::HeaderName> = req
            .headers
            .keys()
            .filter(|n| {
                crate::plain::hop_by_hop(n.as_str().as_bytes())
                    || listed.iter().any(|l| l.as_slice() == n.as_str().as_bytes())
            })
            .cloned()
            .collect();
        for name in hop {
            if f.upgrade && (name == "upgrade" || name == "connection") {
                continue;
            }
            req.remove_header(&name);
        }
        if f.upgrade {
            req.insert_header("connection", "upgrade")?;
        }
        req.insert_header("host", f.host.as_str())?;
        if let Upstream::Tls { injections, .. } = &f.upstream
            && !injections.is_empty()
        {
            for injection in injections {
                let mut value = http::HeaderValue::from_bytes(&injection.value).map_err(|_| {
                    Error::explain(ErrorType::InternalError, "credential is not a header value")
                })?;
                value.set_sensitive(true);
                req.insert_header(injection.header.clone(), value)?;
            }
            // The response is scanned for the values: ask for it unencoded, whole (a range could
            // return a value in pieces) and in the charset it was sent in.
            req.insert_header("accept-encoding", "identity")?;
            for name in ["range", "if-range", "accept-charset"] {
                req.remove_header(name);
            }
            self.edge.metrics.injections.inc_by(injections.len() as u64);
        }
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let (Some(f), Some(chunk)) = (ctx.as_mut(), body.as_ref()) else {
            return Ok(());
        };
        if let Trip::Crossed { deny } = f.allowed.state.count(None, chunk.len() as u64) {
            crate::tripwire::report(&self.edge, &f.allowed.session, &f.record);
            if deny {
                f.record.deny(DenyReason::Tripwire);
                return Err(Error::explain(ErrorType::HTTPStatus(403), "tripwire"));
            }
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let Some(f) = ctx.as_mut() else {
            return Ok(());
        };
        if let Some(patterns) = f.patterns().cloned() {
            // The reason phrase is upstream text too (an error message may quote a header).
            resp.set_reason_phrase(None)?;
            let has_body = session.req_header().method != http::Method::HEAD
                && !matches!(resp.status.as_u16(), 100..=199 | 204 | 304);
            match Redactor::start(patterns, resp, has_body) {
                Ok(mut redactor) => {
                    if let Some(earlier) = &f.redactor {
                        redactor.carry(earlier);
                    }
                    f.redactor = Some(redactor);
                }
                Err(reason) => {
                    f.record.deny(reason);
                    return Err(Error::explain(
                        ErrorType::HTTPStatus(status(reason)),
                        "response cannot be inspected",
                    ));
                }
            }
        }
        resp.insert_header("x-request-id", f.record.request_id.as_str())?;
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<Duration>> {
        let Some(f) = ctx.as_mut() else {
            return Ok(None);
        };
        if let Some(redactor) = f.redactor.as_mut()
            && let Err(reason) = redactor.body(body, end_of_stream)
        {
            f.record.deny(reason);
            // Nothing more of this body reaches the sandbox: the connection is cut.
            *body = None;
            return Err(Error::explain(
                ErrorType::HTTPStatus(status(reason)),
                "response body cannot be inspected",
            ));
        }
        Ok(None)
    }

    async fn response_trailer_filter(
        &self,
        _session: &mut Session,
        trailers: &mut http::HeaderMap,
        ctx: &mut Self::CTX,
    ) -> Result<Option<Bytes>> {
        if let Some(redactor) = ctx.as_mut().and_then(|f| f.redactor.as_mut()) {
            redactor.trailers(trailers);
        }
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy {
        let tls = ctx
            .as_ref()
            .is_some_and(|f| matches!(f.upstream, Upstream::Tls { .. }));
        // A filter that refuses (tripwire, an uninspectable response) records its reason first
        // and then returns an `HTTPStatus` error.
        let decided = ctx.as_ref().and_then(|f| f.record.reason);
        let reason = match (e.esource(), e.etype()) {
            (_, ErrorType::HTTPStatus(_)) if let Some(reason) = decided => reason,
            (
                ErrorSource::Downstream,
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed,
            ) => {
                return FailToProxy {
                    error_code: 0,
                    can_reuse_downstream: false,
                };
            }
            (ErrorSource::Downstream, _) => DenyReason::MalformedRequest,
            (
                _,
                ErrorType::TLSHandshakeFailure
                | ErrorType::TLSHandshakeTimedout
                | ErrorType::InvalidCert
                | ErrorType::HandshakeError,
            ) if tls => DenyReason::UpstreamTlsFailed,
            (_, ErrorType::ReadTimedout | ErrorType::WriteTimedout) => DenyReason::UpstreamTimeout,
            _ => DenyReason::UpstreamUnreachable,
        };
        let request_id = match ctx.as_mut() {
            Some(f) => {
                // A response already under way was allowed and is only cut short (as on the lean
                // path); the refusal is recorded only when it is what the client gets.
                if session.response_written().is_none() {
                    f.record.deny(reason);
                }
                f.record.request_id.clone()
            }
            None => uuid::Uuid::now_v7().to_string(),
        };
        if session.response_written().is_none() {
            let refusal = Refusal {
                reason,
                request_id,
                retry_after: None,
            };
            let _ = write_refusal(session, &refusal).await;
        }
        FailToProxy {
            error_code: status(reason),
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Self::CTX) {
        if let Some(mut f) = ctx.take() {
            f.record.status = session.response_written().map(|r| r.status.as_u16());
            f.record.bytes_up = session.body_bytes_read() as u64;
            f.record.bytes_down = session.body_bytes_sent() as u64;
            if let Some(redactor) = &f.redactor {
                let n = redactor.redactions();
                f.record.redacted = Some(n);
                self.edge.metrics.redactions.inc_by(n);
            }
            self.edge.metrics.bytes_up.inc_by(f.record.bytes_up);
            self.edge.metrics.bytes_down.inc_by(f.record.bytes_down);
        }
    }

    fn suppress_error_log(&self, _session: &Session, _ctx: &Self::CTX, _error: &Error) -> bool {
        // Upstream failures are answered, counted and audited; pingora's own line adds nothing.
        true
    }
}

async fn write_refusal(session: &mut Session, refusal: &Refusal) -> Result<()> {
    let body = refusal.body();
    let mut resp = ResponseHeader::build(status(refusal.reason), Some(6))?;
    for (name, value) in refusal.headers() {
        resp.insert_header(name, value)?;
    }
    resp.insert_header("content-type", "application/json")?;
    resp.insert_header("content-length", body.len().to_string())?;
    session.set_keepalive(None);
    session.write_response_header(Box::new(resp), false).await?;
    session
        .write_response_body(Some(Bytes::from(body)), true)
        .await
}
