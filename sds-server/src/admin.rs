//! The admin listener: Prometheus `/metrics`, `/debug/sds` (each stream's node, names and
//! acknowledged version; each secret's state) and `/healthz`. Never a secret value.

use crate::service::Shared;
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
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, std::convert::Infallible>(route(&shared, req.uri().path())) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn route(shared: &Shared, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics_text(shared),
        ),
        "/debug/sds" => (StatusCode::OK, "application/json", debug_json(shared)),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// Refreshes the per-secret gauges from the store and renders every metric.
pub(crate) fn metrics_text(shared: &Shared) -> String {
    let m = &shared.metrics;
    m.secret_version_age_seconds.reset();
    m.secret_unconfirmed_seconds.reset();
    m.secret_served.reset();
    for s in shared.store.statuses() {
        if let Some(age) = s.version_age_seconds {
            m.secret_version_age_seconds
                .with_label_values(&[&s.name])
                .set(age);
        }
        if let Some(age) = s.unconfirmed_seconds {
            m.secret_unconfirmed_seconds
                .with_label_values(&[&s.name])
                .set(age);
        }
        m.secret_served
            .with_label_values(&[&s.name])
            .set(i64::from(s.state == "ok" || s.state == "stale"));
    }
    m.render()
}

/// The `/debug/sds` document.
pub(crate) fn debug_json(shared: &Shared) -> String {
    let doc = serde_json::json!({
        "streams": shared.registry.views(),
        "secrets": shared.store.statuses(),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
