//! `--sync-clients`: the "edges" are `control-client` sync clients in this process; the clock
//! stops per client when its `ControlState` shows the change (control's commit, push and the
//! client's apply; no proxy refusing a request, no tunnel).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use control_client::{ControlState, Endpoint, SyncClient, SyncConfig};
use serde_json::json;
use tokio::sync::mpsc;

use super::api::Api;
use super::{Options, RevocationReport, Stats, checks};
use crate::Error;

/// The policy the sessions' profile comes from.
const POLICY: &str = include_str!("../../../policies/default/sandbox-default.yaml");
const PROFILE: &str = "sandbox-default";

/// What an observer saw change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seen {
    Revoked(String),
    DenyAll(bool),
}

pub(super) async fn scenario(options: &Options) -> Result<RevocationReport, Error> {
    let dir = tempfile::tempdir().map_err(Error::io("creating a temp dir"))?;
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).map_err(Error::io("creating the policy dir"))?;
    std::fs::write(policies.join("sandbox-default.yaml"), POLICY)
        .map_err(Error::io("writing the policy"))?;
    let config = control::Config::ephemeral(dir.path().join("data"), policies);
    let control = control::run(config)
        .await
        .map_err(|e| Error::Config(format!("control: {e}")))?;
    let api = Api::new(&control)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut clients = Vec::with_capacity(options.edges);
    let mut names = Vec::with_capacity(options.edges);
    for index in 0..options.edges {
        let name = format!("edge-{index:02}");
        let tls = control
            .edge_tls(&name)
            .map_err(|e| Error::Config(format!("edge cert: {e}")))?;
        let endpoint = Endpoint::Tls {
            address: control.sync_addr().to_string(),
            tls,
        };
        let client = SyncClient::start(SyncConfig::new(name.clone(), endpoint))
            .map_err(|e| Error::Config(format!("sync client: {e}")))?;
        client
            .wait_ready(options.timeout)
            .await
            .map_err(|e| Error::Config(format!("{name}: {e}")))?;
        tokio::spawn(observe(index, client.state(), tx.clone()));
        clients.push(client);
        names.push(name);
    }
    let mut sessions = Vec::with_capacity(options.sessions);
    for _ in 0..options.sessions {
        sessions.push(api.create_session(PROFILE).await?.id);
    }
    let mut pending: HashMap<Seen, Vec<(usize, Instant)>> = HashMap::new();
    let mut revocation = Vec::new();
    let mut from_request = Vec::new();
    let mut per_edge: Vec<Vec<Duration>> = vec![Vec::new(); options.edges];
    let mut revoke_api = Vec::new();
    for session in &sessions {
        let sent = Instant::now();
        api.revoke(session).await?;
        let answered = Instant::now();
        revoke_api.push(answered - sent);
        let seen = collect(
            &mut rx,
            &mut pending,
            Seen::Revoked(session.clone()),
            options,
        )
        .await?;
        for (edge, at) in seen {
            let latency = at.saturating_duration_since(answered);
            revocation.push(latency);
            from_request.push(at.saturating_duration_since(sent));
            if let Some(samples) = per_edge.get_mut(edge) {
                samples.push(latency);
            }
        }
    }
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..options.deny_all_rounds {
        for (switch_on, samples) in [(true, &mut on), (false, &mut off)] {
            api.deny_all(switch_on).await?;
            let answered = Instant::now();
            let seen = collect(&mut rx, &mut pending, Seen::DenyAll(switch_on), options).await?;
            samples.extend(
                seen.into_iter()
                    .map(|(_, at)| at.saturating_duration_since(answered)),
            );
        }
    }
    for client in clients {
        client.stop().await;
    }
    control.stop().await;
    let revocation = Stats::of(&revocation);
    let edges_are = "sync-client";
    Ok(RevocationReport {
        scenario: "revocation".into(),
        edges_are: edges_are.into(),
        settings: json!({
            "edges": options.edges,
            "sessions": options.sessions,
            "deny_all_rounds": options.deny_all_rounds,
            "transport": "grpc over mutual TLS on 127.0.0.1",
        }),
        checks: checks(options.edges, &revocation, None, edges_are),
        revocation,
        revocation_from_request: Stats::of(&from_request),
        revocation_per_edge: names
            .into_iter()
            .zip(per_edge.iter().map(|s| Stats::of(s)))
            .collect(),
        revocation_tunnel_closed: None,
        deny_all_on: Stats::of(&on),
        deny_all_on_tunnel_closed: None,
        deny_all_off: Stats::of(&off),
        revoke_api: Stats::of(&revoke_api),
        notes: vec![
            "edges are control-client SyncClients in the load generator's process; the time is \
             API answer -> the client's ControlState shows the change (commit, push, apply)"
                .into(),
            "a push that overtakes the HTTP answer counts as 0 ms".into(),
        ],
    })
}

/// Reports every newly revoked session and every deny-all switch an edge's state shows.
async fn observe(
    edge: usize,
    mut state: tokio::sync::watch::Receiver<Arc<ControlState>>,
    out: mpsc::UnboundedSender<(usize, Seen, Instant)>,
) {
    let mut known: HashSet<String> = state.borrow().revoked.clone();
    let mut deny_all = state.borrow().deny_all;
    while state.changed().await.is_ok() {
        let now = Instant::now();
        let current = Arc::clone(&state.borrow_and_update());
        for sid in current.revoked.difference(&known) {
            if out.send((edge, Seen::Revoked(sid.clone()), now)).is_err() {
                return;
            }
        }
        if current.deny_all != deny_all
            && out
                .send((edge, Seen::DenyAll(current.deny_all), now))
                .is_err()
        {
            return;
        }
        known.clone_from(&current.revoked);
        deny_all = current.deny_all;
    }
}

/// Waits until every edge reported `what`; returns (edge, when) per edge.
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<(usize, Seen, Instant)>,
    pending: &mut HashMap<Seen, Vec<(usize, Instant)>>,
    what: Seen,
    options: &Options,
) -> Result<Vec<(usize, Instant)>, Error> {
    let deadline = tokio::time::Instant::now() + options.timeout;
    loop {
        if pending
            .get(&what)
            .is_some_and(|seen| seen.len() >= options.edges)
        {
            return Ok(pending.remove(&what).unwrap_or_default());
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((edge, seen, at))) => pending.entry(seen).or_default().push((edge, at)),
            Ok(None) | Err(_) => {
                return Err(Error::Config(format!(
                    "{what:?} did not reach every edge within {:?}",
                    options.timeout
                )));
            }
        }
    }
}
