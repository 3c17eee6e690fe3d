//! The listeners and the identity each one proves: the Unix socket (mode 0600, `SO_PEERCRED`),
//! TCP with TLS and a required client certificate (its SANs), and — only with the explicit flag,
//! only on loopback — plain TCP. Every accepted connection goes to the one gRPC server as a
//! [`Conn`] whose connect info is the [`Peer`].

use crate::access::Peer;
use crate::config::TlsConfig;
use crate::error::SdsError;
use crate::metrics::Metrics;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

/// How long a TCP client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An accepted, authenticated connection.
pub(crate) enum Conn {
    Unix(UnixStream, Peer),
    Tcp(TcpStream, Peer),
    Tls(Box<TlsStream<TcpStream>>, Peer),
}

impl Connected for Conn {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        match self {
            Conn::Unix(_, p) | Conn::Tcp(_, p) | Conn::Tls(_, p) => p.clone(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s, _) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s, _) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s, _) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s, _) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s, _) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s, _) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s, _) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s, _) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s, _) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s, _) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s, _) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s, _) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Binds the Unix socket at `path` with mode 0600, without a window in which it is reachable
/// with looser permissions: it is bound inside a fresh 0700 directory, chmod-ed, then renamed
/// into place. A stale socket at `path` is replaced; any other file there is an error.
pub(crate) fn bind_unix(path: &Path) -> Result<UnixListener, SdsError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(|e| SdsError::io("create", parent.display(), e))?;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path)
                .map_err(|e| SdsError::io("remove stale", path.display(), e))?;
        }
        Ok(_) => {
            return Err(SdsError::io(
                "bind",
                path.display(),
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a non-socket file is in the way",
                ),
            ));
        }
        Err(_) => {}
    }
    let staging = parent.join(format!(".sds-bind-{:016x}", rand::random::<u64>()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|e| SdsError::io("create", staging.display(), e))?;
    let staged = staging.join("sock");
    let result = (|| {
        let listener =
            UnixListener::bind(&staged).map_err(|e| SdsError::io("bind", path.display(), e))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| SdsError::io("chmod", path.display(), e))?;
        std::fs::rename(&staged, path).map_err(|e| SdsError::io("move", path.display(), e))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_file(&staged);
    let _ = std::fs::remove_dir(&staging);
    result
}

/// Accepts Unix connections, labelling each with its `SO_PEERCRED` identity.
pub(crate) async fn accept_unix(
    listener: UnixListener,
    tx: mpsc::Sender<io::Result<Conn>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "unix accept failed");
                continue;
            }
        };
        let peer = match stream.peer_cred() {
            Ok(cred) => Peer::Unix {
                uid: cred.uid(),
                gid: cred.gid(),
            },
            Err(e) => {
                tracing::warn!(error = %e, "no peer credentials on a unix connection; closed");
                continue;
            }
        };
        if tx.send(Ok(Conn::Unix(stream, peer))).await.is_err() {
            return;
        }
    }
}

/// The TLS acceptor of the TCP listener: our certificate, client certificates required and
/// verified against `client_ca`, ALPN `h2`.
pub(crate) fn tls_acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, SdsError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| SdsError::io("read", p.display(), e));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&tls.cert)?)
        .collect::<Result<_, _>>()
        .map_err(|_| SdsError::Tls(format!("bad PEM in {}", tls.cert.display())))?;
    let key = PrivateKeyDer::from_pem_slice(&read(&tls.key)?)
        .map_err(|_| SdsError::Tls(format!("no private key in {}", tls.key.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&read(&tls.client_ca)?) {
        let cert =
            cert.map_err(|_| SdsError::Tls(format!("bad PEM in {}", tls.client_ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| SdsError::Tls(format!("client CA {}: {e}", tls.client_ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| SdsError::Tls(format!("client verifier: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SdsError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| SdsError::Tls(format!("server certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections: with `tls`, each handshake runs in its own task and a connection
/// without a valid client certificate never reaches gRPC; without, only loopback peers are
/// taken (the listener is loopback-only by validation; this is a second check).
pub(crate) async fn accept_tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    metrics: Metrics,
    tx: mpsc::Sender<io::Result<Conn>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = tls.clone() else {
            if !addr.ip().is_loopback() {
                tracing::warn!(peer = %addr, "plain tcp connection from a non-loopback peer refused");
                continue;
            }
            if tx
                .send(Ok(Conn::Tcp(stream, Peer::InsecureLoopback { addr })))
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        let tx = tx.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => {
                    let sans = tls_stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| sans(c))
                        .unwrap_or_default();
                    let peer = Peer::Certificate { sans };
                    let _ = tx.send(Ok(Conn::Tls(Box::new(tls_stream), peer))).await;
                }
                Ok(Err(e)) => {
                    metrics.tls_handshake_failures.inc();
                    tracing::warn!(peer = %addr, error = %e, "tls handshake failed; connection refused");
                }
                Err(_) => {
                    metrics.tls_handshake_failures.inc();
                    tracing::warn!(peer = %addr, "tls handshake timed out");
                }
            }
        });
    }
}

/// The subject alternative names of a DER certificate: DNS names, URIs and IP addresses.
pub(crate) fn sans(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    let Ok(Some(ext)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(d) => Some((*d).to_owned()),
            GeneralName::URI(u) => Some((*u).to_owned()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
