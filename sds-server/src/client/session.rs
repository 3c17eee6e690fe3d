//! The client's connection loop: connect, open a delta stream, apply responses, reconnect.

use super::{ClientConfig, ClientSecret, Command, Endpoint, State};
use crate::convert;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_client::SecretDiscoveryServiceClient;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Uri};

/// Reconnects until stopped.
pub(super) async fn run(
    config: ClientConfig,
    state: Arc<State>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = config.backoff_initial;
    let mut disconnected_since = Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        match connect(&config).await {
            Ok(channel) => {
                let outcome = session(&config, &state, channel, &mut commands, &mut stop).await;
                if state.connected.swap(false, Ordering::SeqCst) {
                    backoff = config.backoff_initial;
                    disconnected_since = Instant::now();
                    state.changed();
                }
                match outcome {
                    Ok(()) => {
                        tracing::info!(endpoint = ?config.endpoint, "sds stream closed; reconnecting")
                    }
                    Err(e) => {
                        tracing::warn!(endpoint = ?config.endpoint, error = %e, "sds stream failed; reconnecting");
                        state.set_error(e);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(endpoint = ?config.endpoint, error = %e, "cannot connect to the sds server");
                state.set_error(e);
            }
        }
        if let Some(limit) = config.stale_after
            && disconnected_since.elapsed() > limit
        {
            let dropped = {
                let mut secrets = state
                    .secrets
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                let n = secrets.len();
                secrets.clear();
                n
            };
            if dropped > 0 {
                tracing::error!(
                    dropped,
                    "sds server unreachable past stale_after; secrets dropped"
                );
                state.changed();
            }
        }
        let jitter = rand::random_range(0.5..1.0);
        tokio::select! {
            _ = tokio::time::sleep(backoff.mul_f64(jitter)) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

async fn connect(config: &ClientConfig) -> Result<Channel, String> {
    let endpoint = tonic::transport::Endpoint::from_static("http://sds.invalid")
        .connect_timeout(config.connect_timeout)
        .http2_keep_alive_interval(Duration::from_secs(30));
    let connecting = match config.endpoint.clone() {
        Endpoint::Unix(path) => {
            endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        tokio::net::UnixStream::connect(path)
                            .await
                            .map(TokioIo::new)
                    }
                }))
                .await
        }
        Endpoint::InsecureTcp(addr) => {
            endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| async move {
                    tokio::net::TcpStream::connect(addr).await.map(TokioIo::new)
                }))
                .await
        }
        Endpoint::Tls {
            addr,
            server_name,
            config: tls,
        } => {
            let mut tls = (*tls).clone();
            tls.alpn_protocols = vec![b"h2".to_vec()];
            let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
            let name = rustls_pki_types::ServerName::try_from(server_name)
                .map_err(|e| format!("bad server name: {e}"))?;
            endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let connector = connector.clone();
                    let name = name.clone();
                    async move {
                        let tcp = tokio::net::TcpStream::connect(addr).await?;
                        connector.connect(name, tcp).await.map(TokioIo::new)
                    }
                }))
                .await
        }
    };
    connecting.map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        message
    })
}

/// One stream: subscribe (with the versions held), apply responses, forward subscription
/// changes. Returns when the stream ends.
async fn session(
    config: &ClientConfig,
    state: &State,
    channel: Channel,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let mut client = SecretDiscoveryServiceClient::new(channel);
    let (tx, rx) = mpsc::channel::<DeltaDiscoveryRequest>(16);
    let names: Vec<String> = state
        .names
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .cloned()
        .collect();
    let held: HashMap<String, String> = state
        .secrets
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(n, s)| (n.clone(), s.version.clone()))
        .collect();
    let first = DeltaDiscoveryRequest {
        node: Some(Node {
            id: config.node_id.clone(),
            ..Default::default()
        }),
        type_url: convert::secret_type_url(),
        resource_names_subscribe: names,
        initial_resource_versions: held,
        ..Default::default()
    };
    tx.send(first)
        .await
        .map_err(|_| "request queue closed".to_owned())?;
    let mut inbound = client
        .delta_secrets(ReceiverStream::new(rx))
        .await
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
        .into_inner();
    state.connected.store(true, Ordering::SeqCst);
    state.connections.fetch_add(1, Ordering::SeqCst);
    state.changed();
    loop {
        tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(response)) => {
                    let reply = apply(state, response);
                    if tx.send(reply).await.is_err() {
                        return Err("request queue closed".to_owned());
                    }
                }
                Ok(None) => return Ok(()),
                Err(s) => return Err(format!("{:?}: {}", s.code(), s.message())),
            },
            command = commands.recv() => {
                let Some(command) = command else { return Ok(()) };
                let request = change(state, command);
                if tx.send(request).await.is_err() {
                    return Err("request queue closed".to_owned());
                }
            }
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Applies a subscription change locally and returns the request that tells the server.
fn change(state: &State, command: Command) -> DeltaDiscoveryRequest {
    let mut request = DeltaDiscoveryRequest {
        type_url: convert::secret_type_url(),
        ..Default::default()
    };
    let mut names = state.names.lock().unwrap_or_else(PoisonError::into_inner);
    match command {
        Command::Subscribe(new) => {
            names.extend(new.iter().cloned());
            request.resource_names_subscribe = new;
        }
        Command::Unsubscribe(gone) => {
            let mut secrets = state
                .secrets
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for name in &gone {
                names.remove(name);
                secrets.remove(name);
            }
            drop(secrets);
            state.changed();
            request.resource_names_unsubscribe = gone;
        }
    }
    request
}

/// Stores every decodable resource, drops removed ones, and returns the ACK (or the NACK
/// naming what could not be decoded; the rest is still applied).
fn apply(state: &State, response: DeltaDiscoveryResponse) -> DeltaDiscoveryRequest {
    let mut errors = Vec::new();
    {
        let mut secrets = state
            .secrets
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for mut resource in response.resources {
            let Some(any) = resource.resource.as_mut() else {
                errors.push(format!("{}: no resource body", resource.name));
                continue;
            };
            match convert::decode_secret(any) {
                Ok((name, value)) if name == resource.name => {
                    secrets.insert(
                        name.clone(),
                        Arc::new(ClientSecret {
                            name,
                            version: resource.version,
                            value,
                        }),
                    );
                }
                Ok((name, _)) => errors.push(format!("{}: body names {name:?}", resource.name)),
                Err(e) => errors.push(format!("{}: {e}", resource.name)),
            }
        }
        for name in &response.removed_resources {
            secrets.remove(name);
        }
    }
    state.changed();
    let error_detail = if errors.is_empty() {
        None
    } else {
        state.nacks.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(errors = ?errors, "sds response rejected (NACK)");
        Some(envoy_types::pb::google::rpc::Status {
            code: tonic::Code::InvalidArgument as i32,
            message: errors.join("; "),
            details: Vec::new(),
        })
    };
    DeltaDiscoveryRequest {
        type_url: convert::secret_type_url(),
        response_nonce: response.nonce,
        error_detail,
        ..Default::default()
    }
}
