//! tonic clients of the SDS server over the Unix socket or TCP (+TLS), and stream helpers.

use super::certs::Leaf;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_client::SecretDiscoveryServiceClient;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Uri};
use tonic::{Status, Streaming};

pub type Client = SecretDiscoveryServiceClient<Channel>;

pub const WAIT: Duration = Duration::from_secs(10);

pub fn type_url() -> String {
    sds_server::secret_type_url()
}

pub async fn unix(path: &Path) -> Client {
    let path: PathBuf = path.to_path_buf();
    let channel = tonic::transport::Endpoint::from_static("http://sds.test")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                tokio::net::UnixStream::connect(path)
                    .await
                    .map(TokioIo::new)
            }
        }))
        .await
        .unwrap();
    SecretDiscoveryServiceClient::new(channel)
}

/// A rustls client config trusting `ca_pem`, presenting `identity` if given.
pub fn tls_config(ca_pem: &str, identity: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        Some(leaf) => {
            let chain = CertificateDer::pem_slice_iter(leaf.chain_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// A client over TLS; `Err` if the connection is refused.
pub async fn tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<Client, String> {
    let connector = tokio_rustls::TlsConnector::from(config);
    let channel = tonic::transport::Endpoint::from_static("https://sds.test")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await
                    .map(TokioIo::new)
            }
        }))
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(SecretDiscoveryServiceClient::new(channel))
}

pub fn node(id: &str) -> Option<Node> {
    Some(Node {
        id: id.to_owned(),
        ..Default::default()
    })
}

/// A state-of-the-world stream driven by hand.
pub struct Sotw {
    tx: mpsc::Sender<DiscoveryRequest>,
    rx: Streaming<DiscoveryResponse>,
}

impl Sotw {
    /// Opens a stream and sends the first request for `names` as `node`.
    pub async fn open(client: &mut Client, node_id: &str, names: &[&str]) -> Result<Sotw, Status> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(DiscoveryRequest {
            node: node(node_id),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            type_url: type_url(),
            ..Default::default()
        })
        .await
        .unwrap();
        let rx = client
            .stream_secrets(ReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok(Sotw { tx, rx })
    }

    pub async fn send(&self, req: DiscoveryRequest) {
        self.tx.send(req).await.unwrap();
    }

    /// ACKs `resp`, subscribing to `names`.
    pub async fn ack(&self, resp: &DiscoveryResponse, names: &[&str]) {
        self.send(DiscoveryRequest {
            version_info: resp.version_info.clone(),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            type_url: type_url(),
            response_nonce: resp.nonce.clone(),
            ..Default::default()
        })
        .await;
    }

    /// The next message: a response or the stream's error.
    pub async fn next(&mut self) -> Result<DiscoveryResponse, Status> {
        match tokio::time::timeout(WAIT, self.rx.message()).await {
            Ok(Ok(Some(r))) => Ok(r),
            Ok(Ok(None)) => Err(Status::cancelled("stream ended")),
            Ok(Err(s)) => Err(s),
            Err(_) => panic!("no sds response within {WAIT:?}"),
        }
    }
}

/// A delta stream driven by hand.
pub struct Delta {
    tx: mpsc::Sender<DeltaDiscoveryRequest>,
    rx: Streaming<DeltaDiscoveryResponse>,
}

impl Delta {
    pub async fn open(client: &mut Client, first: DeltaDiscoveryRequest) -> Result<Delta, Status> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(first).await.unwrap();
        let rx = client
            .delta_secrets(ReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok(Delta { tx, rx })
    }

    pub async fn send(&self, req: DeltaDiscoveryRequest) {
        self.tx.send(req).await.unwrap();
    }

    pub async fn next(&mut self) -> Result<DeltaDiscoveryResponse, Status> {
        match tokio::time::timeout(WAIT, self.rx.message()).await {
            Ok(Ok(Some(r))) => Ok(r),
            Ok(Ok(None)) => Err(Status::cancelled("stream ended")),
            Ok(Err(s)) => Err(s),
            Err(_) => panic!("no delta response within {WAIT:?}"),
        }
    }
}

/// The generic secret values of a response's resources, as text, by name.
pub fn generic_values(
    resources: &[envoy_types::pb::google::protobuf::Any],
) -> Vec<(String, String)> {
    use envoy_types::pb::envoy::config::core::v3::data_source::Specifier;
    use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{Secret, secret::Type};
    use prost::Message;
    resources
        .iter()
        .map(|any| {
            let s = Secret::decode(any.value.as_slice()).unwrap();
            let v = match s.r#type {
                Some(Type::GenericSecret(g)) => match g.secret.unwrap().specifier {
                    Some(Specifier::InlineBytes(b)) => String::from_utf8(b).unwrap(),
                    other => panic!("unexpected specifier {other:?}"),
                },
                other => panic!("not a generic secret: {other:?}"),
            };
            (s.name, v)
        })
        .collect()
}
