//! Scenario `sds-fanout`: N simulated Envoy streams on one secret; rotate it; how long until
//! every stream has received and ACKed the new version, and what an idle stream costs the
//! server.
//!
//! ```text
//! trust-edge sds-server (child process: its RSS is the server's alone)
//!   ▲ unix socket, C HTTP/2 connections, N StreamSecrets streams (one per simulated Envoy
//!   │ node: SotW, one name, like Envoy without ADS); each ACKs every response at once
//! loadtests ── atomic rename of the secret file (t0) ──▶ watcher ─ debounce ─▶ push to N
//! ```
//!
//! Per rotation: `receive` is t0 → a stream's response (so it includes the file watch and the
//! debounce); `spread` is first → last stream's response (the fan-out itself); `all_acked` is
//! t0 → the server's `trust_edge_sds_acks_total` counting every stream's ACK (polled every
//! 5 ms). Memory per idle stream is the server's RSS growth after N streams opened and ACKed,
//! divided by N.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_client::SecretDiscoveryServiceClient;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Uri};

use crate::Error;
use crate::process::{ChildProc, Pin, free_port};
use crate::report::Check;
use crate::revocation::Stats;

#[cfg(test)]
mod tests;

/// The claim checked: p99 from the file rename to a stream's response, in ms.
pub const FANOUT_P99_BOUND_MS: f64 = 500.0;
const SECRET: &str = "fanout-key";
const TYPE_URL: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Simulated Envoy streams.
    pub streams: usize,
    /// HTTP/2 connections the streams share.
    pub connections: usize,
    /// Rotations measured.
    pub rotations: usize,
    /// The file source's debounce.
    pub debounce: Duration,
    /// How long one rotation may take to reach every stream.
    pub timeout: Duration,
    /// The trust-edge binary.
    pub edge_bin: PathBuf,
}

/// The scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct SdsFanoutReport {
    /// `sds-fanout`.
    pub scenario: String,
    /// Streams, connections, rotations, debounce.
    pub settings: serde_json::Value,
    /// File rename → a stream's response, every stream, every rotation.
    pub receive: Stats,
    /// Per rotation: first → last stream's response.
    pub spread: Stats,
    /// Per rotation: file rename → the last stream's response.
    pub all_received: Stats,
    /// Per rotation: file rename → the server has counted every stream's ACK.
    pub all_acked: Stats,
    /// Server RSS before the streams opened, KiB.
    pub server_rss_idle_kib: u64,
    /// Server RSS with every stream open and idle, KiB.
    pub server_rss_streams_kib: u64,
    /// (RSS with streams − RSS before) / streams, bytes.
    pub bytes_per_idle_stream: u64,
    /// Pass/fail claims.
    pub checks: Vec<Check>,
    /// Remarks.
    pub notes: Vec<String>,
}

/// One response seen by one stream.
#[derive(Debug)]
struct Seen {
    stream: usize,
    version: String,
    at: Instant,
}

/// Runs the scenario on its own tokio runtime.
///
/// # Errors
/// [`Error`] if the server cannot start, a stream fails, or a rotation misses the timeout.
pub fn run(options: &Options) -> Result<SdsFanoutReport, Error> {
    if options.streams == 0 || options.connections == 0 || options.rotations == 0 {
        return Err(Error::Config(
            "--streams, --connections and --rotations must be positive".into(),
        ));
    }
    if !options.edge_bin.exists() {
        return Err(Error::MissingBinary(options.edge_bin.clone()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::io("building the runtime"))?;
    runtime.block_on(scenario(options))
}

fn write_atomic(dir: &Path, name: &str, contents: &str) -> Result<(), Error> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).map_err(Error::io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, dir.join(name)).map_err(Error::io(format!("renaming into {name}")))
}

