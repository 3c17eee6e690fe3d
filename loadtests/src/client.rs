//! The load generator: a lean HTTP/1.1 keep-alive client driving many connections on one
//! tokio runtime.
//!
//! Each connection sends pre-rendered request bytes and reads the response head with
//! `httparse`, skipping the body by `Content-Length` (chunked and close-delimited bodies are
//! handled too). Two modes:
//! - **closed loop** (`rate: None`): a connection sends its next request as soon as the previous
//!   response completes; latency is send → last body byte.
//! - **open loop** (`rate: Some(r)`): request `k` of connection `i` is scheduled at
//!   `start + (k·C + i) / r` and released by the [`pacer`] (a thread on the high-resolution
//!   timer, since tokio's 1 ms timer would send a millisecond's requests as one burst). Latency
//!   runs from the *scheduled* time whenever the connection was still busy with the previous response at that time, so a slow target cannot hide its queueing
//!   (no coordinated omission); when the connection was idle and only the generator's own timer
//!   woke late, latency runs from the actual send.
//!
//! Runs are bounded: nothing is sent after `end`, every exchange has a timeout, and a shared cap
//! limits the total number of requests.

pub(crate) mod conn;
mod pacer;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::Error;
use conn::{Conn, Failure};
use tokio::io::{AsyncRead, AsyncWrite};

/// Highest latency the histogram tracks (60 s, in nanoseconds); larger values saturate.
const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;
/// Pause after a failed connect before the next attempt, so a dead target is not spun on.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// Latency above which a response counts as slow: the bar of the added-latency claim. Slow
/// responses are kept with their time, so the report can tell stall episodes from a slow
/// target.
pub const SLOW_LATENCY: Duration = Duration::from_millis(1);

/// What one load run sends, where, and for how long.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Where every connection connects (the upstream for the direct path, else the proxy).
    pub addr: SocketAddr,
    /// Pre-rendered requests; connection `i` sends `requests[i % len]` every time.
    pub requests: Vec<Arc<[u8]>>,
    /// Number of concurrent connections.
    pub connections: usize,
    /// Offered rate in requests/s for an open-loop run; `None` for closed loop.
    pub rate: Option<f64>,
    /// Hard cap on requests sent across all connections and phases.
    pub max_requests: u64,
    /// Bound on one connect or one request/response exchange.
    pub request_timeout: Duration,
}

/// The instants that split a run into warm-up and measurement.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    /// When the first request may be sent (open-loop schedules start here).
    pub start: Instant,
    /// Requests sent (or scheduled) from here on are measured.
    pub measure_start: Instant,
    /// No request is sent (or scheduled) from here on.
    pub end: Instant,
}

impl Phases {
    /// Phases starting now: `warmup`, then `duration` measured.
    pub fn starting_now(warmup: Duration, duration: Duration) -> Self {
        let start = Instant::now();
        let measure_start = start + warmup;
        Self {
            start,
            measure_start,
            end: measure_start + duration,
        }
    }

    /// The length of the measured window.
    pub fn window(&self) -> Duration {
        self.end.saturating_duration_since(self.measure_start)
    }
}

/// Failed exchanges, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    /// Connect refused, reset or timed out.
    pub connect: u64,
    /// The connection failed mid-exchange.
    pub io: u64,
    /// The exchange took longer than the request timeout.
    pub timeout: u64,
    /// The response could not be parsed.
    pub parse: u64,
    /// Complete responses with a status other than 200, by status.
    pub status: BTreeMap<u16, u64>,
}

impl Errors {
    /// Every failed exchange.
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.timeout + self.parse + self.status.values().sum::<u64>()
    }

    fn merge(&mut self, other: &Self) {
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
        self.parse += other.parse;
        for (status, count) in &other.status {
            *self.status.entry(*status).or_insert(0) += count;
        }
    }

    fn count(&mut self, failure: Failure) {
        match failure {
            Failure::Connect => self.connect += 1,
            Failure::Io | Failure::Stale => self.io += 1,
            Failure::Timeout => self.timeout += 1,
            Failure::Parse => self.parse += 1,
        }
    }
}

