//! [`run`]: starts control (store, keys, CA, HTTP API, sync listeners, maintenance) and returns
//! a [`ControlHandle`] once every listener is bound.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use control_client::TlsSettings;
use control_client::pb::control_sync_server::ControlSyncServer;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::defaults;
use crate::error::ControlError;
use crate::files;
use crate::key_ring::KeyRing;
use crate::metrics::Metrics;
use crate::pki::{ControlPki, EdgeCertFiles};
use crate::plane::{Plane, PlaneParts};
use crate::profiles::Profiles;
use crate::store::{AuditStore, SqliteStore, Store};
use crate::sync::{SyncService, listener};
use crate::tokens::{self, ApiTokenFiles, ApiTokens};
use crate::{maintenance, router};

/// Replacements for control's parts (tests, or a shared database later).
#[derive(Default)]
pub struct Overrides {
    /// The store (default: SQLite in the data directory).
    pub store: Option<Arc<dyn Store>>,
    /// The audit trail (default: the same SQLite store).
    pub audit: Option<Arc<dyn AuditStore>>,
    /// The clock (default: the system clock).
    pub clock: Option<Arc<dyn Clock>>,
}

/// A running control plane. `stop()` shuts it down; dropping it aborts its tasks.
#[derive(Debug)]
pub struct ControlHandle {
    api_addr: SocketAddr,
    sync_addr: SocketAddr,
    sync_socket: Option<PathBuf>,
    data_dir: PathBuf,
    api_tokens: ApiTokenFiles,
    created_api_tokens: bool,
    store_id: String,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts control with the default store and clock.
///
/// # Errors
/// [`ControlError`] if the data directory, store, policies, keys, CA or a listener fail.
pub async fn run(config: Config) -> Result<ControlHandle, ControlError> {
    run_with(config, Overrides::default()).await
}

/// Starts control with some parts replaced.
///
/// # Errors
/// As [`run`].
pub async fn run_with(config: Config, overrides: Overrides) -> Result<ControlHandle, ControlError> {
    files::private_dir(&config.data_dir)?;
    let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
    let (store, audit) = match (overrides.store, overrides.audit) {
        (Some(store), Some(audit)) => (store, audit),
        (store, audit) => {
            let sqlite = Arc::new(blocking_open(config.data_dir.clone()).await?);
            (
                store.unwrap_or_else(|| sqlite.clone() as Arc<dyn Store>),
                audit.unwrap_or(sqlite as Arc<dyn AuditStore>),
            )
        }
    };
    let prepared = {
        let (config, store, clock) = (config.clone(), Arc::clone(&store), Arc::clone(&clock));
        tokio::task::spawn_blocking(move || prepare(&config, store.as_ref(), clock.as_ref()))
            .await
            .map_err(|e| ControlError::Config(format!("startup task: {e}")))??
    };
    let metrics = Arc::new(Metrics::new().map_err(|e| ControlError::Config(e.to_string()))?);
    metrics.deny_all.set(i64::from(prepared.deny_all));
    metrics
        .sequence
        .set(i64::try_from(prepared.sequence).unwrap_or(i64::MAX));
    let api_listener = bind("api", config.api_listen).await?;
    let sync_listener = bind("sync", config.sync_listen).await?;
    let unix_listener = config
        .sync_socket
        .as_deref()
        .map(listener::bind_unix)
        .transpose()?;
    let api_addr = local_addr("api", &api_listener)?;
    let sync_addr = local_addr("sync", &sync_listener)?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let plane = Arc::new(Plane::new(PlaneParts {
        config: config.clone(),
        store,
        audit,
        clock,
        keys: prepared.keys,
        store_id: prepared.store_id.clone(),
        profiles: Arc::new(prepared.profiles),
        tokens: ApiTokens::new(prepared.api_tokens),
        metrics: Arc::clone(&metrics),
        shutdown: shutdown_rx.clone(),
        sequence: prepared.sequence,
    }));
    let mut tasks = Vec::new();
    let app = router::router(Arc::clone(&plane));
    let mut api_shutdown = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        let serve = axum::serve(api_listener, app).with_graceful_shutdown(async move {
            let _ = api_shutdown.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(target: "control", error = %e, "api server failed");
        }
    }));
    let (conn_tx, conn_rx) = mpsc::channel(64);
    tasks.push(listener::accept_tls(
        sync_listener,
        Arc::new(prepared.tls),
        conn_tx.clone(),
        shutdown_rx.clone(),
        Arc::clone(&metrics),
    ));
    if let Some(unix) = unix_listener {
        tasks.push(listener::accept_unix(
            unix,
            conn_tx.clone(),
            shutdown_rx.clone(),
        ));
    }
    drop(conn_tx);
    let service = ControlSyncServer::new(SyncService {
        plane: Arc::clone(&plane),
    });
    let incoming = ReceiverStream::new(conn_rx).map(Ok::<_, std::io::Error>);
    let mut sync_shutdown = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        let serve = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(10)))
            .http2_keepalive_timeout(Some(std::time::Duration::from_secs(5)))
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = sync_shutdown.wait_for(|stop| *stop).await;
            });
        if let Err(e) = serve.await {
            tracing::error!(target: "control", error = %e, "sync server failed");
        }
    }));
    tasks.push(tokio::spawn(maintenance::run(Arc::clone(&plane))));
    tracing::info!(target: "control", %api_addr, %sync_addr, "control is up");
    Ok(ControlHandle {
        api_addr,
        sync_addr,
        sync_socket: config.sync_socket.clone(),
        data_dir: config.data_dir.clone(),
        api_tokens: ApiTokenFiles::in_dir(&config.data_dir),
        created_api_tokens: prepared.created_tokens,
        store_id: prepared.store_id,
        shutdown,
        tasks,
    })
}