async fn scenario(options: &Options) -> Result<SdsFanoutReport, Error> {
    let dir = tempfile::tempdir().map_err(Error::io("creating a temp dir"))?;
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).map_err(Error::io("creating the secrets dir"))?;
    write_atomic(&secrets, "key", "rotation-0")?;
    write_atomic(
        &secrets,
        "manifest.yaml",
        &format!("secrets:\n  - {{name: {SECRET}, kind: generic_secret, file: key}}\n"),
    )?;
    let admin: std::net::SocketAddr = ([127, 0, 0, 1], free_port()?).into();
    let config = dir.path().join("sds.toml");
    let data = dir.path().join("data");
    let toml = format!(
        "data_dir = {:?}\nadmin_listen = \"{admin}\"\n[files]\ndir = {:?}\ndebounce = \"{}ms\"\n",
        data.display().to_string(),
        secrets.display().to_string(),
        options.debounce.as_millis()
    );
    std::fs::write(&config, toml).map_err(Error::io("writing the server config"))?;
    let args = vec![
        "sds-server".into(),
        "--config".into(),
        config.clone().into_os_string(),
    ];
    let mut server = ChildProc::spawn(
        "sds-server",
        &options.edge_bin,
        &args,
        &dir.path().join("sds-server.log"),
        Pin::None,
    )?;
    server.wait_ready(admin, Duration::from_secs(30))?;
    let socket = data.join("sds.sock");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle = rss_kib(server.pid())?;

    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<Seen>();
    let mut channels = Vec::new();
    for _ in 0..options.connections {
        channels.push(connect(&socket).await?);
    }
    let mut tasks = Vec::new();
    for i in 0..options.streams {
        let channel = channels
            .get(i % channels.len())
            .cloned()
            .ok_or_else(|| Error::Config("no connection".into()))?;
        tasks.push(tokio::spawn(stream(channel, i, seen_tx.clone())));
    }
    drop(seen_tx);
    let first = gather(&mut seen_rx, options.streams, "", options.timeout)
        .await?
        .first()
        .map(|s| s.version.clone())
        .unwrap_or_default();
    let mut acks = options.streams as u64;
    wait_acks(admin, acks, options.timeout).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_streams = rss_kib(server.pid())?;

    let mut receive = Vec::new();
    let mut spread = Vec::new();
    let mut all_received = Vec::new();
    let mut all_acked = Vec::new();
    let mut version = first;
    for round in 1..=options.rotations {
        let tmp = secrets.join(".key.tmp");
        std::fs::write(&tmp, format!("rotation-{round}"))
            .map_err(Error::io("writing the rotation"))?;
        let t0 = Instant::now();
        std::fs::rename(&tmp, secrets.join("key")).map_err(Error::io("rotating the secret"))?;
        let seen = gather(&mut seen_rx, options.streams, &version, options.timeout).await?;
        let (Some(earliest), Some(latest)) = (
            seen.iter().map(|s| s.at).min(),
            seen.iter().map(|s| s.at).max(),
        ) else {
            return Err(Error::Config("no responses".into()));
        };
        receive.extend(seen.iter().map(|s| s.at.saturating_duration_since(t0)));
        spread.push(latest.saturating_duration_since(earliest));
        all_received.push(latest.saturating_duration_since(t0));
        acks += options.streams as u64;
        wait_acks(admin, acks, options.timeout).await?;
        all_acked.push(t0.elapsed());
        version = seen.first().map(|s| s.version.clone()).unwrap_or_default();
    }
    for t in tasks {
        t.abort();
    }
    server.stop();

    let receive = Stats::of(&receive);
    let per_stream =
        (rss_streams.saturating_sub(rss_idle)).saturating_mul(1024) / options.streams as u64;
    let checks = vec![Check {
        claim: format!(
            "{} streams all receive a rotation with p99 under {FANOUT_P99_BOUND_MS} ms",
            options.streams
        ),
        passed: receive.p99_ms < FANOUT_P99_BOUND_MS
            && receive.samples == options.streams * options.rotations,
        detail: format!("p99 {} ms over {} samples", receive.p99_ms, receive.samples),
    }];
    Ok(SdsFanoutReport {
        scenario: "sds-fanout".into(),
        settings: json!({
            "streams": options.streams,
            "connections": options.connections,
            "rotations": options.rotations,
            "debounce_ms": options.debounce.as_millis(),
        }),
        receive,
        spread: Stats::of(&spread),
        all_received: Stats::of(&all_received),
        all_acked: Stats::of(&all_acked),
        server_rss_idle_kib: rss_idle,
        server_rss_streams_kib: rss_streams,
        bytes_per_idle_stream: per_stream,
        checks,
        notes: vec![
            "receive and all_* include the file watch and the debounce; spread is the fan-out alone".into(),
            "memory per stream is RSS growth / streams: allocator-dependent, an estimate".into(),
        ],
    })
}

async fn connect(socket: &Path) -> Result<Channel, Error> {
    let socket = socket.to_path_buf();
    tonic::transport::Endpoint::from_static("http://sds.loadtest")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                tokio::net::UnixStream::connect(socket)
                    .await
                    .map(TokioIo::new)
            }
        }))
        .await
        .map_err(|e| Error::Config(format!("connecting to the sds server: {e}")))
}