/// What a load run observed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Responses with status 200 to requests sent in the measured window.
    pub ok: u64,
    /// Failed exchanges in the measured window.
    pub errors: Errors,
    /// Latency of the `ok` responses, in nanoseconds.
    pub latency: Histogram<u64>,
    /// When each `ok` response slower than [`SLOW_LATENCY`] was due, from the start of the
    /// measured window.
    pub slow_at: Vec<Duration>,
    /// Every complete response of the run (warm-up included, any status).
    pub responses_total: u64,
    /// Every request written (warm-up included).
    pub sent_total: u64,
    /// Connections opened after a connection's first one (a target closing keep-alive).
    pub reconnects: u64,
    /// Whether the request cap stopped the run early.
    pub capped: bool,
}

impl Outcome {
    /// Nothing observed yet.
    ///
    /// # Errors
    /// The latency histogram could not be built.
    pub(crate) fn empty() -> Result<Self, Error> {
        let latency = latency_histogram()?;
        Ok(Self {
            ok: 0,
            errors: Errors::default(),
            latency,
            slow_at: Vec::new(),
            responses_total: 0,
            sent_total: 0,
            reconnects: 0,
            capped: false,
        })
    }

    /// Adds `other` (another connection's outcome) to this one.
    ///
    /// # Errors
    /// The histograms could not be merged.
    pub(crate) fn merge(&mut self, other: &Self) -> Result<(), Error> {
        self.ok += other.ok;
        self.errors.merge(&other.errors);
        self.latency
            .add(&other.latency)
            .map_err(|e| Error::Config(format!("latency histogram merge: {e}")))?;
        self.slow_at.extend_from_slice(&other.slow_at);
        self.responses_total += other.responses_total;
        self.sent_total += other.sent_total;
        self.reconnects += other.reconnects;
        self.capped |= other.capped;
        Ok(())
    }

    /// Counts one exchange: a response (a 200 in the measured window with its `latency`, any
    /// other status as an error) or a failure. `at` is when the request counted from, since the
    /// start of the measured window; `None` in the warm-up, which is not measured.
    pub(crate) fn record(
        &mut self,
        result: Result<u16, Failure>,
        at: Option<Duration>,
        latency: Duration,
    ) {
        match result {
            Ok(status) => {
                self.responses_total += 1;
                let Some(at) = at else {
                    return;
                };
                if status == 200 {
                    self.ok += 1;
                    let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
                    self.latency.saturating_record(nanos.max(1));
                    if latency > SLOW_LATENCY {
                        self.slow_at.push(at);
                    }
                } else {
                    *self.errors.status.entry(status).or_insert(0) += 1;
                }
            }
            Err(failure) => {
                if at.is_some() {
                    self.errors.count(failure);
                }
            }
        }
    }
}

/// An empty latency histogram (nanoseconds, up to 60 s).
///
/// # Errors
/// The histogram could not be built.
pub(crate) fn latency_histogram() -> Result<Histogram<u64>, Error> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3)
        .map_err(|e| Error::Config(format!("latency histogram: {e}")))
}

/// A fresh current-thread runtime for one load run.
///
/// # Errors
/// Building it failed.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::io("building the load runtime"))
}

/// Waits for every connection task and adds up their outcomes.
///
/// # Errors
/// A task failed or the histograms could not be merged.
pub(crate) async fn gather(mut tasks: tokio::task::JoinSet<Outcome>) -> Result<Outcome, Error> {
    let mut total = Outcome::empty()?;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.map_err(|e| Error::Config(format!("load task failed: {e}")))?;
        total.merge(&outcome)?;
    }
    Ok(total)
}

/// Pauses after a failed connect (so a dead target is not spun on), at most until `end`.
pub(crate) async fn connect_backoff(end: Instant) {
    let resume = (Instant::now() + CONNECT_BACKOFF).min(end);
    tokio::time::sleep_until(resume.into()).await;
}

/// Runs `spec` on a fresh current-thread runtime and returns what it observed.
///
/// # Errors
/// Building the runtime or the histograms failed.
pub fn run_blocking(spec: &Spec, phases: Phases) -> Result<Outcome, Error> {
    runtime()?.block_on(run(spec, phases))
}

