//! The scenario against real edges: control in process, `trust-edge edge-proxy` children, one
//! open tunnel per (session, edge), then revocations one by one and deny-all rounds, each timed
//! per edge to the first refused request and to the tunnel's close.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use super::api::{Api, Session};
use super::fleet::{self, Edge, PROFILE};
use super::probe::{self, Expect, Holder, Polled, TunnelKey};
use super::{Options, RevocationReport, Stats, checks};
use crate::Error;
use crate::edge::UPSTREAM_HOST;
use crate::upstream::{Behaviour, InProcess};

/// How long the edges get, together, to take control's first snapshot and serve.
const READY_DEADLINE: Duration = Duration::from_secs(60);
/// Reason codes the edge refuses with.
const SESSION_REVOKED: &str = "session_revoked";
const DENY_ALL: &str = "deny_all";

pub(super) async fn scenario(
    options: &Options,
    bin: &Path,
    poll_interval: Duration,
) -> Result<RevocationReport, Error> {
    let load_before = load_average();
    let dir = tempfile::tempdir().map_err(Error::io("creating a temp dir"))?;
    let http = InProcess::start(Behaviour::ok(2))?;
    let holder = Holder::start().await?;
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).map_err(Error::io("creating the policy dir"))?;
    std::fs::write(
        policies.join(format!("{PROFILE}.yaml")),
        fleet::policy_yaml(&[http.addr().port(), holder.addr().port()]),
    )
    .map_err(Error::io("writing the policy"))?;
    let config = control::Config::ephemeral(dir.path().join("control"), &policies);
    let control = control::run(config)
        .await
        .map_err(|e| Error::Config(format!("control: {e}")))?;
    let api = Api::new(&control)?;
    let started = tokio::task::block_in_place(|| {
        fleet::start(bin, dir.path(), &policies, options.edges, &control)
    });
    let edges = match started {
        Ok(edges) => edges,
        Err(e) => {
            control.stop().await;
            return Err(e);
        }
    };
    let plan = Plan {
        options,
        api: &api,
        edges: &edges,
        holder: &holder,
        http: format!("{UPSTREAM_HOST}:{}", http.addr().port()),
        hold: format!("{UPSTREAM_HOST}:{}", holder.addr().port()),
        poll_interval,
    };
    let measured = plan.run().await;
    fleet::stop(edges).await;
    control.stop().await;
    let measured = measured?;
    Ok(report(
        options,
        bin,
        poll_interval,
        measured,
        [load_before, load_average()],
    ))
}

/// What one run measured.
#[derive(Default)]
struct Measured {
    names: Vec<String>,
    revocation: Vec<Duration>,
    from_request: Vec<Duration>,
    per_edge: Vec<Vec<Duration>>,
    revocation_closed: Vec<Duration>,
    deny_all_on: Vec<Duration>,
    deny_all_closed: Vec<Duration>,
    deny_all_off: Vec<Duration>,
    revoke_api: Vec<Duration>,
    /// Revocations an edge refused on the first request sent after the API answer.
    refused_on_first_request: usize,
    /// Tunnel closes that came before the API answer (counted as 0 ms).
    overtaken: usize,
    /// Tunnels closed before their session's revocation (or deny-all) was even sent.
    early: usize,
}

/// The running fleet and what the run needs to drive it.
struct Plan<'a> {
    options: &'a Options,
    api: &'a Api,
    edges: &'a [Edge],
    holder: &'a Holder,
    /// `upstream.test:<port>` of the HTTP upstream the polls reach.
    http: String,
    /// `upstream.test:<port>` of the holding upstream the tunnels reach.
    hold: String,
    poll_interval: Duration,
}

