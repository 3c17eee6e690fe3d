//! Per-session state on this edge: request rate, concurrent connections and the exfiltration
//! tripwire. Limits are per edge instance (documented in the README).

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use policies::{Profile, TripwireAction};
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// All sessions this edge has seen whose tokens have not expired.
#[derive(Default)]
pub(crate) struct Sessions {
    map: DashMap<String, Arc<SessionState>>,
}

impl Sessions {
    /// The state of session `sid`, created from its profile's limits on first sight.
    pub(crate) fn get_or_create(
        &self,
        sid: &str,
        exp: u64,
        profile: &Profile,
    ) -> Arc<SessionState> {
        if let Some(s) = self.map.get(sid) {
            return s.clone();
        }
        self.map
            .entry(sid.to_owned())
            .or_insert_with(|| Arc::new(SessionState::new(exp, profile)))
            .clone()
    }

    /// Closes every open tunnel and kept-alive connection of session `sid` (revoked).
    pub(crate) fn close(&self, sid: &str) {
        if let Some(s) = self.map.get(sid) {
            s.close();
        }
    }

    /// Closes every session's connections (deny-all).
    pub(crate) fn close_all(&self) {
        for s in &self.map {
            s.close();
        }
    }

    /// Drops sessions whose tokens expired before `now` (unix seconds).
    pub(crate) fn sweep(&self, now: u64) {
        self.map.retain(|_, s| s.exp >= now);
    }
}

/// What one session may still do on this edge.
pub(crate) struct SessionState {
    exp: u64,
    limiter: DefaultDirectRateLimiter,
    connections: AtomicU32,
    max_connections: u32,
    tripwire: policies::Tripwire,
    window: Mutex<Window>,
    tripped: AtomicBool,
    /// Bumped to close the session's current connections; later connections are unaffected.
    closings: watch::Sender<u64>,
}

struct Window {
    start: Instant,
    bytes_up: u64,
    destinations: HashSet<u64>,
    alerted: bool,
}

/// The result of counting something against the tripwire.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Trip {
    /// Below the thresholds, or already reported in this window.
    Quiet,
    /// Crossed just now; `deny` when the profile refuses the session from here on.
    Crossed {
        /// The profile's action is `deny`.
        deny: bool,
    },
}

impl SessionState {
    fn new(exp: u64, profile: &Profile) -> SessionState {
        let l = &profile.limits;
        let rps = NonZeroU32::new(l.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(l.burst).unwrap_or(rps);
        SessionState {
            exp,
            limiter: DefaultDirectRateLimiter::direct(Quota::per_second(rps).allow_burst(burst)),
            connections: AtomicU32::new(0),
            max_connections: l.max_connections,
            tripwire: profile.tripwire,
            window: Mutex::new(Window {
                start: Instant::now(),
                bytes_up: 0,
                destinations: HashSet::new(),
                alerted: false,
            }),
            tripped: AtomicBool::new(false),
            closings: watch::Sender::new(0),
        }
    }

    fn close(&self) {
        self.closings.send_modify(|n| *n += 1);
    }

    /// How many times the session has been closed so far: a value that changed since a request
    /// began means what it opened must not be kept.
    pub(crate) fn closes(&self) -> u64 {
        *self.closings.borrow()
    }

    /// A signal that fires when the session's connections open now must close.
    pub(crate) fn closing(&self) -> Closing {
        let mut rx = self.closings.subscribe();
        rx.mark_unchanged();
        Closing(Some(rx))
    }

    /// Takes one request from the rate budget; `Err` carries the seconds until the next is allowed.
    pub(crate) fn check_rate(&self) -> Result<(), u64> {
        self.limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Counts one more connection for this session, if under its limit.
    pub(crate) fn try_connect(self: &Arc<Self>) -> Option<ConnectionGuard> {
        let mut current = self.connections.load(Ordering::Relaxed);
        loop {
            if current >= self.max_connections {
                return None;
            }
            match self.connections.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(ConnectionGuard(self.clone())),
                Err(seen) => current = seen,
            }
        }
    }

    /// Whether a `deny` tripwire has fired for this session.
    pub(crate) fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    /// Counts a destination (hashed host and port) and `bytes` sent upstream.
    pub(crate) fn count(&self, destination: Option<u64>, bytes: u64) -> Trip {
        let Ok(mut w) = self.window.lock() else {
            return Trip::Quiet;
        };
        if w.start.elapsed() >= self.tripwire.window {
            *w = Window {
                start: Instant::now(),
                bytes_up: 0,
                destinations: HashSet::new(),
                alerted: false,
            };
        }
        w.bytes_up = w.bytes_up.saturating_add(bytes);
        if let Some(d) = destination {
            w.destinations.insert(d);
        }
        let crossed = w.bytes_up > self.tripwire.upload_bytes
            || w.destinations.len() > self.tripwire.distinct_destinations as usize;
        if !crossed || w.alerted {
            return Trip::Quiet;
        }
        w.alerted = true;
        let deny = self.tripwire.action == TripwireAction::Deny;
        if deny {
            self.tripped.store(true, Ordering::Relaxed);
        }
        Trip::Crossed { deny }
    }

    /// The token expiry of this session (unix seconds).
    pub(crate) fn exp(&self) -> u64 {
        self.exp
    }
}

/// Holds one of a session's connection slots; released on drop.
pub(crate) struct ConnectionGuard(Arc<SessionState>);

impl ConnectionGuard {
    /// The session this slot belongs to.
    pub(crate) fn session(&self) -> &Arc<SessionState> {
        &self.0
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves when the session it came from is closed (revoked, deny-all); never otherwise.
pub(crate) struct Closing(Option<watch::Receiver<u64>>);

impl Closing {
    /// A signal that never fires.
    pub(crate) fn never() -> Closing {
        Closing(None)
    }

    /// Waits for the close.
    pub(crate) async fn wait(&mut self) {
        let fired = match &mut self.0 {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        };
        if !fired {
            std::future::pending::<()>().await;
        }
    }
}

/// Time left until a unix-seconds instant (zero if passed).
pub(crate) fn until_unix(exp: u64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_secs(exp).saturating_sub(now)
}

/// Now, in unix seconds (token `exp` is compared against this).
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
