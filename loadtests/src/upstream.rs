//! The upstream every target forwards to: nginx as a child with a generated config, or an
//! in-process Rust server when nginx is missing (and in tests).
//!
//! The pieces any upstream is built from are shared with the HTTPS origin of `bump-inject`:
//! [`ServerThread`] (a listener served on its own thread until dropped), [`answer_requests`]
//! (one answer per request head), [`nginx_config_with`] and [`launch_nginx`].

#[cfg(test)]
mod tests;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::process::{ChildProc, Pin};

/// Bodies up to this size are written inline in nginx's `return`; larger ones are served from
/// a file (nginx's config tokens are limited by its 4 KiB parse buffer).
const INLINE_BODY_MAX: usize = 2048;
/// How long nginx gets to start listening.
const NGINX_READY: Duration = Duration::from_secs(10);
/// Headers parsed per request.
const MAX_HEADERS: usize = 48;
/// Largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

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
    server: ServerThread,
}

impl InProcess {
    /// Binds `127.0.0.1:0` and serves `behaviour` until dropped.
    ///
    /// # Errors
    /// Binding or building the runtime failed.
    pub fn start(behaviour: Behaviour) -> Result<Self, Error> {
        let response: Arc<[u8]> = render_response(behaviour).into();
        let close = behaviour.close_after_response;
        let server = ServerThread::start("upstream", move |stream| {
            let response = Arc::clone(&response);
            async move {
                let _ = stream.set_nodelay(true);
                answer_requests(stream, close, |_| &response[..]).await;
            }
        })?;
        Ok(Self { server })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// A `127.0.0.1:0` listener served on its own thread and current-thread runtime, each
/// accepted connection on a task of its own; stops on drop.
pub struct ServerThread {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Binds `127.0.0.1:0` and hands every accepted connection to `serve` (on a new task)
    /// until dropped; the thread is called `name`.
    ///
    /// # Errors
    /// Binding, building the runtime or spawning the thread failed.
    pub fn start<F, Fut>(name: &str, serve: F) -> Result<Self, Error>
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
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
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || runtime.block_on(accept_loop(listener, serve, stop)))
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

impl Drop for ServerThread {
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

async fn accept_loop<F, Fut>(listener: TcpListener, serve: F, mut stop: oneshot::Receiver<()>)
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve(stream));
                }
            }
        }
    }
}

/// Answers every complete request head on the connection with the bytes `answer` picks for
/// it (request bodies are not expected); with `close`, stops after the first answer. Gives up
/// on a malformed head or one larger than [`MAX_HEAD_BYTES`].
pub async fn answer_requests<'a, S, F>(mut stream: S, close: bool, mut answer: F)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(&httparse::Request<'_, '_>) -> &'a [u8],
{
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        buf.reserve(8192);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = httparse::Request::new(&mut headers);
            let consumed = match request.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => break,
                Ok(httparse::Status::Partial) | Err(_) => return,
            };
            let response = answer(&request);
            buf.drain(..consumed);
            if stream.write_all(response).await.is_err() || stream.flush().await.is_err() || close {
                return;
            }
        }
    }
}

/// Renders the nginx config: one worker, no master, no access log, one server on `port`
/// answering `200` with `body_bytes` bytes of `x`, temp paths under `dir`.
pub fn nginx_config(dir: &Path, port: u16, body_bytes: usize) -> String {
    let location = if body_bytes <= INLINE_BODY_MAX {
        format!(
            "location / {{ default_type text/plain; return 200 \"{}\"; }}",
            "x".repeat(body_bytes)
        )
    } else {
        format!(
            "location / {{ default_type text/plain; root {}/www; try_files /body =404; }}",
            dir.display()
        )
    };
    nginx_config_with(
        dir,
        &format!("\x20   listen 127.0.0.1:{port};\n\x20   {location}\n"),
    )
}

/// The nginx config every upstream shares (one worker, no master, no access log, temp paths
/// under `dir`, keep-alive without limits) around one `server` block whose inner lines are
/// `server`.
pub fn nginx_config_with(dir: &Path, server: &str) -> String {
    let dir = dir.display();
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
         {server}\
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
    launch_nginx(bin, dir, &nginx_config(dir, port, body_bytes), port, pin)
}

/// Writes `config` to `<dir>/nginx.conf`, starts nginx from `bin` on it (prefix `dir`, output
/// in `<dir>/nginx.out`) and waits until `port` listens.
///
/// # Errors
/// Writing the config, spawning, or readiness failed.
pub fn launch_nginx(
    bin: &Path,
    dir: &Path,
    config: &str,
    port: u16,
    pin: Pin,
) -> Result<ChildProc, Error> {
    std::fs::create_dir_all(dir).map_err(Error::io("creating the nginx dir"))?;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config).map_err(Error::io("writing nginx.conf"))?;
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
