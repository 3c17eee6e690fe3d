//! The HTTPS upstream every target reaches: nginx with TLS as a child, or an in-process rustls
//! server (when nginx is missing, and in tests). Either answers `200` with the body only when
//! the request carries `x-api-key: <the secret>`, and `403` otherwise, so every 200 a bumping
//! target returns proves the credential was injected.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::error::Error;
use crate::process::{ChildProc, Pin};
use crate::upstream::{self, ServerThread, answer_requests};

/// The header the credential travels in.
pub const KEY_HEADER: &str = "x-api-key";

/// Requests the in-process upstream answered, by whether they carried the secret.
#[derive(Debug, Default)]
pub struct Seen {
    /// Requests with `x-api-key` equal to the secret (answered 200).
    pub with_key: AtomicU64,
    /// Requests without it (answered 403).
    pub without_key: AtomicU64,
}

/// An HTTPS keep-alive server on its own thread and runtime; stops on drop.
pub struct TlsOrigin {
    server: ServerThread,
    seen: Arc<Seen>,
}

impl TlsOrigin {
    /// Binds `127.0.0.1:0` and serves with `config` until dropped.
    ///
    /// # Errors
    /// Binding or building the runtime failed.
    pub fn start(
        config: Arc<ServerConfig>,
        secret: &str,
        body_bytes: usize,
    ) -> Result<Self, Error> {
        let seen = Arc::new(Seen::default());
        let answers = Arc::new(Answers::new(secret, body_bytes, Arc::clone(&seen)));
        let acceptor = TlsAcceptor::from(config);
        let server = ServerThread::start("tls-upstream", move |stream| {
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let answers = Arc::clone(&answers);
            async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    answer_requests(tls, false, |request| answers.pick(request)).await;
                }
            }
        })?;
        Ok(Self { server, seen })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// What it has answered so far.
    pub fn seen(&self) -> &Seen {
        &self.seen
    }
}

/// The two pre-rendered answers and the secret that selects between them.
struct Answers {
    secret: Vec<u8>,
    ok: Vec<u8>,
    forbidden: Vec<u8>,
    seen: Arc<Seen>,
}

impl Answers {
    fn new(secret: &str, body_bytes: usize, seen: Arc<Seen>) -> Self {
        let mut ok = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body_bytes}\r\n\r\n"
        )
        .into_bytes();
        ok.resize(ok.len() + body_bytes, b'x');
        Self {
            secret: secret.as_bytes().to_vec(),
            ok,
            forbidden: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_vec(),
            seen,
        }
    }

    /// The answer for `request` (200 with the body only with the secret), counted.
    fn pick(&self, request: &httparse::Request<'_, '_>) -> &[u8] {
        let keyed = request
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(KEY_HEADER) && h.value == self.secret);
        if keyed {
            self.seen.with_key.fetch_add(1, Ordering::Relaxed);
            &self.ok
        } else {
            self.seen.without_key.fetch_add(1, Ordering::Relaxed);
            &self.forbidden
        }
    }
}

/// Renders the nginx config: one worker, no master, no access log, TLS on `port` with the
/// given certificate, `200` + `body_bytes` bytes of `x` only with the right `x-api-key`.
/// `secret` must be URL-safe text (it is written into the config).
pub fn nginx_config(
    dir: &Path,
    port: u16,
    cert: &Path,
    key: &Path,
    secret: &str,
    body_bytes: usize,
) -> String {
    let body = "x".repeat(body_bytes);
    let server = format!(
        "\x20   listen 127.0.0.1:{port} ssl;\n\
         \x20   ssl_certificate {cert};\n\
         \x20   ssl_certificate_key {key};\n\
         \x20   ssl_protocols TLSv1.2 TLSv1.3;\n\
         \x20   location / {{\n\
         \x20     default_type text/plain;\n\
         \x20     if ($http_x_api_key != \"{secret}\") {{ return 403; }}\n\
         \x20     return 200 \"{body}\";\n\
         \x20   }}\n",
        cert = cert.display(),
        key = key.display(),
    );
    upstream::nginx_config_with(dir, &server)
}

/// Starts nginx from `bin` with TLS, its files in `dir`, and waits until it listens.
///
/// # Errors
/// Writing the config, spawning, or readiness failed.
pub fn start_nginx(
    bin: &Path,
    dir: &Path,
    port: u16,
    (cert, key): (&Path, &Path),
    secret: &str,
    body_bytes: usize,
    pin: Pin,
) -> Result<ChildProc, Error> {
    let config = nginx_config(dir, port, cert, key, secret, body_bytes);
    upstream::launch_nginx(bin, dir, &config, port, pin)
}
