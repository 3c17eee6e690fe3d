//! A hostile upstream for credential-scrubbing tests: it reflects every request header value
//! back in every way it can — raw in a JSON body, in `Set-Cookie`, in `Location`, base64 in a
//! header, base64 of a larger blob at every alignment, URL-encoded, hex, JSON-escaped, split
//! across body chunks, in trailers — and on `/gzip…` compresses its body although the request
//! asked for `identity`; on `/compress…` it claims an encoding nobody can decode; on `/reason…`
//! it puts the values in its status line; on `/bomb…` it sends a gzip decompression bomb.

use base64::Engine;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request's headers: (lower-case name, value), in order.
pub type Headers = Vec<(String, String)>;
/// Every request's headers, shared with the serving tasks.
type Log = Arc<Mutex<Vec<Headers>>>;

/// A running reflecting TLS origin.
pub struct Reflector {
    addr: SocketAddr,
    seen: Log,
    task: JoinHandle<()>,
}

impl Reflector {
    /// Starts on 127.0.0.1:0, serving `cert` over TLS.
    pub async fn start(cert: &crate::tls::TestCert) -> Reflector {
        let acceptor = cert.acceptor();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, log).await;
                    }
                });
            }
        });
        Reflector { addr, seen, task }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The headers (lower-case name, value) of every request received, in order.
    pub fn requests(&self) -> Vec<Headers> {
        self.seen.lock().unwrap().clone()
    }

    /// The value of `name` on the last request received.
    pub fn last_header(&self, name: &str) -> Option<String> {
        let seen = self.seen.lock().unwrap();
        seen.last()?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, log: Log) {
    let mut buf = Vec::new();
    loop {
        let Some(head_end) = crate::origin::read_head(&mut s, &mut buf).await else {
            return;
        };
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut slots);
        if req.parse(&buf[..head_end]).is_err() {
            return;
        }
        let target = req.path.unwrap_or("/").to_owned();
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        buf.drain(..head_end);
        while buf.len() < length {
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..length);
        log.lock().unwrap().push(headers.clone());
        if respond(&mut s, &target, &headers).await.is_err() {
            return;
        }
    }
}

/// Every reflected form of every header value, as one body.
fn reflect_body(headers: &[(String, String)]) -> Vec<u8> {
    let std64 = base64::engine::general_purpose::STANDARD;
    let url64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut body = Vec::new();
    let json: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
        .collect();
    body.extend_from_slice(serde_json::Value::Object(json).to_string().as_bytes());
    for (name, value) in headers {
        let v = value.as_bytes();
        writeln!(body, "\nraw {name}: {value}").unwrap();
        writeln!(body, "b64 {}", std64.encode(v)).unwrap();
        writeln!(body, "b64url {}", url64.encode(v)).unwrap();
        for prefix in 0..3 {
            let mut blob = vec![b'#'; prefix + 5];
            blob.extend_from_slice(b"{\"config\":\"");
            blob.extend_from_slice(v);
            blob.extend_from_slice(b"\",\"more\":[1,2,3]}");
            writeln!(body, "blob{prefix} {}", std64.encode(&blob)).unwrap();
            writeln!(body, "blobu{prefix} {}", url64.encode(&blob)).unwrap();
        }
        let url: String = v
            .iter()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (*b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        writeln!(body, "url {url}").unwrap();
        writeln!(body, "hex {}", hex(v)).unwrap();
        writeln!(body, "json {}", serde_json::Value::String(value.clone())).unwrap();
    }
    body
}

/// 64 MiB of zeros, gzipped (about 64 KiB): a decompression bomb.
fn bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..64 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap()
    })
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

async fn respond<S: AsyncWrite + Unpin>(
    s: &mut S,
    target: &str,
    headers: &[(String, String)],
) -> std::io::Result<()> {
    let std64 = base64::engine::general_purpose::STANDARD;
    if target.starts_with("/bomb") {
        let body = bomb();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        return s.flush().await;
    }
    let reason = if target.starts_with("/reason") {
        // An error message quoting what it was sent, in the status line.
        headers
            .iter()
            .map(|(_, v)| v.chars().filter(|c| !c.is_control()).collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        "OK".to_owned()
    };
    let mut head = format!("HTTP/1.1 200 {reason}\r\ncontent-type: text/plain\r\n");
    for (name, value) in headers {
        if name == "host" || name == "content-length" {
            continue;
        }
        let clean: String = value.chars().filter(|c| !c.is_control()).collect();
        head.push_str(&format!("set-cookie: {name}={clean}; Path=/\r\n"));
        head.push_str(&format!(
            "x-reflect-b64-{name}: {}\r\n",
            std64.encode(value.as_bytes())
        ));
        head.push_str(&format!(
            "x-reflect-hex-{name}: {}\r\n",
            hex(value.as_bytes())
        ));
        let url: String = value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect();
        head.push_str(&format!(
            "location: https://elsewhere.example/?{name}={url}\r\n"
        ));
    }
    head.push_str("x-innocent: stays\r\n");
    let mut body = reflect_body(headers);
    if target.starts_with("/gzip") {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&body)?;
        body = enc.finish()?;
        head.push_str("content-encoding: gzip\r\n");
    } else if target.starts_with("/compress") {
        head.push_str("content-encoding: compress\r\n");
    }
    if target.starts_with("/trailers") {
        head.push_str("transfer-encoding: chunked\r\ntrailer: x-reflect-trailer\r\n\r\n");
        s.write_all(head.as_bytes()).await?;
        // Small chunks, so a value straddles chunk boundaries.
        for chunk in body.chunks(7) {
            s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            s.write_all(chunk).await?;
            s.write_all(b"\r\n").await?;
            s.flush().await?;
        }
        let trailer = headers
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join("|");
        let trailer: String = trailer.chars().filter(|c| !c.is_control()).collect();
        s.write_all(format!("0\r\nx-reflect-trailer: {trailer}\r\n\r\n").as_bytes())
            .await?;
    } else {
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        s.write_all(head.as_bytes()).await?;
        s.write_all(&body).await?;
    }
    s.flush().await
}