/// One simulated Envoy stream: subscribe, then ACK every response and report it.
async fn stream(
    channel: Channel,
    index: usize,
    seen: mpsc::UnboundedSender<Seen>,
) -> Result<(), String> {
    let mut client = SecretDiscoveryServiceClient::new(channel);
    let (tx, rx) = mpsc::channel(4);
    let names = vec![SECRET.to_owned()];
    let first = DiscoveryRequest {
        node: Some(Node {
            id: format!("sim-envoy-{index}"),
            ..Default::default()
        }),
        resource_names: names.clone(),
        type_url: TYPE_URL.to_owned(),
        ..Default::default()
    };
    tx.send(first).await.map_err(|e| e.to_string())?;
    let mut inbound = client
        .stream_secrets(ReceiverStream::new(rx))
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    while let Some(response) = inbound.message().await.map_err(|e| e.to_string())? {
        let at = Instant::now();
        let ack = DiscoveryRequest {
            version_info: response.version_info.clone(),
            resource_names: names.clone(),
            type_url: TYPE_URL.to_owned(),
            response_nonce: response.nonce,
            ..Default::default()
        };
        tx.send(ack).await.map_err(|e| e.to_string())?;
        let _ = seen.send(Seen {
            stream: index,
            version: response.version_info,
            at,
        });
    }
    Ok(())
}

/// Collects one response per stream whose version differs from `previous`.
async fn gather(
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    streams: usize,
    previous: &str,
    timeout: Duration,
) -> Result<Vec<Seen>, Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut got: Vec<Option<Seen>> = (0..streams).map(|_| None).collect();
    let mut count = 0;
    while count < streams {
        let next = tokio::time::timeout_at(deadline, rx.recv()).await;
        let seen = match next {
            Ok(Some(seen)) => seen,
            Ok(None) => return Err(Error::Config("every stream ended".into())),
            Err(_) => {
                return Err(Error::Config(format!(
                    "only {count} of {streams} streams received the version within {timeout:?}"
                )));
            }
        };
        if seen.version == previous {
            continue;
        }
        if let Some(slot) = got.get_mut(seen.stream)
            && slot.is_none()
        {
            *slot = Some(seen);
            count += 1;
        }
    }
    Ok(got.into_iter().flatten().collect())
}

/// Polls the server's ACK counter until it reaches `want`.
async fn wait_acks(admin: std::net::SocketAddr, want: u64, timeout: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = get(admin, "/metrics").await?;
        let acks = text
            .lines()
            .find_map(|l| l.strip_prefix("trust_edge_sds_acks_total{api=\"sotw\"} "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if acks >= want as f64 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Config(format!(
                "the server counted {acks} of {want} ACKs within {timeout:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Result<String, Error> {
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(Error::io("connecting to the sds admin"))?;
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: sds\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(Error::io("writing to the sds admin"))?;
    let mut out = Vec::new();
    tcp.read_to_end(&mut out)
        .await
        .map_err(Error::io("reading the sds admin"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A process's resident set size from `/proc/<pid>/status`, KiB.
fn rss_kib(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(Error::io("reading the server's /proc status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Config("no VmRSS in /proc status".into()))
}

/// The report as a table.
pub fn render_table(report: &SdsFanoutReport) -> String {
    let row = |name: &str, s: &Stats| {
        format!(
            "{name:<14} {:>7} {:>9.1} {:>9.1} {:>9.1}\n",
            s.samples, s.p50_ms, s.p99_ms, s.max_ms
        )
    };
    let setting = |key: &str| {
        report
            .settings
            .get(key)
            .map(ToString::to_string)
            .unwrap_or_default()
    };
    let mut out = format!(
        "sds-fanout: {} streams over {} connections, {} rotations, debounce {} ms\n",
        setting("streams"),
        setting("connections"),
        setting("rotations"),
        setting("debounce_ms")
    );
    out.push_str(&format!(
        "{:<14} {:>7} {:>9} {:>9} {:>9}\n",
        "", "samples", "p50 ms", "p99 ms", "max ms"
    ));
    out.push_str(&row("receive", &report.receive));
    out.push_str(&row("spread", &report.spread));
    out.push_str(&row("all received", &report.all_received));
    out.push_str(&row("all acked", &report.all_acked));
    out.push_str(&format!(
        "server RSS: {} KiB idle, {} KiB with streams: ~{} bytes per idle stream\n",
        report.server_rss_idle_kib, report.server_rss_streams_kib, report.bytes_per_idle_stream
    ));
    for check in &report.checks {
        out.push_str(&format!(
            "{} {} ({})\n",
            if check.passed { "PASS" } else { "FAIL" },
            check.claim,
            check.detail
        ));
    }
    out
}
