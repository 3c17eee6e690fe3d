//! [`run`]: binds the listeners, loads the sources, serves SDS until [`SdsHandle::stop`].

use crate::access::{Access, Grant, Pattern, PeerMatch};
use crate::config::Config;
use crate::error::SdsError;
use crate::listener::{self, Conn};
use crate::metrics::Metrics;
use crate::service::{Service, Shared};
use crate::store::Store;
use crate::{admin, defaults, sources};
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_server::SecretDiscoveryServiceServer;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use trust_core::audit::AuditLog;

/// A running SDS server. Dropping it without [`stop`](SdsHandle::stop) aborts its tasks.
pub struct SdsHandle {
    socket_path: Option<PathBuf>,
    tcp_addr: Option<SocketAddr>,
    admin_addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    grpc: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SdsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdsHandle")
            .field("socket_path", &self.socket_path)
            .field("tcp_addr", &self.tcp_addr)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}

impl SdsHandle {
    /// The Unix socket, if one is served.
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket_path.as_deref()
    }

    /// The TCP listener's bound address, if one is served.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The admin listener's bound address (`/metrics`, `/debug/sds`, `/healthz`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The Prometheus text, as `/metrics` serves it.
    pub fn metrics_text(&self) -> String {
        admin::metrics_text(&self.shared)
    }

    /// The `/debug/sds` JSON document.
    pub fn debug_json(&self) -> String {
        admin::debug_json(&self.shared)
    }

    /// Open SDS streams.
    pub fn open_streams(&self) -> usize {
        self.shared.registry.len()
    }

    /// Stops listening, ends every stream (clients see the stream close and reconnect
    /// elsewhere), stops the sources and removes the Unix socket.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(grpc) = self.grpc.take() {
            let abort = grpc.abort_handle();
            if tokio::time::timeout(defaults::SHUTDOWN_GRACE, grpc)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for SdsHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(grpc) = &self.grpc {
            grpc.abort();
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts an SDS server: binds the Unix socket (mode 0600), the TCP listener and the admin
/// listener, reads the file source once (so file secrets are served from the first request),
/// starts the watchers and pollers, and serves until [`SdsHandle::stop`]. Audit events
/// (rotations, rejected content, unreachable sources, withdrawals, refused peers) go to `audit`.
///
/// Installs the ring rustls provider as the process default if none is installed yet (the
/// Vault client needs one).
///
/// # Errors
/// A listener cannot be bound, the TLS material or a source's settings are unusable.
pub async fn run(config: Config, audit: AuditLog) -> Result<SdsHandle, SdsError> {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let metrics = Metrics::new()?;
    let store = Arc::new(Store::new(
        metrics.clone(),
        audit.clone(),
        config.skip_content_checks,
    ));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (conn_tx, conn_rx) = mpsc::channel::<std::io::Result<Conn>>(256);
    let mut tasks = Vec::new();

    let mut grants = config.grants.clone();
    let unix = match &config.unix_socket {
        Some(path) => {
            let l = listener::bind_unix(path)?;
            if grants.is_empty() {
                let uid = std::fs::metadata(path)
                    .map_err(|e| SdsError::io("stat", path.display(), e))?
                    .uid();
                grants.push(Grant {
                    name: "owner".to_owned(),
                    peer: PeerMatch::Uid(uid),
                    secrets: vec![Pattern::new("*")],
                    nodes: None,
                });
            }
            Some(l)
        }
        None => None,
    };
    let tcp = match &config.tcp {
        Some(tcp) => {
            let acceptor = tcp.tls.as_ref().map(listener::tls_acceptor).transpose()?;
            let l = TcpListener::bind(tcp.listen)
                .await
                .map_err(|e| SdsError::io("bind", tcp.listen, e))?;
            Some((l, acceptor))
        }
        None => None,
    };
    let admin = TcpListener::bind(config.admin_listen)
        .await
        .map_err(|e| SdsError::io("bind", config.admin_listen, e))?;
    let admin_addr = admin
        .local_addr()
        .map_err(|e| SdsError::io("read address of", config.admin_listen, e))?;
    let tcp_addr = match &tcp {
        Some((l, _)) => Some(
            l.local_addr()
                .map_err(|e| SdsError::io("read address of", "tcp listener", e))?,
        ),
        None => None,
    };

    tasks.extend(sources::start(&config, Arc::clone(&store), shutdown_rx.clone()).await?);
    tasks.push(tokio::spawn(sweep(Arc::clone(&store), shutdown_rx.clone())));

    let shared = Arc::new(Shared::new(
        store,
        Access::new(grants),
        metrics.clone(),
        audit,
        shutdown_rx.clone(),
    ));
    if let Some(l) = unix {
        tasks.push(tokio::spawn(listener::accept_unix(
            l,
            conn_tx.clone(),
            shutdown_rx.clone(),
        )));
    }
    if let Some((l, acceptor)) = tcp {
        tasks.push(tokio::spawn(listener::accept_tcp(
            l,
            acceptor,
            metrics,
            conn_tx.clone(),
            shutdown_rx.clone(),
        )));
    }
    drop(conn_tx);
    tasks.push(tokio::spawn(admin::serve(
        admin,
        Arc::clone(&shared),
        shutdown_rx.clone(),
    )));

    let service = SecretDiscoveryServiceServer::new(Service {
        shared: Arc::clone(&shared),
    })
    .max_decoding_message_size(4 * 1024 * 1024);
    let mut stop = shutdown_rx.clone();
    let grpc = tokio::spawn(async move {
        let result = tonic::transport::Server::builder()
            .max_concurrent_streams(config.max_streams_per_connection)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .add_service(service)
            .serve_with_incoming_shutdown(ReceiverStream::new(conn_rx), async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "sds grpc server stopped with an error");
        }
    });
    tracing::info!(
        unix = ?config.unix_socket,
        tcp = ?tcp_addr,
        admin = %admin_addr,
        "sds server is up"
    );
    Ok(SdsHandle {
        socket_path: config.unix_socket,
        tcp_addr,
        admin_addr,
        shared,
        shutdown,
        grpc: Some(grpc),
        tasks,
    })
}

/// Withdraws secrets past their `max_age`, checking at a tenth of the smallest one (between
/// 50 ms and 1 s).
async fn sweep(store: Arc<Store>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let pace = store
            .min_max_age()
            .map_or(Duration::from_secs(1), |d| d / 10)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(pace) => {}
            _ = shutdown.changed() => return,
        }
        store.sweep(Instant::now());
    }
}
