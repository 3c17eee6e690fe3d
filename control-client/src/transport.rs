//! Opening the HTTP/2 channel to control: TCP + mutual TLS with the pinned CA, or a Unix
//! socket.

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UnixStream};
use tonic::transport::{Channel, Endpoint as TonicEndpoint};

use crate::config::Endpoint;
use crate::error::{SyncError, chain};
use crate::tls::{ClientTls, client_tls};

/// HTTP/2 pings on an idle stream: a half-open TCP connection is noticed even between
/// heartbeats.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes channels to one control endpoint.
#[derive(Clone)]
pub(crate) enum Connector {
    Tls {
        address: String,
        tls: ClientTls,
        timeout: Duration,
    },
    Unix {
        path: PathBuf,
        timeout: Duration,
    },
}

impl Connector {
    pub(crate) fn new(endpoint: &Endpoint, timeout: Duration) -> Result<Connector, SyncError> {
        Ok(match endpoint {
            Endpoint::Tls { address, tls } => Connector::Tls {
                address: address.clone(),
                tls: client_tls(tls)?,
                timeout,
            },
            Endpoint::Unix(path) => Connector::Unix {
                path: path.clone(),
                timeout,
            },
        })
    }

    /// One connected channel.
    pub(crate) async fn connect(&self) -> Result<Channel, SyncError> {
        // The URI is never dialled (the connector below is); it only fills `:authority`.
        let endpoint = TonicEndpoint::from_static("http://trust-edge-control")
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        let connected =
            match self.clone() {
                Connector::Tls {
                    address,
                    tls,
                    timeout,
                } => endpoint
                    .connect_with_connector(tower::service_fn(move |_| {
                        let (address, tls) = (address.clone(), tls.clone());
                        async move { tls_connect(&address, &tls, timeout).await.map(TokioIo::new) }
                    }))
                    .await,
                Connector::Unix { path, timeout } => {
                    endpoint
                        .connect_with_connector(tower::service_fn(move |_| {
                            let path = path.clone();
                            async move {
                                tokio::time::timeout(timeout, UnixStream::connect(path))
                                    .await
                                    .map_err(|_| timed_out())?
                                    .map(TokioIo::new)
                            }
                        }))
                        .await
                }
            };
        connected.map_err(|e| SyncError::Connect(chain(&e)))
    }
}

async fn tls_connect(
    address: &str,
    tls: &ClientTls,
    timeout: Duration,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connect = async {
        let tcp = TcpStream::connect(address).await?;
        tcp.set_nodelay(true)?;
        let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
        let stream = connector.connect(tls.server_name.clone(), tcp).await?;
        let (_, session) = stream.get_ref();
        if session.alpn_protocol() != Some(b"h2") {
            return Err(std::io::Error::other("control did not negotiate h2"));
        }
        Ok(stream)
    };
    tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| timed_out())?
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
}
