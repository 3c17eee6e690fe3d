//! The SDS client the edge uses: subscribes to named secrets over the delta protocol, keeps the
//! current values in memory (zeroised when replaced or removed), ACKs what it could decode and
//! NACKs what it could not, and reconnects with jittered exponential backoff, resubscribing with
//! the versions it holds so an unchanged secret is not sent again.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sds_server::ClientError> {
//! use sds_server::client::{ClientConfig, SdsClient};
//! let client = SdsClient::start(ClientConfig::unix(".trust-edge/sds.sock", "edge-1", ["anthropic-api-key"]));
//! let secret = client.wait_for("anthropic-api-key", std::time::Duration::from_secs(5)).await?;
//! let _bytes: &[u8] = secret.value().generic().unwrap_or_default();
//! # Ok(()) }
//! ```

mod session;

use crate::error::ClientError;
use crate::secret::SecretValue;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Where the SDS server is.
#[derive(Clone)]
pub enum Endpoint {
    /// The server's Unix socket.
    Unix(PathBuf),
    /// TCP with TLS; `config` should carry our client certificate (the server requires one).
    Tls {
        /// Server address.
        addr: SocketAddr,
        /// Name to verify the server's certificate against.
        server_name: String,
        /// TLS settings (ALPN is set to `h2` here).
        config: Arc<rustls::ClientConfig>,
    },
    /// Plain TCP to a loopback server started with `insecure_loopback`.
    InsecureTcp(SocketAddr),
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Tls {
                addr, server_name, ..
            } => write!(f, "tls:{addr} ({server_name})"),
            Endpoint::InsecureTcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// The client's settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where the server is.
    pub endpoint: Endpoint,
    /// The node id sent to the server (it can only narrow what our identity may read).
    pub node_id: String,
    /// Secret names to subscribe to from the start.
    pub names: Vec<String>,
    /// First reconnect delay; doubles up to `backoff_max`, with jitter.
    pub backoff_initial: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// If set, every held value is dropped (and zeroised) once the client has been
    /// disconnected this long: a credential is not used indefinitely without its server.
    pub stale_after: Option<Duration>,
}

impl ClientConfig {
    /// A client of the Unix socket at `path`, with default timings.
    pub fn unix<I, S>(
        path: impl Into<PathBuf>,
        node_id: impl Into<String>,
        names: I,
    ) -> ClientConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClientConfig {
            endpoint: Endpoint::Unix(path.into()),
            node_id: node_id.into(),
            names: names.into_iter().map(Into::into).collect(),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            stale_after: None,
        }
    }
}

/// One secret as the client holds it. `Debug` never shows the value.
#[derive(Debug)]
pub struct ClientSecret {
    name: String,
    version: String,
    value: SecretValue,
}

impl ClientSecret {
    /// The secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The value (zeroised when the last holder drops it).
    pub fn value(&self) -> &SecretValue {
        &self.value
    }
}

pub(crate) enum Command {
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
}

/// State shared by the handle and the connection task.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) secrets: RwLock<HashMap<String, Arc<ClientSecret>>>,
    pub(crate) names: Mutex<BTreeSet<String>>,
    pub(crate) connected: AtomicBool,
    pub(crate) connections: AtomicU64,
    pub(crate) nacks: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) changes: watch::Sender<u64>,
}

impl State {
    pub(crate) fn changed(&self) {
        self.changes.send_modify(|g| *g = g.wrapping_add(1));
    }

    pub(crate) fn set_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

/// A running SDS client.
pub struct SdsClient {
    state: Arc<State>,
    commands: mpsc::UnboundedSender<Command>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SdsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdsClient")
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl SdsClient {
    /// Starts the client; it connects in the background (call inside a tokio runtime).
    pub fn start(config: ClientConfig) -> SdsClient {
        let state = Arc::new(State::default());
        *state.names.lock().unwrap_or_else(PoisonError::into_inner) =
            config.names.iter().cloned().collect();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(session::run(
            config,
            Arc::clone(&state),
            command_rx,
            stop_rx,
        ));
        SdsClient {
            state,
            commands,
            stop,
            task: Some(task),
        }
    }

    /// The current value of `name`, if the server has sent one and not withdrawn it.
    pub fn get(&self, name: &str) -> Option<Arc<ClientSecret>> {
        self.state
            .secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Adds names to the subscription.
    pub fn subscribe<I: IntoIterator<Item = S>, S: Into<String>>(&self, names: I) {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let _ = self.commands.send(Command::Subscribe(names));
    }

    /// Removes names from the subscription; their values are dropped.
    pub fn unsubscribe<I: IntoIterator<Item = S>, S: Into<String>>(&self, names: I) {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let _ = self.commands.send(Command::Unsubscribe(names));
    }

    /// A receiver that changes whenever a value arrives, changes or goes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.state.changes.subscribe()
    }

    /// Whether a stream to the server is open.
    pub fn is_connected(&self) -> bool {
        self.state.connected.load(Ordering::SeqCst)
    }

    /// How many times a stream was opened (1 after the first connect; more after reconnects).
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Responses this client rejected because it could not decode them.
    pub fn nacks(&self) -> u64 {
        self.state.nacks.load(Ordering::SeqCst)
    }

    /// The last connection or stream error (e.g. a refusal by the server).
    pub fn last_error(&self) -> Option<String> {
        self.state
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `name` has a value.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] after `timeout`; [`ClientError::Stopped`] if the client stopped.
    pub async fn wait_for(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Arc<ClientSecret>, ClientError> {
        self.wait_until(timeout, |c| c.get(name))
            .await
            .map_err(|e| match e {
                ClientError::Timeout(_) => ClientError::Timeout(name.to_owned()),
                other => other,
            })
    }

    /// Waits until `check` returns something, re-checking at every change.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] after `timeout`; [`ClientError::Stopped`] if the client stopped.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        check: impl Fn(&SdsClient) -> Option<T>,
    ) -> Result<T, ClientError> {
        let mut changes = self.changes();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = check(self) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ClientError::Stopped),
                Err(_) => return Err(ClientError::Timeout(String::new())),
            }
        }
    }

    /// Closes the stream and drops every value.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state
            .secrets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for SdsClient {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
