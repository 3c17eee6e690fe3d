//! The client against a scripted control (over a Unix socket): a gap in sequences makes it
//! reconnect and resume from the last sequence it applied.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use control_client::pb::control_sync_server::{ControlSync, ControlSyncServer};
use control_client::pb::{self, ControlMessage, EdgeMessage, control_message, edge_message};
use control_client::{ControlEvent, Endpoint, SyncClient, SyncConfig};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::{Request, Response, Status, Streaming};

const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}"#;

#[derive(Clone, Default)]
struct Fake {
    hellos: Arc<Mutex<Vec<pb::Hello>>>,
}

fn change(sequence: u64, session: &str) -> ControlMessage {
    ControlMessage {
        message: Some(control_message::Message::Change(pb::Change {
            sequence,
            change: Some(pb::change::Change::Revocation(pb::Revocation {
                session_id: session.to_owned(),
                reason: "revoked: test".to_owned(),
                expires_at: 0,
            })),
        })),
    }
}

#[tonic::async_trait]
impl ControlSync for Fake {
    type WatchStream = ReceiverStream<Result<ControlMessage, Status>>;

    async fn watch(
        &self,
        request: Request<Streaming<EdgeMessage>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let mut inbound = request.into_inner();
        let Some(EdgeMessage {
            message: Some(edge_message::Message::Hello(hello)),
        }) = inbound.message().await?
        else {
            return Err(Status::invalid_argument("hello first"));
        };
        let connection = {
            let mut hellos = self.hellos.lock().unwrap();
            hellos.push(hello);
            hellos.len()
        };
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let script = if connection == 1 {
                vec![
                    ControlMessage {
                        message: Some(control_message::Message::Snapshot(pb::Snapshot {
                            sequence: 5,
                            store_id: "store-a".into(),
                            jwks_json: JWKS.into(),
                            revocations: vec![],
                            deny_all: Some(pb::DenyAll {
                                on: false,
                                reason: String::new(),
                            }),
                            heartbeat_interval_ms: 100,
                        })),
                    },
                    change(7, "skipped-six"),
                ]
            } else {
                vec![change(6, "six"), change(7, "seven")]
            };
            for message in script {
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            // Keep the stream open, as control does, until the client leaves.
            while let Ok(Some(_)) = inbound.message().await {}
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[tokio::test]
async fn a_gap_makes_the_client_resume_from_its_last_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("control.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let fake = Fake::default();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ControlSyncServer::new(fake.clone()))
            .serve_with_incoming(UnixListenerStream::new(listener)),
    );
    let endpoint = Endpoint::parse(&format!("unix:{}", socket.display()), None).unwrap();
    let mut config = SyncConfig::new("edge-x", endpoint);
    config.policy_hash = "p1".into();
    config.reconnect_min = Duration::from_millis(10);
    let client = SyncClient::start(config).unwrap();
    let mut events = client.subscribe();
    let mut state = client.state();
    let done =
        tokio::time::timeout(Duration::from_secs(10), state.wait_for(|s| s.sequence == 7)).await;
    let state = done.unwrap().unwrap().clone();
    assert!(state.ready);
    assert!(state.revoked.contains("six") && state.revoked.contains("seven"));
    assert!(
        !state.revoked.contains("skipped-six"),
        "the out-of-order change was not applied"
    );
    let hellos = fake.hellos.lock().unwrap().clone();
    assert_eq!(hellos.len(), 2);
    assert_eq!(
        (hellos[0].last_sequence, hellos[0].store_id.as_str()),
        (0, "")
    );
    assert_eq!(
        (hellos[1].last_sequence, hellos[1].store_id.as_str()),
        (5, "store-a")
    );
    assert_eq!(hellos[1].edge_id, "edge-x");
    assert_eq!(hellos[1].policy_hash, "p1");
    let mut revoked = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let ControlEvent::Revoked { session_id, .. } = event {
            revoked.push(session_id);
        }
    }
    assert_eq!(revoked, ["six", "seven"]);
    client.stop().await;
    server.abort();
}

#[tokio::test]
async fn bad_tls_material_is_refused_at_start() {
    let tls =
        control_client::TlsSettings::from_pem("not a pem".into(), String::new(), String::new());
    let endpoint = Endpoint::parse("https://127.0.0.1:1", Some(tls)).unwrap();
    let error = SyncClient::start(SyncConfig::new("e", endpoint)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "tls material: control CA: no certificate"
    );
}
