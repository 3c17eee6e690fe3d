//! A real DNS server for tests: UDP and TCP on one `127.0.0.1` port, answering from a table the
//! test changes while the server runs.
//!
//! It behaves like a small recursive server: a CNAME is answered with the whole chain plus the
//! target's records; an unknown name gets NXDOMAIN, a known name without records of the asked
//! type gets NODATA, both with an SOA whose TTL says how long a resolver may cache the negative
//! answer (for NODATA, the name's shortest record TTL; for NXDOMAIN, [`DnsServer::set_negative_ttl`],
//! 0 by default). Every query is counted per name, so a test can prove a lookup did or did not
//! reach the server.
//!
//! ```no_run
//! # async fn demo() {
//! let dns = testkit::dns::DnsServer::start().await;
//! dns.set_a("example.test", &["93.184.216.34".parse().unwrap()], 60);
//! // point a resolver at dns.addr() ...
//! assert_eq!(dns.query_count("example.test"), 0);
//! dns.stop().await;
//! # }
//! ```

mod zone;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use hickory_proto::op::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use zone::{Entry, Zone, key};

/// How many times `start` tries to find a port free for both UDP and TCP.
const BIND_ATTEMPTS: usize = 32;
/// The largest answer sent over UDP to a client that did not advertise EDNS.
const PLAIN_UDP_LIMIT: usize = 512;

/// A running DNS server; see the [module docs](self). Dropping it aborts the server.
#[derive(Debug)]
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds UDP and TCP on the same `127.0.0.1` port and starts answering.
    pub async fn start() -> DnsServer {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(Zone::default()));
        let (shutdown, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(serve_udp(udp, zone.clone(), stopped.clone())),
            tokio::spawn(serve_tcp(tcp, zone.clone(), stopped)),
        ];
        DnsServer {
            addr,
            zone,
            shutdown,
            tasks,
        }
    }

    /// The address (UDP and TCP) to send queries to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the A records of `name` (replacing its A records and any CNAME).
    pub fn set_a(&self, name: &str, addrs: &[Ipv4Addr], ttl: u32) {
        let mut zone = self.zone();
        let entry = zone.names.entry(key(name)).or_default();
        entry.cname = None;
        entry.a = Some((addrs.to_vec(), ttl));
    }

    /// Sets the AAAA records of `name` (replacing its AAAA records and any CNAME).
    pub fn set_aaaa(&self, name: &str, addrs: &[Ipv6Addr], ttl: u32) {
        let mut zone = self.zone();
        let entry = zone.names.entry(key(name)).or_default();
        entry.cname = None;
        entry.aaaa = Some((addrs.to_vec(), ttl));
    }

    /// Makes `name` a CNAME for `target` (replacing every other record of `name`).
    pub fn set_cname(&self, name: &str, target: &str, ttl: u32) {
        let entry = Entry {
            cname: Some((key(target), ttl)),
            ..Entry::default()
        };
        self.zone().names.insert(key(name), entry);
    }

    /// Removes every record of `name`: it answers NXDOMAIN from now on.
    pub fn remove(&self, name: &str) {
        self.zone().names.remove(&key(name));
    }

    /// Sets the TTL (and SOA minimum) of NXDOMAIN answers; 0 by default.
    pub fn set_negative_ttl(&self, ttl: u32) {
        self.zone().negative_ttl = ttl;
    }

    /// How many queries (of any type, over UDP or TCP) asked for `name`.
    pub fn query_count(&self, name: &str) -> usize {
        self.zone().counts.get(&key(name)).copied().unwrap_or(0)
    }

    /// Stops the server, waits for it and re-raises a panic from its tasks.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            if let Err(err) = task.await
                && err.is_panic()
            {
                std::panic::resume_unwind(err.into_panic());
            }
        }
    }

    fn zone(&self) -> MutexGuard<'_, Zone> {
        self.zone
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A UDP socket and a TCP listener on the same free `127.0.0.1` port.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no 127.0.0.1 port free for both UDP and TCP after {BIND_ATTEMPTS} attempts");
}

/// Decodes one query and encodes the answer, or `None` for a message that is not a query.
fn respond(zone: &Mutex<Zone>, bytes: &[u8], limit: Option<usize>) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    let response = zone
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .answer(&request);
    let encoded = response.to_vec().ok()?;
    let limit = match (limit, &request.edns) {
        (None, _) => return Some(encoded),
        (Some(_), Some(edns)) => usize::from(edns.max_payload()).max(PLAIN_UDP_LIMIT),
        (Some(plain), None) => plain,
    };
    if encoded.len() <= limit {
        Some(encoded)
    } else {
        response.truncate().to_vec().ok()
    }
}

async fn serve_udp(socket: UdpSocket, zone: Arc<Mutex<Zone>>, mut stopped: watch::Receiver<bool>) {
    let mut buf = vec![0_u8; 65_535];
    loop {
        let (len, peer) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(received) => received,
                // e.g. ICMP port unreachable from an earlier reply: keep serving
                Err(_) => continue,
            },
            _ = stopped.changed() => return,
        };
        if let Some(answer) = respond(&zone, &buf[..len], Some(PLAIN_UDP_LIMIT)) {
            let _ = socket.send_to(&answer, peer).await;
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    zone: Arc<Mutex<Zone>>,
    mut stopped: watch::Receiver<bool>,
) {
    // dropping the set (on return or abort) aborts every connection
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve_tcp_connection(stream, zone.clone()));
                }
            }
            Some(_) = connections.join_next() => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Answers length-prefixed queries on one connection until the client closes it.
async fn serve_tcp_connection(mut stream: TcpStream, zone: Arc<Mutex<Zone>>) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut query = vec![0_u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(answer) = respond(&zone, &query, None) else {
            return;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}
