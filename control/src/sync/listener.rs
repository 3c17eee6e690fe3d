//! The sync listeners: TCP with mutual TLS (the client certificate must chain to control's
//! CA; handshakes run off the accept loop with a deadline) and an optional Unix socket (mode
//! 0600). Both feed one stream of connections into the tonic server.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

use crate::defaults;
use crate::error::ControlError;
use crate::metrics::Metrics;

/// Who is on the other end, for `GET /v1/edges` and logs.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    /// `cert:<client certificate CN>` or `unix`.
    pub(crate) label: String,
}

/// An accepted connection.
pub(crate) enum SyncConn {
    Tls(Box<TlsStream<TcpStream>>, PeerInfo),
    Unix(UnixStream),
}

impl Connected for SyncConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        match self {
            SyncConn::Tls(_, peer) => peer.clone(),
            SyncConn::Unix(_) => PeerInfo {
                label: "unix".to_owned(),
            },
        }
    }
}

impl AsyncRead for SyncConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SyncConn::Tls(s, _) => Pin::new(s.as_mut()).poll_read(cx, buf),
            SyncConn::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SyncConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SyncConn::Tls(s, _) => Pin::new(s.as_mut()).poll_write(cx, buf),
            SyncConn::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SyncConn::Tls(s, _) => Pin::new(s.as_mut()).poll_flush(cx),
            SyncConn::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SyncConn::Tls(s, _) => Pin::new(s.as_mut()).poll_shutdown(cx),
            SyncConn::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Accepts TCP connections and completes their TLS handshakes until shutdown.
pub(crate) fn accept_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    out: mpsc::Sender<SyncConn>,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> JoinHandle<()> {
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = crate::plane::stopped(&mut shutdown) => return,
                accepted = listener.accept() => accepted,
            };
            let (tcp, remote) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(target: "control", error = %e, "sync accept failed");
                    continue;
                }
            };
            let (acceptor, out, metrics) = (acceptor.clone(), out.clone(), Arc::clone(&metrics));
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let handshake =
                    tokio::time::timeout(defaults::HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                match handshake {
                    Ok(Ok(stream)) => {
                        let label = client_name(&stream)
                            .map_or_else(|| "cert".to_owned(), |cn| format!("cert:{cn}"));
                        let _ = out
                            .send(SyncConn::Tls(Box::new(stream), PeerInfo { label }))
                            .await;
                    }
                    Ok(Err(e)) => {
                        metrics.sync_handshake_failures.inc();
                        tracing::warn!(target: "control", %remote, error = %e, "sync tls handshake refused");
                    }
                    Err(_) => {
                        metrics.sync_handshake_failures.inc();
                        tracing::warn!(target: "control", %remote, "sync tls handshake timed out");
                    }
                }
            });
        }
    })
}

/// Binds the Unix socket (replacing a stale one) with mode 0600.
pub(crate) fn bind_unix(path: &Path) -> Result<UnixListener, ControlError> {
    let bind_error = |source| ControlError::Bind {
        what: "sync socket",
        address: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir)?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path).map_err(bind_error)?;
    }
    let listener = UnixListener::bind(path).map_err(bind_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(bind_error)?;
    }
    Ok(listener)
}

/// Accepts Unix-socket connections until shutdown.
pub(crate) fn accept_unix(
    listener: UnixListener,
    out: mpsc::Sender<SyncConn>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = crate::plane::stopped(&mut shutdown) => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    if out.send(SyncConn::Unix(stream)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "control", error = %e, "sync socket accept failed")
                }
            }
        }
    })
}

/// The client certificate's common name.
fn client_name(stream: &TlsStream<TcpStream>) -> Option<String> {
    let (_, session) = stream.get_ref();
    let cert = session.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}