/// Everything loaded from disk before the listeners open.
struct Prepared {
    keys: KeyRing,
    profiles: Profiles,
    tls: rustls::ServerConfig,
    store_id: String,
    api_tokens: Vec<crate::store::ApiTokenRecord>,
    created_tokens: bool,
    sequence: u64,
    deny_all: bool,
}

fn prepare(
    config: &Config,
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<Prepared, ControlError> {
    let profiles = Profiles::load(config.policy_dir.clone())?;
    let keys = KeyRing::open(
        store,
        &config.data_dir,
        config.key_algorithm,
        clock.unix(),
        clock.unix_ms(),
    )?;
    let tls = ControlPki::load_or_create(&config.data_dir)?.server_config()?;
    let created_tokens = if config.bootstrap_api_tokens {
        tokens::bootstrap(store, &config.data_dir, clock.unix())?.is_some()
    } else {
        false
    };
    let state = store.sync_state(clock.unix(), config.token_leeway.as_secs())?;
    Ok(Prepared {
        keys,
        profiles,
        tls,
        store_id: store.store_id()?,
        api_tokens: store.api_tokens()?,
        created_tokens,
        sequence: state.sequence,
        deny_all: state.deny_all.on,
    })
}

async fn blocking_open(data_dir: PathBuf) -> Result<SqliteStore, ControlError> {
    tokio::task::spawn_blocking(move || SqliteStore::open(&data_dir))
        .await
        .map_err(|e| ControlError::Config(format!("store task: {e}")))?
        .map_err(ControlError::from)
}

async fn bind(what: &'static str, address: SocketAddr) -> Result<TcpListener, ControlError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ControlError::Bind {
            what,
            address: address.to_string(),
            source,
        })
}

fn local_addr(what: &'static str, listener: &TcpListener) -> Result<SocketAddr, ControlError> {
    listener.local_addr().map_err(|source| ControlError::Bind {
        what,
        address: "local address".to_owned(),
        source,
    })
}

impl ControlHandle {
    /// The HTTP API's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// `http://<api_addr>`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The sync listener's address.
    pub fn sync_addr(&self) -> SocketAddr {
        self.sync_addr
    }

    /// `https://<sync_addr>`: what an edge's `--control` takes.
    pub fn sync_url(&self) -> String {
        format!("https://{}", self.sync_addr)
    }

    /// The sync Unix socket, if configured.
    pub fn sync_socket(&self) -> Option<&Path> {
        self.sync_socket.as_deref()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the bootstrap API tokens are (written on the first run).
    pub fn api_token_files(&self) -> &ApiTokenFiles {
        &self.api_tokens
    }

    /// Whether this run created the API token files (the first run).
    pub fn created_api_tokens(&self) -> bool {
        self.created_api_tokens
    }

    /// The store's id (the sync protocol's `store_id`).
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Issues a client certificate for an edge into `out_dir` (`ca.pem`, `edge.pem`,
    /// `edge.key`).
    ///
    /// # Errors
    /// As [`issue_edge_cert`](crate::issue_edge_cert).
    pub fn issue_edge_cert(
        &self,
        edge_name: &str,
        out_dir: &Path,
    ) -> Result<EdgeCertFiles, ControlError> {
        crate::pki::issue_edge_cert(&self.data_dir, edge_name, out_dir)
    }

    /// Issues a client certificate for an edge into `<data_dir>/edges/<name>/` and returns the
    /// sync client's TLS settings for it.
    ///
    /// # Errors
    /// As [`issue_edge_cert`](crate::issue_edge_cert), or [`ControlError::Io`] reading back.
    pub fn edge_tls(&self, edge_name: &str) -> Result<TlsSettings, ControlError> {
        let dir = self.data_dir.join("edges").join(edge_name);
        self.issue_edge_cert(edge_name, &dir)?;
        TlsSettings::from_dir(&dir).map_err(|e| ControlError::Pki(e.to_string()))
    }

    /// Stops accepting, ends every sync stream and in-flight request, and waits (at most
    /// [`defaults::STOP_GRACE`]) for the tasks to finish; stragglers are aborted.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        let deadline = Instant::now() + defaults::STOP_GRACE;
        for mut task in std::mem::take(&mut self.tasks) {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, &mut task).await.is_err() {
                tracing::warn!(target: "control", "a control task did not stop in time; aborting it");
                task.abort();
            }
        }
        if let Some(path) = &self.sync_socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}
