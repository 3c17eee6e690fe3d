//! The sync service (`control/proto/sync.proto`): each edge's stream gets a snapshot (or the
//! changes it missed), then every change in order, then heartbeats.
//!
//! ```text
//! listener (mTLS / unix) ─▶ tonic ─▶ SyncService::watch(Hello) ─▶ Stream::run
//!   Stream::run: subscribe to Plane changes ─▶ start (resume | snapshot)
//!                loop { change ─▶ send (gap or lag: catch up from the store)
//!                       tick   ─▶ heartbeat
//!                       edge   ─▶ Ack / PolicyReport ─▶ EdgeRegistry }
//! ```

use std::sync::Arc;

use control_client::pb::control_sync_server::ControlSync;
use control_client::pb::{self, ControlMessage, EdgeMessage, edge_message};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::defaults;
use crate::edges::{EdgeEntry, EdgeGuard};
use crate::plane::Plane;
use crate::store::Change;

mod convert;
pub(crate) mod listener;

/// Changes read from the store per batch when resuming or catching up.
const BATCH: usize = 1000;
/// Messages queued per stream before control waits for the edge to read.
const QUEUE: usize = 256;

/// The gRPC service.
pub(crate) struct SyncService {
    pub(crate) plane: Arc<Plane>,
}

#[tonic::async_trait]
impl ControlSync for SyncService {
    type WatchStream = ReceiverStream<Result<ControlMessage, Status>>;

