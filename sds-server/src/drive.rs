//! The loop every discovery stream runs, whichever protocol it speaks (state of the world or
//! delta): read requests, react to source changes and shutdown, send a response when the
//! protocol has one, and keep the stream's `/debug/sds` view and gauge current.

use crate::access::Peer;
use crate::registry::StreamView;
use crate::service::Shared;
use crate::stream::Gauge;
use std::sync::Arc;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};
use tracing::Instrument;

/// What a request asks of the stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send a response if the content changed.
    Push,
    /// Nothing to do (a stale request).
    Ignore,
}

/// One discovery protocol's per-stream state.
pub(crate) trait Protocol: Default + Send {
    /// The client's request message.
    type Request: Send + 'static;
    /// The server's response message.
    type Response: Send + 'static;
    /// The `api` label of the stream's span and metrics.
    const API: &'static str;

    /// Applies one request; an error ends the stream with that status.
    fn on_request(
        &mut self,
        shared: &Shared,
        peer: &Peer,
        stream: u64,
        req: Self::Request,
    ) -> Result<Step, Status>;
    /// The node id the client gave.
    fn node(&self) -> &str;
    /// The response to send now, if the content differs from what was last sent.
    fn response(&mut self, shared: &Shared) -> Option<Self::Response>;
    /// Writes the stream's state into its `/debug/sds` view.
    fn fill(&self, view: &mut StreamView);
}

/// Runs one stream until the client leaves, the server stops, or a request is refused.
pub(crate) async fn run<P: Protocol>(
    shared: Arc<Shared>,
    peer: Peer,
    inbound: Streaming<P::Request>,
    tx: mpsc::Sender<Result<P::Response, Status>>,
) {
    let id = shared.stream_id();
    let span = tracing::info_span!("sds.stream", stream = id, api = P::API, peer = %peer);
    serve::<P>(shared, peer, id, inbound, tx)
        .instrument(span)
        .await;
}

async fn serve<P: Protocol>(
    shared: Arc<Shared>,
    peer: Peer,
    id: u64,
    mut inbound: Streaming<P::Request>,
    tx: mpsc::Sender<Result<P::Response, Status>>,
) {
    let registered = shared.registry.add(id, P::API, peer.to_string());
    let mut gauge = Gauge::new(&shared.metrics, P::API);
    let mut state = P::default();
    let mut changes = shared.store.watch();
    let mut shutdown = shared.shutdown.clone();
    if *shutdown.borrow() {
        return;
    }
    loop {
        let step = tokio::select! {
            _ = shutdown.changed() => break,
            _ = tx.closed() => break,
            msg = inbound.message() => match msg {
                Ok(Some(req)) => {
                    let step = state.on_request(&shared, &peer, id, req);
                    gauge.open(state.node());
                    step
                }
                Ok(None) => break,
                Err(status) => {
                    tracing::debug!(code = ?status.code(), "stream ended by the client");
                    break;
                }
            },
            changed = changes.changed() => match changed {
                Ok(()) => Ok(Step::Push),
                Err(_) => break,
            },
        };
        match step {
            Err(status) => {
                let _ = tx.send(Err(status)).await;
                break;
            }
            Ok(Step::Ignore) => {}
            Ok(Step::Push) => {
                if let Some(response) = state.response(&shared) {
                    registered.update(|v| v.pushes += 1);
                    if tx.send(Ok(response)).await.is_err() {
                        break;
                    }
                }
            }
        }
        registered.update(|v| state.fill(v));
    }
}
