//! Starting and stopping an edge: [`run`] binds the listeners (port 0 works), loads policies, keys,
//! resolver and audit log, and returns an [`EdgeHandle`] that tests and the binary stop the same way.

use crate::admin;
use crate::config::Config;
use crate::connection;
use crate::control_link::{self, ControlLink};
use crate::defaults;
use crate::edge::Edge;
use crate::error::EdgeError;
use crate::metrics::Metrics;
use crate::reload;
use crate::resolver::{self, Resolver};
use crate::service::Forwarder;
use crate::sessions::Sessions;
use arc_swap::ArcSwap;
use pingora_core::server::configuration::ServerConf;
use policies::denyset::DenySet;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use trust_core::audit::AuditWriter;
use trust_core::token::{KeySource, Verifier, VerifierConfig};

/// A running edge.
pub struct EdgeHandle {
    proxy_addr: SocketAddr,
    admin_addr: SocketAddr,
    edge: Arc<Edge>,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    audit_writer: AuditWriter,
}

impl EdgeHandle {
    /// Where the proxy listens.
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    /// Where the admin endpoints listen.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The active policy set's hash.
    pub fn policy_hash(&self) -> String {
        self.edge.policies.load().hash().to_owned()
    }

    /// The Prometheus text of the edge's metrics, as `/metrics` serves it.
    pub fn metrics_text(&self) -> String {
        admin::refresh(&self.edge);
        self.edge.metrics.render()
    }

    /// Waits (at most `timeout`) until the edge has control's first snapshot and can decide;
    /// `true` at once for an edge without a control plane.
    pub async fn wait_ready(&self, timeout: std::time::Duration) -> bool {
        match &self.edge.control {
            Some(control) => control.wait_ready(timeout).await,
            None => true,
        }
    }

    /// Waits until every audit event recorded so far is written.
    pub async fn flush_audit(&self) {
        if let Err(e) = self.edge.audit.flush().await {
            tracing::error!(error = %e, "audit flush failed");
        }
    }

    /// Stops accepting, ends open connections, and writes out the audit log.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept.await;
        for task in self.background {
            task.abort();
        }
        if let Some(edge) = Arc::into_inner(self.edge)
            && let Some(control) = edge.control
        {
            control.stop().await;
        }
        if let Err(e) = self.audit_writer.close().await {
            tracing::error!(error = %e, "audit log did not close cleanly");
        }
    }
}

/// Starts an edge from a validated config.
///
/// # Errors
/// Policies, keys, resolver or audit log failed to load, or a listener could not be bound.
pub async fn run(config: Config) -> Result<EdgeHandle, EdgeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let policies = crate::policy_load::load(&config).map_err(EdgeError::Policy)?;
    // With a control plane, its pushed JWKS is the only key source: start with none.
    let keys = match &config.control {
        Some(_) => KeySource::Static(serde_json::json!({ "keys": [] })),
        None => config.key_source.clone(),
    };
    let mut verifier_config = VerifierConfig::new(keys);
    verifier_config.issuer = config.issuer.clone();
    verifier_config.audience = config.audience.clone();
    verifier_config.algorithms = config.algorithms.clone();
    verifier_config.leeway = config.leeway;
    let verifier = Verifier::new(verifier_config).await?;
    let resolver = Resolver::new(config.resolver.clone())?;
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| EdgeError::Bind { addr, source })
    };
    let proxy_listener = bind(config.proxy_listen).await?;
    let admin_listener = bind(config.admin_listen).await?;
    let proxy_addr = proxy_listener
        .local_addr()
        .map_err(|source| EdgeError::Bind {
            addr: config.proxy_listen,
            source,
        })?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|source| EdgeError::Bind {
            addr: config.admin_listen,
            source,
        })?;
    let deny_set = DenySet::mandatory()
        .with_additions(config.deny_additions.clone())
        .with_host_addresses(resolver::interfaces::host_addresses().map_err(EdgeError::Interfaces)?)
        .with_protected_sockets(vec![proxy_addr, admin_addr]);
    let (audit, audit_writer) = trust_core::audit::start(config.audit.clone())?;
    let control = match &config.control {
        Some(c) => Some(ControlLink::start(c, policies.hash()).map_err(EdgeError::Control)?),
        None => None,
    };
    let bump = config.bump.as_ref().map(crate::bump::setup).transpose()?;
    let secrets = config
        .secrets
        .as_ref()
        .map(|s| crate::secrets::SecretStore::start(s, crate::secrets::wanted(&policies, &config)));
    let server_conf = ServerConf {
        ca_file: crate::bump::upstream_roots(&config)?.map(|p| p.display().to_string()),
        ..ServerConf::default()
    };
    let edge = Arc::new(Edge {
        unauthenticated: Arc::new(Semaphore::new(config.max_unauthenticated_connections)),
        config,
        verifier,
        policies: ArcSwap::from_pointee(policies),
        resolver,
        deny_set: ArcSwap::from_pointee(deny_set),
        sessions: Sessions::default(),
        audit,
        metrics: Metrics::new()?,
        policy_generation: tokio::sync::watch::Sender::new(0),
        control,
        bump,
        upstreams: crate::plain::pool::UpstreamPool::default(),
        secrets,
    });
    edge.metrics.set_policy(edge.policies.load().hash());
    let proxy = Arc::new(pingora_proxy::http_proxy(
        &Arc::new(server_conf),
        Forwarder { edge: edge.clone() },
    ));
    let (shutdown, watcher) = watch::channel(false);
    let accept = tokio::spawn(accept_loop(
        proxy_listener,
        edge.clone(),
        proxy,
        watcher.clone(),
    ));
    let mut background = vec![
        tokio::spawn(admin::serve(admin_listener, edge.clone(), watcher)),
        tokio::spawn(refresh_host_addresses(edge.clone())),
        tokio::spawn(sweep_sessions(edge.clone())),
        tokio::spawn(reload::watch(edge.clone())),
        tokio::spawn(crate::bump::follow_ca(edge.clone())),
    ];
    if let Some(control) = &edge.control {
        let (state, events) = control.streams();
        background.push(tokio::spawn(control_link::follow(
            edge.clone(),
            state,
            events,
        )));
    }
    tracing::info!(%proxy_addr, %admin_addr, policy_hash = %edge.policies.load().hash(), "edge proxy listening");
    Ok(EdgeHandle {
        proxy_addr,
        admin_addr,
        edge,
        shutdown,
        accept,
        background,
        audit_writer,
    })
}

async fn accept_loop(
    listener: TcpListener,
    edge: Arc<Edge>,
    proxy: Arc<pingora_proxy::HttpProxy<Forwarder>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    connections.spawn(connection::serve(edge.clone(), proxy.clone(), tcp, shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::task::yield_now().await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    connections.shutdown().await;
}

async fn refresh_host_addresses(edge: Arc<Edge>) {
    let mut tick = tokio::time::interval(defaults::INTERFACE_REFRESH);
    loop {
        tick.tick().await;
        let addrs = match resolver::interfaces::host_addresses() {
            Ok(addrs) => addrs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list interface addresses; keeping the previous set");
                continue;
            }
        };
        let current = edge.deny_set.load_full();
        edge.deny_set.store(Arc::new(
            current.as_ref().clone().with_host_addresses(addrs),
        ));
    }
}

async fn sweep_sessions(edge: Arc<Edge>) {
    let mut tick = tokio::time::interval(defaults::SESSION_SWEEP);
    loop {
        tick.tick().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        edge.sessions.sweep(now);
        edge.upstreams.sweep();
    }
}