    async fn watch(
        &self,
        request: Request<Streaming<EdgeMessage>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let peer = request
            .extensions()
            .get::<listener::PeerInfo>()
            .map_or_else(|| "unknown".to_owned(), |p| p.label.clone());
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(defaults::HELLO_TIMEOUT, inbound.message()).await;
        let hello = match first {
            Ok(Ok(Some(EdgeMessage {
                message: Some(edge_message::Message::Hello(hello)),
            }))) => hello,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        if hello.edge_id.is_empty() || hello.edge_id.len() > 128 {
            return Err(Status::invalid_argument("edge_id must be 1-128 characters"));
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let stream = Stream {
            plane: Arc::clone(&self.plane),
            hello,
            peer,
            inbound,
            tx,
        };
        tokio::spawn(stream.run());
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Why a stream ended early.
struct Gone;

/// What woke a stream up.
enum Event {
    Stop,
    Change(Result<Arc<Change>, RecvError>),
    Tick,
    Edge(Result<Option<EdgeMessage>, Status>),
}

/// One edge's stream.
struct Stream {
    plane: Arc<Plane>,
    hello: pb::Hello,
    peer: String,
    inbound: Streaming<EdgeMessage>,
    tx: mpsc::Sender<Result<ControlMessage, Status>>,
}

impl Stream {
    async fn run(mut self) {
        let plane = Arc::clone(&self.plane);
        // Subscribe before reading the store: nothing committed in between is lost, and what
        // the snapshot already holds is skipped by sequence.
        let mut changes = plane.subscribe();
        let Ok(mut last) = self.start().await else {
            return;
        };
        let now_ms = plane.clock.unix_ms();
        let edge = plane.edges.register(EdgeEntry {
            edge_id: self.hello.edge_id.clone(),
            peer: self.peer.clone(),
            connected_at_ms: now_ms,
            sent_sequence: last,
            last_sequence: 0,
            last_heartbeat_ms: now_ms,
            policy_hash: self.hello.policy_hash.clone(),
        });
        plane.metrics.sync_streams.inc();
        tracing::info!(target: "control", edge = %self.hello.edge_id, peer = %self.peer, sequence = last, "edge connected");
        let mut heartbeat = tokio::time::interval(plane.config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut shutdown = plane.shutdown.clone();
        loop {
            let event = tokio::select! {
                () = crate::plane::stopped(&mut shutdown) => Event::Stop,
                () = self.tx.closed() => Event::Stop,
                received = changes.recv() => Event::Change(received),
                _ = heartbeat.tick() => Event::Tick,
                message = self.inbound.message() => Event::Edge(message),
            };
            let step = match event {
                Event::Stop | Event::Change(Err(RecvError::Closed)) => break,
                Event::Change(Ok(change)) if change.sequence <= last => Ok(last),
                Event::Change(Ok(change)) if change.sequence == last.saturating_add(1) => self
                    .send(convert::change(&change))
                    .await
                    .map(|()| change.sequence),
                Event::Change(Ok(_) | Err(RecvError::Lagged(_))) => self.catch_up(last).await,
                Event::Tick => self
                    .send(convert::heartbeat(last, plane.clock.unix_ms()))
                    .await
                    .map(|()| last),
                Event::Edge(Ok(Some(message))) => {
                    on_edge_message(&edge, message, plane.clock.unix_ms());
                    Ok(last)
                }
                Event::Edge(Ok(None) | Err(_)) => break,
            };
            match step {
                Ok(sequence) => {
                    if sequence != last {
                        edge.update(|e| e.sent_sequence = sequence);
                    }
                    last = sequence;
                }
                Err(Gone) => break,
            }
        }
        plane.metrics.sync_streams.dec();
        tracing::info!(target: "control", edge = %self.hello.edge_id, "edge disconnected");
    }

    /// Resumes from the edge's sequence when the store still has every change since, else
    /// sends a snapshot. Returns the last sequence sent.
    async fn start(&mut self) -> Result<u64, Gone> {
        let hello = &self.hello;
        let resumable = hello.store_id == self.plane.store_id
            && hello.last_sequence > 0
            && hello.last_sequence <= self.plane.sequence();
        if resumable {
            let after = hello.last_sequence;
            let complete = self
                .plane
                .blocking(move |store| store.changes_since(after, 0))
                .await
                .map_err(|e| self.fail(&e.to_string()))?
                .is_some();
            if complete {
                self.plane
                    .metrics
                    .sync_starts
                    .with_label_values(&["resume"])
                    .inc();
                return self.catch_up(after).await;
            }
        }
        self.snapshot().await
    }

    /// Sends every change after `last` from the store (a snapshot if some were pruned).
    async fn catch_up(&mut self, mut last: u64) -> Result<u64, Gone> {
        loop {
            let after = last;
            let batch = self
                .plane
                .blocking(move |store| store.changes_since(after, BATCH))
                .await
                .map_err(|e| self.fail(&e.to_string()))?;
            let Some(batch) = batch else {
                return self.snapshot().await;
            };
            if batch.is_empty() {
                return Ok(last);
            }
            for change in &batch {
                self.send(convert::change(change)).await?;
                last = change.sequence;
            }
        }
    }

    async fn snapshot(&mut self) -> Result<u64, Gone> {
        self.plane
            .metrics
            .sync_starts
            .with_label_values(&["snapshot"])
            .inc();
        let (now, leeway) = (
            self.plane.clock.unix(),
            self.plane.config.token_leeway.as_secs(),
        );
        let state = self
            .plane
            .blocking(move |store| store.sync_state(now, leeway))
            .await
            .map_err(|e| self.fail(&e.to_string()))?;
        let sequence = state.sequence;
        let heartbeat = self.plane.config.heartbeat_interval;
        self.send(convert::snapshot(state, &self.plane.store_id, heartbeat))
            .await?;
        Ok(sequence)
    }

    async fn send(&self, message: ControlMessage) -> Result<(), Gone> {
        self.tx.send(Ok(message)).await.map_err(|_| Gone)
    }

    /// Ends the stream with `unavailable` (the edge reconnects and resumes).
    fn fail(&self, error: &str) -> Gone {
        tracing::error!(target: "control", edge = %self.hello.edge_id, %error, "sync stream failed");
        let _ = self
            .tx
            .try_send(Err(Status::unavailable("control store unavailable")));
        Gone
    }
}

fn on_edge_message(edge: &EdgeGuard, message: EdgeMessage, now_ms: u64) {
    match message.message {
        Some(edge_message::Message::Ack(ack)) => edge.update(|e| {
            e.last_sequence = ack.sequence;
            e.last_heartbeat_ms = now_ms;
        }),
        Some(edge_message::Message::Policy(report)) => edge.update(|e| {
            e.policy_hash = report.policy_hash;
            e.last_heartbeat_ms = now_ms;
        }),
        Some(edge_message::Message::Hello(_)) | None => {}
    }
}
