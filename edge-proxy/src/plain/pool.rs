//! Idle upstream connections of the lean path, kept **per session and address**: a connection
//! opened for one session is only ever handed back to that session (the session id is compared,
//! not just its hash), so two sessions never share an upstream connection.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use trust_core::token::VerifiedSession;

/// How long an upstream connection may sit idle in the pool.
const IDLE_TIMEOUT: Duration = crate::defaults::UPSTREAM_IDLE_TIMEOUT;
/// Idle connections kept per session and address; more are closed when returned.
const MAX_IDLE_PER_KEY: usize = 128;
/// Idle connections kept in all (pingora's pool, used for the other requests, keeps 128).
const MAX_IDLE: usize = 1024;

type Key = (u64, SocketAddr);

struct Idle {
    session: Arc<VerifiedSession>,
    stream: TcpStream,
    since: Instant,
}

/// The idle connections, and how many there are.
#[derive(Default)]
struct Idles {
    by_key: HashMap<Key, Vec<Idle>>,
    count: usize,
}

/// The pool.
#[derive(Default)]
pub(crate) struct UpstreamPool {
    idle: Mutex<Idles>,
}

fn key(session: &VerifiedSession, addr: SocketAddr) -> Key {
    let mut h = DefaultHasher::new();
    session.claims.sid.hash(&mut h);
    (h.finish(), addr)
}

impl UpstreamPool {
    /// An idle connection of `session` to `addr` that is still open, if there is one.
    pub(crate) fn take(&self, session: &VerifiedSession, addr: SocketAddr) -> Option<TcpStream> {
        let key = key(session, addr);
        loop {
            let idle = {
                let mut idles = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                let list = idles.by_key.get_mut(&key)?;
                let at = list
                    .iter()
                    .rposition(|i| i.session.claims.sid == session.claims.sid)?;
                let idle = list.swap_remove(at);
                idles.count -= 1;
                idle
            };
            if idle.since.elapsed() < IDLE_TIMEOUT && is_quiet(&idle.stream) {
                return Some(idle.stream);
            }
        }
    }

    /// Returns a connection that can carry another request of `session`, unless `open` (asked
    /// under the pool's lock, so no close of the session can slip between the check and the
    /// insert) says the session was closed meanwhile.
    pub(crate) fn put(
        &self,
        session: &Arc<VerifiedSession>,
        addr: SocketAddr,
        stream: TcpStream,
        open: impl FnOnce() -> bool,
    ) {
        let mut idles = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idles.count >= MAX_IDLE || !open() {
            return;
        }
        let list = idles.by_key.entry(key(session, addr)).or_default();
        if list.len() < MAX_IDLE_PER_KEY {
            list.push(Idle {
                session: session.clone(),
                stream,
                since: Instant::now(),
            });
            idles.count += 1;
        }
    }

    /// Closes connections idle for longer than [`IDLE_TIMEOUT`].
    pub(crate) fn sweep(&self) {
        self.close_where(|i| i.since.elapsed() >= IDLE_TIMEOUT);
    }

    /// Closes every idle connection of the sessions `sids` (revoked).
    pub(crate) fn close_sessions(&self, sids: &HashSet<String>) {
        self.close_where(|i| sids.contains(&i.session.claims.sid));
    }

    /// Closes every idle connection of session `sid` (revoked).
    pub(crate) fn close_session(&self, sid: &str) {
        self.close_where(|i| i.session.claims.sid == sid);
    }

    /// Closes every idle connection (deny-all).
    pub(crate) fn close_all(&self) {
        self.close_where(|_| true);
    }

    /// Closes the idle connections `close` picks. The sockets are dropped after the lock is
    /// released.
    fn close_where(&self, close: impl Fn(&Idle) -> bool) {
        let mut closed = Vec::new();
        {
            let mut idles = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            idles.by_key.retain(|_, list| {
                closed.extend(list.extract_if(.., |i| close(i)));
                !list.is_empty()
            });
            idles.count = idles.by_key.values().map(Vec::len).sum();
        }
        drop(closed);
    }
}

/// An idle connection is usable only while it has nothing to read: an end of stream means the
/// upstream closed it, and unsolicited bytes mean it is out of step.
fn is_quiet(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