impl Plan<'_> {
    async fn run(&self) -> Result<Measured, Error> {
        let n = self.edges.len();
        let timeout = self.options.timeout;
        let probe = self.api.create_session(PROFILE).await?;
        let ready = probe::get_request(&self.http, &probe.token);
        fleet::wait_serving(self.edges, &ready, Instant::now() + READY_DEADLINE).await?;
        let hello = probe::client_hello(UPSTREAM_HOST)?;
        let (closed_tx, closed_rx) = mpsc::unbounded_channel();
        let mut closures = Closures::new(closed_rx);
        let mut m = Measured {
            names: self.edges.iter().map(|e| e.name.clone()).collect(),
            per_edge: vec![Vec::new(); n],
            ..Measured::default()
        };
        let mut sessions = Vec::with_capacity(self.options.sessions);
        for index in 0..self.options.sessions {
            let session = self.api.create_session(PROFILE).await?;
            self.open_tunnels(index, &session, &hello, &closed_tx)
                .await?;
            sessions.push(session);
        }
        let mut dialled = sessions.len() * n;
        self.holder
            .wait_accepted(dialled, Instant::now() + timeout)
            .await?;
        for (index, session) in sessions.iter().enumerate() {
            closures.arm(index);
            let sent = Instant::now();
            self.api.revoke(&session.id).await?;
            let answered = Instant::now();
            m.revoke_api.push(answered - sent);
            let request = probe::get_request(&self.http, &session.token);
            let expect = Expect::Refused(SESSION_REVOKED);
            let refused = self.poll_all(request, expect, answered + timeout).await?;
            for (edge, Polled { at, requests }) in refused.into_iter().enumerate() {
                m.refused_on_first_request += usize::from(requests == 1);
                m.revocation.push(at.saturating_duration_since(answered));
                m.from_request.push(at.saturating_duration_since(sent));
                if let Some(samples) = m.per_edge.get_mut(edge) {
                    samples.push(at.saturating_duration_since(answered));
                }
            }
            let closed = closures.wait(index, n, answered + timeout).await?;
            m.overtaken += closed.iter().filter(|at| **at < answered).count();
            m.revocation_closed.extend(
                closed
                    .iter()
                    .map(|at| at.saturating_duration_since(answered)),
            );
        }
        for round in 0..self.options.deny_all_rounds {
            let index = self.options.sessions + round;
            let session = self.api.create_session(PROFILE).await?;
            self.open_tunnels(index, &session, &hello, &closed_tx)
                .await?;
            dialled += n;
            self.holder
                .wait_accepted(dialled, Instant::now() + timeout)
                .await?;
            let request = probe::get_request(&self.http, &session.token);
            closures.arm(index);
            self.api.deny_all(true).await?;
            let answered = Instant::now();
            let refused = self
                .poll_all(
                    request.clone(),
                    Expect::Refused(DENY_ALL),
                    answered + timeout,
                )
                .await?;
            m.deny_all_on.extend(
                refused
                    .iter()
                    .map(|p| p.at.saturating_duration_since(answered)),
            );
            let closed = closures.wait(index, n, answered + timeout).await?;
            m.overtaken += closed.iter().filter(|at| **at < answered).count();
            m.deny_all_closed.extend(
                closed
                    .iter()
                    .map(|at| at.saturating_duration_since(answered)),
            );
            self.api.deny_all(false).await?;
            let answered = Instant::now();
            let served = self
                .poll_all(request, Expect::Served, answered + timeout)
                .await?;
            m.deny_all_off.extend(
                served
                    .iter()
                    .map(|p| p.at.saturating_duration_since(answered)),
            );
        }
        m.early = closures.early;
        Ok(m)
    }

    /// Opens one tunnel per edge for `session` (number `index`) and starts watching each.
    async fn open_tunnels(
        &self,
        index: usize,
        session: &Session,
        hello: &[u8],
        closed: &mpsc::UnboundedSender<(TunnelKey, Instant)>,
    ) -> Result<(), Error> {
        let connect = probe::connect_request(&self.hold, &session.token);
        for (edge_index, edge) in self.edges.iter().enumerate() {
            let stream = probe::open_tunnel(edge.proxy, &connect, hello)
                .await
                .map_err(|e| Error::Config(format!("{}: {e}", edge.name)))?;
            tokio::spawn(probe::watch_close(
                stream,
                (index, edge_index),
                closed.clone(),
            ));
        }
        Ok(())
    }

    /// Polls every edge at once until each answers as `expect`; in edge order.
    async fn poll_all(
        &self,
        request: Vec<u8>,
        expect: Expect,
        deadline: Instant,
    ) -> Result<Vec<Polled>, Error> {
        let request: Arc<[u8]> = request.into();
        let mut polls = tokio::task::JoinSet::new();
        for (index, edge) in self.edges.iter().enumerate() {
            let (proxy, request, interval) = (edge.proxy, Arc::clone(&request), self.poll_interval);
            polls.spawn(async move {
                let polled = probe::poll_until(proxy, &request, expect, interval, deadline).await;
                (index, polled)
            });
        }
        let mut moments = vec![None; self.edges.len()];
        while let Some(joined) = polls.join_next().await {
            let (index, polled) =
                joined.map_err(|e| Error::Config(format!("a poll failed: {e}")))?;
            if let Some(slot) = moments.get_mut(index) {
                *slot = Some(polled?);
            }
        }
        moments
            .into_iter()
            .map(|m| m.ok_or_else(|| Error::Config("a poll did not report".into())))
            .collect()
    }
}

