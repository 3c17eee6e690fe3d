//! The gRPC service: `envoy.service.secret.v3.SecretDiscoveryService`. Each method finds the
//! authenticated [`Peer`] the listener attached to the connection and hands over to
//! [`stream`](crate::stream) (state of the world), [`delta`](crate::delta) or
//! [`fetch`](crate::fetch).

use crate::access::{Access, Peer};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::Store;
use crate::{delta, drive, fetch, stream};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_server::SecretDiscoveryService;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use trust_core::audit::{Action, AuditEvent, AuditLog, ClassUid};

/// Responses a stream may have queued before it waits for the client to read.
const RESPONSE_QUEUE: usize = 4;

/// What every stream shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) access: Access,
    pub(crate) metrics: Metrics,
    pub(crate) audit: AuditLog,
    pub(crate) registry: Arc<Registry>,
    pub(crate) shutdown: watch::Receiver<bool>,
    next_nonce: AtomicU64,
    next_stream: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        store: Arc<Store>,
        access: Access,
        metrics: Metrics,
        audit: AuditLog,
        shutdown: watch::Receiver<bool>,
    ) -> Shared {
        Shared {
            store,
            access,
            metrics,
            audit,
            registry: Arc::new(Registry::default()),
            shutdown,
            next_nonce: AtomicU64::new(1),
            next_stream: AtomicU64::new(1),
        }
    }

    /// A nonce never used before by this process.
    pub(crate) fn nonce(&self) -> String {
        self.next_nonce.fetch_add(1, Ordering::Relaxed).to_string()
    }

    pub(crate) fn stream_id(&self) -> u64 {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    /// Records and returns a refusal of `name` for `peer` on `node`.
    pub(crate) fn deny(&self, stream: u64, peer: &Peer, node: &str, name: &str) -> Status {
        self.metrics
            .denied
            .with_label_values(&["permission_denied"])
            .inc();
        tracing::warn!(stream, peer = %peer, node, secret = name, "secret refused: no grant for this peer");
        let mut event = AuditEvent::new(ClassUid::EntityManagement, "secret_access", Action::Deny);
        event.status_detail = Some("permission_denied".into());
        event.rule = Some(format!("secret/{name}"));
        event.session_id = Some(format!("sds-stream-{stream}"));
        self.audit.record(event);
        Status::permission_denied(format!("not permitted to read secret {name:?}"))
    }
}

/// The tonic service.
pub(crate) struct Service {
    pub(crate) shared: Arc<Shared>,
}

fn peer_of<T>(request: &Request<T>, metrics: &Metrics) -> Result<Peer, Status> {
    match request.extensions().get::<Peer>() {
        Some(peer) => Ok(peer.clone()),
        None => {
            metrics.denied.with_label_values(&["unauthenticated"]).inc();
            Err(Status::unauthenticated(
                "the connection's peer is not authenticated",
            ))
        }
    }
}

#[tonic::async_trait]
impl SecretDiscoveryService for Service {
    type DeltaSecretsStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;
    type StreamSecretsStream = ReceiverStream<Result<DiscoveryResponse, Status>>;

    async fn delta_secrets(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaSecretsStream>, Status> {
        let peer = peer_of(&request, &self.shared.metrics)?;
        let (tx, rx) = mpsc::channel(RESPONSE_QUEUE);
        tokio::spawn(drive::run::<delta::Delta>(
            Arc::clone(&self.shared),
            peer,
            request.into_inner(),
            tx,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn stream_secrets(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamSecretsStream>, Status> {
        let peer = peer_of(&request, &self.shared.metrics)?;
        let (tx, rx) = mpsc::channel(RESPONSE_QUEUE);
        tokio::spawn(drive::run::<stream::Sotw>(
            Arc::clone(&self.shared),
            peer,
            request.into_inner(),
            tx,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn fetch_secrets(
        &self,
        request: Request<DiscoveryRequest>,
    ) -> Result<Response<DiscoveryResponse>, Status> {
        let peer = peer_of(&request, &self.shared.metrics)?;
        fetch::fetch(&self.shared, &peer, request.into_inner()).map(Response::new)
    }
}
