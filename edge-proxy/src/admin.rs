//! The admin listener: Prometheus `/metrics`, `/healthz` (the process runs) and `/readyz` (the
//! edge can decide: policies and keys loaded).

use crate::edge::Edge;
use crate::metrics::Metrics;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves the admin endpoints until `shutdown` flips.
pub(crate) async fn serve(
    listener: TcpListener,
    edge: Arc<Edge>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let edge = edge.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let edge = edge.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&edge, req.uri().path())) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn route(edge: &Edge, path: &str) -> Response<Full<Bytes>> {
    let (status, body) = match path {
        "/metrics" => {
            refresh(edge);
            (StatusCode::OK, edge.metrics.render())
        }
        "/healthz" => (StatusCode::OK, "ok\n".to_owned()),
        "/readyz" => (StatusCode::OK, "ready\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// Mirrors counters kept elsewhere (token cache, audit writer) into the registry.
pub(crate) fn refresh(edge: &Edge) {
    let stats = edge.verifier.stats();
    Metrics::catch_up(&edge.metrics.token_cache_hits, stats.cache_hits);
    Metrics::catch_up(&edge.metrics.token_cache_misses, stats.cache_misses);
    Metrics::catch_up(&edge.metrics.audit_events, edge.audit.written());
    Metrics::catch_up(&edge.metrics.audit_dropped, edge.audit.dropped());
    if let Some(stats) = edge.bump.as_ref().and_then(|b| b.leaves.stats()) {
        Metrics::catch_up(&edge.metrics.leaf_mints, stats.mints);
        Metrics::catch_up(&edge.metrics.leaf_cache_hits, stats.hits);
    }
}