/// Tunnel closes as they are reported, grouped by session; a close of a session not yet armed
/// (its revocation or deny-all not yet sent) counts as early.
pub(super) struct Closures {
    rx: mpsc::UnboundedReceiver<(TunnelKey, Instant)>,
    armed: HashSet<usize>,
    seen: HashMap<usize, Vec<Instant>>,
    /// Closes reported before their session was armed.
    pub(super) early: usize,
}

impl Closures {
    pub(super) fn new(rx: mpsc::UnboundedReceiver<(TunnelKey, Instant)>) -> Closures {
        Closures {
            rx,
            armed: HashSet::new(),
            seen: HashMap::new(),
            early: 0,
        }
    }

    /// Session `index`'s tunnels may close from now on.
    pub(super) fn arm(&mut self, index: usize) {
        self.armed.insert(index);
    }

    /// Waits (bounded) until `count` tunnels of session `index` closed; their close moments.
    pub(super) async fn wait(
        &mut self,
        index: usize,
        count: usize,
        deadline: Instant,
    ) -> Result<Vec<Instant>, Error> {
        loop {
            if self.seen.get(&index).is_some_and(|s| s.len() >= count) {
                return Ok(self.seen.remove(&index).unwrap_or_default());
            }
            let received = tokio::time::timeout_at(deadline.into(), self.rx.recv()).await;
            match received {
                Ok(Some(((session, _edge), at))) => {
                    if !self.armed.contains(&session) {
                        self.early += 1;
                    }
                    self.seen.entry(session).or_default().push(at);
                }
                Ok(None) | Err(_) => {
                    let closed = self.seen.get(&index).map_or(0, Vec::len);
                    return Err(Error::Config(format!(
                        "session {index}: {closed} of {count} tunnels closed in time"
                    )));
                }
            }
        }
    }
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages, if readable.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn report(
    options: &Options,
    bin: &Path,
    poll_interval: Duration,
    m: Measured,
    load: [Option<String>; 2],
) -> RevocationReport {
    let revocation = Stats::of(&m.revocation);
    let closed = Stats::of(&m.revocation_closed);
    let edges_are = "edge-proxy";
    let [load_before, load_after] = load;
    RevocationReport {
        scenario: "revocation".into(),
        edges_are: edges_are.into(),
        settings: json!({
            "edges": options.edges,
            "sessions": options.sessions,
            "deny_all_rounds": options.deny_all_rounds,
            "tunnels_open_before_the_first_revocation": options.sessions * options.edges,
            "poll_interval_ms": poll_interval.as_secs_f64() * 1000.0,
            "edge_bin": bin.display().to_string(),
            "transport": "edges follow control over grpc with mutual TLS on 127.0.0.1",
            "load_average_before": load_before,
            "load_average_after": load_after,
        }),
        checks: checks(
            options.edges,
            &revocation,
            Some((&closed, m.early)),
            edges_are,
        ),
        revocation,
        revocation_from_request: Stats::of(&m.from_request),
        revocation_per_edge: m
            .names
            .into_iter()
            .zip(m.per_edge.iter().map(|s| Stats::of(s)))
            .collect(),
        revocation_tunnel_closed: Some(closed),
        deny_all_on: Stats::of(&m.deny_all_on),
        deny_all_on_tunnel_closed: Some(Stats::of(&m.deny_all_closed)),
        deny_all_off: Stats::of(&m.deny_all_off),
        revoke_api: Stats::of(&m.revoke_api),
        notes: vec![
            "edges are `trust-edge edge-proxy` child processes following the in-process control \
             over its sync stream, each with its own client certificate"
                .into(),
            format!(
                "refused = the first refused answer was read; each edge is polled with a fresh \
                 connection and GET every {poll_interval:?} after the previous answer, so a \
                 sample is late by at most one poll round trip + that interval"
            ),
            "tunnel closed = the client end of the session's CONNECT tunnel read end-of-stream; \
             every tunnel carried a real rustls ClientHello so the edge had dialled upstream and \
             was splicing"
                .into(),
            format!(
                "{} of {} revocation samples were refused on the first request after the API \
                 answer (the edge had it already; the sample is one poll round trip)",
                m.refused_on_first_request,
                m.revocation.len()
            ),
            format!(
                "{} tunnel closes overtook the API answer and count as 0 ms",
                m.overtaken
            ),
        ],
    }
}
