//! Handing one allowed request to pingora and getting the client connection back: the request's
//! bytes are already rewound into `io`; its decision rides along as connection user context (see
//! [`crate::service`]). Used for plain forwards and for requests inside bumped tunnels.

use crate::service::{Forward, Forwarder};
use pingora_core::apps::HttpServerApp;
use pingora_core::protocols::IO;
use pingora_core::protocols::http::ServerSession;
use pingora_proxy::HttpProxy;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Forwards the request waiting in `io`; `Some(io)` when the connection may carry another
/// request, `None` when it ended (closed by either side, refused, `stop` fired, or shutdown).
pub(crate) async fn forward<S: IO + 'static>(
    proxy: &Arc<HttpProxy<Forwarder>>,
    io: S,
    forward: Forward,
    keepalive: Duration,
    shutdown: &watch::Receiver<bool>,
    stop: impl Future<Output = ()>,
) -> Option<S> {
    let mut session = ServerSession::new_http1(Box::new(io));
    session.set_keepalive(Some(keepalive.as_secs().max(1)));
    session.set_connection_user_context(Some(Box::new(forward)));
    let reused = tokio::select! {
        reused = proxy.process_new_http(session, shutdown) => reused?,
        () = stop => return None,
    };
    // pingora's request pipelining stays off: bytes read past a request end the connection
    // (`reuse` refuses it), so no request reaches the upstream without the edge's decision.
    let (io, _) = reused.consume();
    let io = io.into_any().downcast::<S>().ok()?;
    if *shutdown.borrow() {
        return None;
    }
    Some(*io)
}
