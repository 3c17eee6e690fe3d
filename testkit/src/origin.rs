//! An upstream for tests: answers every HTTP/1.1 request with a JSON echo of what it received
//! (method, target, headers, body length) and which connection carried it, over plain TCP or TLS.

use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running echo origin.
pub struct Origin {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Origin {
    /// Starts a plain-HTTP echo origin on 127.0.0.1:0.
    pub async fn start() -> Origin {
        Self::start_inner(None).await
    }

    /// Starts a TLS echo origin on 127.0.0.1:0 serving `cert` for its names.
    pub async fn start_tls(cert: &crate::tls::TestCert) -> Origin {
        Self::start_inner(Some(cert.acceptor())).await
    }

    async fn start_inner(tls: Option<tokio_rustls::TlsAcceptor>) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    return;
                };
                let conn_id = c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(tcp).await {
                                serve(s, peer, conn_id, r).await;
                            }
                        }
                        None => serve(tcp, peer, conn_id, r).await,
                    }
                });
            }
        });
        Origin {
            addr,
            connections,
            requests,
            task,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    peer: SocketAddr,
    conn_id: usize,
    requests: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(head_end) = read_head(&mut s, &mut buf).await else {
            return;
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if req.parse(&buf[..head_end]).is_err() {
            return;
        }
        let mut hmap = serde_json::Map::new();
        let mut content_length = 0usize;
        let mut chunked = false;
        let mut close = false;
        for h in req.headers.iter() {
            let v = String::from_utf8_lossy(h.value).to_string();
            let name = h.name.to_ascii_lowercase();
            if name == "content-length" {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if name == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
            if name == "connection" && v.eq_ignore_ascii_case("close") {
                close = true;
            }
            hmap.insert(name, json!(v));
        }
        let method = req.method.unwrap_or("").to_owned();
        let target = req.path.unwrap_or("").to_owned();
        buf.drain(..head_end);
        let body_len = if chunked {
            read_chunked(&mut s, &mut buf).await
        } else {
            read_exact_len(&mut s, &mut buf, content_length).await
        };
        let Some(body_len) = body_len else { return };
        requests.fetch_add(1, Ordering::SeqCst);
        let body = json!({
            "method": method, "target": target, "headers": hmap, "body_len": body_len,
            "peer_port": peer.port(), "conn_id": conn_id,
        })
        .to_string();
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(resp.as_bytes()).await.is_err() || close {
            let _ = s.shutdown().await;
            return;
        }
    }
}

/// Reads into `buf` until it holds a whole request head; the head's length, or `None` once the
/// peer closed.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn fill<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>, want: usize) -> Option<()> {
    while buf.len() < want {
        let mut chunk = [0u8; 8192];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(())
}

async fn read_exact_len<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    len: usize,
) -> Option<usize> {
    fill(s, buf, len).await?;
    buf.drain(..len);
    Some(len)
}

async fn read_chunked<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<usize> {
    let mut total = 0;
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            fill(s, buf, buf.len() + 1).await?;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).ok()?.trim(), 16).ok()?;
        buf.drain(..line_end + 2);
        fill(s, buf, size + 2).await?;
        buf.drain(..size + 2);
        total += size;
        if size == 0 {
            return Some(total);
        }
    }
}