/// Drives `spec.connections` connections until `phases.end` (or the request cap), then waits
/// for the exchanges in flight (each bounded by the request timeout).
///
/// # Errors
/// `spec` has no connections or no request, or a histogram could not be built.
pub async fn run(spec: &Spec, phases: Phases) -> Result<Outcome, Error> {
    if spec.connections == 0 || spec.requests.is_empty() {
        return Err(Error::Config(
            "a load run needs at least one connection and one request".into(),
        ));
    }
    let spec = Arc::new(spec.clone());
    let slots = spec
        .rate
        .map(|rate| pacer::start(spec.connections, rate, phases.start, phases.end))
        .transpose()
        .map_err(Error::io("starting the open-loop pacer"))?;
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..spec.connections {
        let outcome = Outcome::empty()?;
        tasks.spawn(drive(
            id,
            Arc::clone(&spec),
            phases,
            slots.clone(),
            Arc::clone(&sent),
            outcome,
        ));
    }
    gather(tasks).await
}

/// One connection's loop.
async fn drive(
    id: usize,
    spec: Arc<Spec>,
    phases: Phases,
    // The open-loop schedule; `None` for a closed loop.
    slots: Option<Arc<pacer::Slots>>,
    sent: Arc<AtomicU64>,
    mut out: Outcome,
) -> Outcome {
    let Some(request) = spec.requests.get(id % spec.requests.len()).cloned() else {
        return out;
    };
    let mut conn: Option<Conn> = None;
    let mut opened: u64 = 0;
    let mut k: u64 = 0;
    loop {
        // When this request counts from, and which instant decides its phase.
        let (origin, phase_time) = match &slots {
            None => {
                let now = Instant::now();
                if now >= phases.end {
                    break;
                }
                (now, now)
            }
            Some(slots) => {
                let slot = k.saturating_mul(spec.connections as u64) + id as u64;
                let scheduled = slots.due(slot);
                if scheduled >= phases.end {
                    break;
                }
                if Instant::now() < scheduled {
                    slots.wait(id, slot).await;
                    (Instant::now(), scheduled)
                } else {
                    (scheduled, scheduled)
                }
            }
        };
        k += 1;
        if sent.fetch_add(1, Ordering::Relaxed) >= spec.max_requests {
            out.capped = true;
            break;
        }
        out.sent_total += 1;
        // Measured when due in the window; counted from its start.
        let at = phase_time.checked_duration_since(phases.measure_start);
        let open = || Conn::connect(spec.addr, spec.request_timeout);
        let result = exchange(&mut conn, &mut opened, &request, spec.request_timeout, open).await;
        if result.is_err() {
            conn = None;
        }
        out.record(result, at, origin.elapsed());
        if result == Err(Failure::Connect) {
            connect_backoff(phases.end).await;
        }
    }
    out.reconnects = opened.saturating_sub(1);
    out
}

/// One request/response on `conn`, opening one with `open` first if needed; the round trip is
/// bounded by `limit`. A reused connection the target closed since its last response (no byte
/// of a response read) is reopened and the request retried once; the retry's time counts
/// against the same request.
pub(crate) async fn exchange<S, F, Fut>(
    conn: &mut Option<Conn<S>>,
    opened: &mut u64,
    request: &[u8],
    limit: Duration,
    mut open: F,
) -> Result<u16, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Conn<S>, Failure>>,
{
    for attempt in 0..2 {
        let reused = conn.is_some();
        let current = match conn {
            Some(current) => current,
            None => {
                let fresh = open().await?;
                *opened += 1;
                conn.insert(fresh)
            }
        };
        let result = tokio::time::timeout(limit, current.round_trip(request)).await;
        match result {
            Err(_) => return Err(Failure::Timeout),
            Ok(Ok(response)) => {
                if response.close {
                    *conn = None;
                }
                return Ok(response.status);
            }
            Ok(Err(Failure::Stale)) if reused && attempt == 0 => {
                *conn = None;
            }
            Ok(Err(failure)) => return Err(failure),
        }
    }
    Err(Failure::Io)
}
