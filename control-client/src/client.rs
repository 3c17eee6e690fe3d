//! [`SyncClient`]: keeps one stream to control open, resumes it after every break, and
//! publishes what control says.
//!
//! ```text
//! SyncClient::start ─▶ task: loop { connect (TLS / unix) ─▶ Watch(Hello) ─▶ session } + backoff
//!                                    session: message ─▶ Tracker::apply ─▶ watch (state)
//!                                                                       └▶ broadcast (events)
//!                                             ◀─ Ack / PolicyReport
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::SyncConfig;
use crate::defaults;
use crate::error::{SyncError, chain};
use crate::pb;
use crate::pb::control_sync_client::ControlSyncClient;
use crate::state::{ControlEvent, ControlState, Tracker};
use crate::transport;

/// The edge's live, authenticated view of control. Dropping it stops the stream.
#[derive(Debug)]
pub struct SyncClient {
    state: watch::Receiver<Arc<ControlState>>,
    events: broadcast::Sender<ControlEvent>,
    policy: watch::Sender<String>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SyncClient {
    /// Checks the config (TLS material is parsed now) and starts syncing in the background.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`SyncError::Tls`] if the CA, certificate or key is unusable.
    pub fn start(config: SyncConfig) -> Result<SyncClient, SyncError> {
        let connector = transport::Connector::new(&config.endpoint, config.connect_timeout)?;
        let (state_tx, state) = watch::channel(Arc::new(ControlState::pending()));
        let (events, _) = broadcast::channel(defaults::EVENT_CAPACITY);
        let (policy, policy_rx) = watch::channel(config.policy_hash.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let worker = Worker {
            config,
            connector,
            tracker: Tracker::new(),
            state: state_tx,
            events: events.clone(),
            policy: policy_rx,
            shutdown: shutdown_rx,
        };
        let task = tokio::spawn(worker.run());
        Ok(SyncClient {
            state,
            events,
            policy,
            shutdown,
            task: Some(task),
        })
    }

    /// A receiver of the state; `changed()` wakes on every message from control.
    pub fn state(&self) -> watch::Receiver<Arc<ControlState>> {
        self.state.clone()
    }

    /// The state right now.
    pub fn current(&self) -> Arc<ControlState> {
        Arc::clone(&self.state.borrow())
    }

    /// Revocation, deny-all and JWKS events from now on (a snapshot after a reconnect emits
    /// one for every revocation the edge did not know).
    pub fn subscribe(&self) -> broadcast::Receiver<ControlEvent> {
        self.events.subscribe()
    }

    /// Reports the edge's active policy hash to control (sent at once if connected, and in
    /// every later hello).
    pub fn report_policy_hash(&self, hash: &str) {
        self.policy.send_if_modified(|current| {
            if current == hash {
                false
            } else {
                hash.clone_into(current);
                true
            }
        });
    }

    /// Waits until the first snapshot has been applied.
    ///
    /// # Errors
    /// [`SyncError::NotReady`] if it does not arrive within `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Arc<ControlState>, SyncError> {
        let mut rx = self.state.clone();
        let ready = tokio::time::timeout(timeout, rx.wait_for(|s| s.ready)).await;
        match ready {
            Ok(Ok(state)) => Ok(Arc::clone(&state)),
            Ok(Err(_)) | Err(_) => Err(SyncError::NotReady(timeout)),
        }
    }

    /// Closes the stream and waits for the background task to end.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SyncClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// How one stream ended.
enum Ended {
    /// `stop()` was called.
    Shutdown,
    /// Control closed the stream (e.g. it is shutting down): reconnect promptly.
    Closed,
}

struct Worker {
    config: SyncConfig,
    connector: transport::Connector,
    tracker: Tracker,
    state: watch::Sender<Arc<ControlState>>,
    events: broadcast::Sender<ControlEvent>,
    policy: watch::Receiver<String>,
    shutdown: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        let mut backoff = self.config.reconnect_min;
        loop {
            let started = Instant::now();
            let outcome = self.session().await;
            self.tracker.state.connected = false;
            match outcome {
                Ok(Ended::Shutdown) => {
                    self.publish();
                    return;
                }
                Ok(Ended::Closed) => {
                    tracing::info!(target: "control_client", "control closed the sync stream");
                }
                Err(error) => {
                    tracing::warn!(target: "control_client", %error, "control sync failed");
                    self.tracker.state.last_error = Some(error.to_string());
                }
            }
            self.publish();
            // A stream that lived a while was healthy: start the backoff over.
            if started.elapsed() > self.config.reconnect_max {
                backoff = self.config.reconnect_min;
            }
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            backoff = backoff.saturating_mul(2).min(self.config.reconnect_max);
        }
    }

    fn publish(&self) {
        self.state
            .send_replace(Arc::new(self.tracker.state.clone()));
    }

    /// One connection: hello, then apply messages until the stream ends or fails.
    async fn session(&mut self) -> Result<Ended, SyncError> {
        let channel = tokio::select! {
            channel = self.connector.connect() => channel?,
            _ = self.shutdown.wait_for(|stop| *stop) => return Ok(Ended::Shutdown),
        };
        let (out, out_rx) = mpsc::channel::<pb::EdgeMessage>(64);
        let hello = self.hello();
        out.try_send(edge_message(pb::edge_message::Message::Hello(hello)))
            .map_err(|e| SyncError::Stream(e.to_string()))?;
        let mut client = ControlSyncClient::new(channel);
        let response = tokio::select! {
            response = client.watch(ReceiverStream::new(out_rx)) => response,
            _ = self.shutdown.wait_for(|stop| *stop) => return Ok(Ended::Shutdown),
        };
        let mut inbound = response
            .map_err(|status| SyncError::Connect(status.message().to_owned()))?
            .into_inner();
        self.tracker.state.connected = true;
        self.tracker.state.last_error = None;
        let mut policy = self.policy.clone();
        policy.mark_unchanged();
        let mut shutdown = self.shutdown.clone();
        let mut first = true;
        loop {
            let silence = if first {
                defaults::FIRST_MESSAGE_TIMEOUT
            } else {
                self.liveness()
            };
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return Ok(Ended::Shutdown),
                changed = policy.changed() => {
                    // The sender lives in the SyncClient: gone means the client was dropped.
                    if changed.is_err() {
                        return Ok(Ended::Shutdown);
                    }
                    let hash = policy.borrow_and_update().clone();
                    let report = pb::edge_message::Message::Policy(pb::PolicyReport { policy_hash: hash });
                    let _ = out.try_send(edge_message(report));
                }
                message = tokio::time::timeout(silence, inbound.message()) => {
                    let message = match message {
                        Err(_) => return Err(SyncError::Stream(format!("no message from control for {silence:?}"))),
                        Ok(Err(status)) => return Err(SyncError::Stream(chain(&status))),
                        Ok(Ok(None)) => return Ok(Ended::Closed),
                        Ok(Ok(Some(message))) => message,
                    };
                    let Some(message) = message.message else {
                        return Err(SyncError::Protocol("empty control message".to_owned()));
                    };
                    let events = self
                        .tracker
                        .apply(message, Instant::now())
                        .map_err(|e| SyncError::Protocol(e.to_string()))?;
                    first = false;
                    self.tracker.prune(unix_now(), defaults::REVOCATION_LEEWAY);
                    self.publish();
                    for event in events {
                        let _ = self.events.send(event);
                    }
                    let ack = pb::edge_message::Message::Ack(pb::Ack { sequence: self.tracker.state.sequence });
                    let _ = out.try_send(edge_message(ack));
                }
            }
        }
    }

    fn hello(&self) -> pb::Hello {
        let state = &self.tracker.state;
        pb::Hello {
            edge_id: self.config.edge_id.clone(),
            last_sequence: if state.ready { state.sequence } else { 0 },
            store_id: if state.ready {
                state.store_id.clone()
            } else {
                String::new()
            },
            policy_hash: self.policy.borrow().clone(),
        }
    }

    /// Silence tolerated on an established stream.
    fn liveness(&self) -> Duration {
        self.tracker
            .heartbeat_interval
            .map_or(defaults::FIRST_MESSAGE_TIMEOUT, |interval| {
                interval
                    .saturating_mul(defaults::LIVENESS_INTERVALS)
                    .max(defaults::MIN_LIVENESS)
            })
    }
}

fn edge_message(message: pb::edge_message::Message) -> pb::EdgeMessage {
    pb::EdgeMessage {
        message: Some(message),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
