//! The upstream every target forwards to: nginx as a child with a generated config, or an
//! in-process Rust server when nginx is missing (and in tests).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::process::{ChildProc, Pin};

/// Bodies up to this size are written inline in nginx's `return`; larger ones are served from
/// a file (nginx's config tokens are limited by its 4 KiB parse buffer).
const INLINE_BODY_MAX: usize = 2048;
/// How long nginx gets to start listening.
const NGINX_READY: Duration = Duration::from_secs(10);

/// How the in-process upstream answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    /// Body length of every response (bytes of `x`).
    pub body_bytes: usize,
    /// Status of every response.
    pub status: u16,
    /// Close the connection after each response without saying so (as tinyproxy does).
    pub close_after_response: bool,
}

impl Behaviour {
    /// `200` with `body_bytes` bytes, keep-alive.
    pub fn ok(body_bytes: usize) -> Self {
        Self {
            body_bytes,
            status: 200,
            close_after_response: false,
        }
    }
}

/// A keep-alive HTTP/1.1 server on its own thread and current-thread runtime; stops on drop.
pub struct InProcess {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl InProcess {
    /// Binds `127.0.0.1:0` and serves `behaviour` until dropped.
    ///
    /// # Errors
    /// Binding or building the runtime failed.
    pub fn start(behaviour: Behaviour) -> Result<Self, Error> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(Error::io("binding the upstream"))?;
        let addr = listener
            .local_addr()
            .map_err(Error::io("reading the upstream address"))?;
        listener
            .set_nonblocking(true)
            .map_err(Error::io("configuring the upstream listener"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::io("building the upstream runtime"))?;
        let (shutdown, stop) = oneshot::channel();
        let response = render_response(behaviour);
        let thread = std::thread::Builder::new()
            .name("upstream".into())
            .spawn(move || runtime.block_on(serve(listener, response, behaviour, stop)))
            .map_err(Error::io("spawning the upstream thread"))?;
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn render_response(behaviour: Behaviour) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 {} OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        behaviour.status, behaviour.body_bytes
    )
    .into_bytes();
    response.resize(response.len() + behaviour.body_bytes, b'x');
    response
}

async fn serve(
    listener: TcpListener,
    response: Vec<u8>,
    behaviour: Behaviour,
    mut stop: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let response: std::sync::Arc<[u8]> = response.into();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let response = std::sync::Arc::clone(&response);
                    tokio::spawn(serve_conn(stream, response, behaviour.close_after_response));
                }
            }
        }
    }
}

/// Answers every complete request head on the connection (request bodies are not expected).
async fn serve_conn(
    mut stream: tokio::net::TcpStream,
    response: std::sync::Arc<[u8]>,
    close: bool,
) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        buf.reserve(8192);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            let consumed = match request.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => break,
                Err(_) => return,
            };
            buf.drain(..consumed);
            if stream.write_all(&response).await.is_err() || close {
                return;
            }
        }
    }
}

/// Renders the nginx config: one worker, no master, no access log, one server on `port`
/// answering `200` with `body_bytes` bytes of `x`, temp paths under `dir`.
pub fn nginx_config(dir: &Path, port: u16, body_bytes: usize) -> String {
    let dir = dir.display();
    let location = if body_bytes <= INLINE_BODY_MAX {
        format!(
            "location / {{ default_type text/plain; return 200 \"{}\"; }}",
            "x".repeat(body_bytes)
        )
    } else {
        format!("location / {{ default_type text/plain; root {dir}/www; try_files /body =404; }}")
    };
    format!(
        "worker_processes 1;\n\
         daemon off;\n\
         master_process off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/nginx-error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 client_body_temp_path {dir}/body;\n\
         \x20 proxy_temp_path {dir}/proxy;\n\
         \x20 fastcgi_temp_path {dir}/fastcgi;\n\
         \x20 uwsgi_temp_path {dir}/uwsgi;\n\
         \x20 scgi_temp_path {dir}/scgi;\n\
         \x20 keepalive_requests 1000000000;\n\
         \x20 keepalive_timeout 300s;\n\
         \x20 server {{\n\
         \x20   listen 127.0.0.1:{port};\n\
         \x20   {location}\n\
         \x20 }}\n\
         }}\n"
    )
}

/// Starts nginx from `bin` with a generated config in `dir`, waits until it listens.
///
/// # Errors
/// Writing the config, spawning, or readiness failed.
pub fn start_nginx(
    bin: &Path,
    dir: &Path,
    port: u16,
    body_bytes: usize,
    pin: Pin,
) -> Result<ChildProc, Error> {
    std::fs::create_dir_all(dir.join("www")).map_err(Error::io("creating the nginx dir"))?;
    if body_bytes > INLINE_BODY_MAX {
        std::fs::write(dir.join("www/body"), "x".repeat(body_bytes))
            .map_err(Error::io("writing the nginx body"))?;
    }
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_config(dir, port, body_bytes))
        .map_err(Error::io("writing nginx.conf"))?;
    let args = [
        "-p".into(),
        dir.as_os_str().to_owned(),
        "-e".into(),
        dir.join("nginx-error.log").into_os_string(),
        "-c".into(),
        conf.into_os_string(),
    ];
    let mut child = ChildProc::spawn("nginx", bin, &args, &dir.join("nginx.out"), pin)?;
    child.wait_ready(SocketAddr::from(([127, 0, 0, 1], port)), NGINX_READY)?;
    Ok(child)
}
