//! `trust-edge up` and `trust-edge edge-proxy`: build the edge's config from a file, flags and
//! embedded defaults, run it, and stop it on Ctrl-C / SIGTERM.

use anyhow::Context;
use clap::Args;
use edge_proxy::config::{FileConfig, validate};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The shipped default policy, used when no policy directory is at hand.
const EMBEDDED_POLICY: &str = include_str!("../../policies/default/sandbox-default.yaml");

/// Flags shared by `up` and `edge-proxy`; each overrides the config file.
#[derive(Debug, Args)]
pub(crate) struct EdgeFlags {
    /// A TOML config file (every key optional; see docs/config.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (keys, JWKS, audit log).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Policy directory.
    #[arg(long)]
    policy_dir: Option<PathBuf>,
    /// Proxy listen address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Admin listen address.
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// A nameserver (ip or ip:port); repeat for several. Without any, the system's are used.
    #[arg(long = "nameserver")]
    nameservers: Vec<String>,
    /// Follow this control plane (`https://host:port` or `unix:/path`); its pushed JWKS is then
    /// the only key source.
    #[arg(long)]
    control: Option<String>,
    /// Directory with control's CA (`ca.pem`) and this edge's client certificate (`edge.pem`,
    /// `edge.key`), for an https control.
    #[arg(long)]
    control_tls_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    flags: EdgeFlags,
    /// Control's HTTP API address.
    #[arg(long, default_value = control::defaults::API_LISTEN)]
    api_listen: SocketAddr,
    /// Control's sync (mutual TLS) address the edge follows.
    #[arg(long, default_value = control::defaults::SYNC_LISTEN)]
    sync_listen: SocketAddr,
    /// The SDS server's admin address (/metrics, /debug/sds); it serves SDS on a Unix socket
    /// in the data dir.
    #[arg(long, default_value_t = sds_server::defaults::ADMIN_LISTEN)]
    sds_admin_listen: SocketAddr,
}

#[derive(Debug, Args)]
pub(crate) struct EdgeProxyArgs {
    #[command(flatten)]
    flags: EdgeFlags,
}

fn file_config(flags: &EdgeFlags) -> anyhow::Result<FileConfig> {
    let mut file: FileConfig = match &flags.config {
        Some(path) => super::read_toml(path)?,
        None => FileConfig::default(),
    };
    if flags.data_dir.is_some() {
        file.data_dir = flags.data_dir.clone();
    }
    if flags.policy_dir.is_some() {
        file.policy_dir = flags.policy_dir.clone();
    }
    if let Some(a) = flags.listen {
        file.proxy.listen = Some(a.to_string());
    }
    if let Some(a) = flags.admin_listen {
        file.admin.listen = Some(a.to_string());
    }
    if flags.control.is_some() {
        file.control.url = flags.control.clone();
    }
    if flags.control_tls_dir.is_some() {
        file.control.tls_dir = flags.control_tls_dir.clone();
    }
    if !flags.nameservers.is_empty() {
        file.resolver.nameservers = Some(flags.nameservers.clone());
    }
    if file.resolver.nameservers.is_none() && file.resolver.use_system_config.is_none() {
        file.resolver.use_system_config = Some(true);
    }
    Ok(file)
}

fn validated(file: FileConfig) -> anyhow::Result<edge_proxy::Config> {
    validate(file).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid configuration:\n  {}", lines.join("\n  "))
    })
}

/// `trust-edge up`: control and an edge following it, with embedded defaults.
pub(crate) async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let mut file = file_config(&args.flags)?;
    let data_dir = file
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(edge_proxy::defaults::DATA_DIR));
    if file.policy_dir.is_none() && !Path::new(edge_proxy::defaults::POLICY_DIR).is_dir() {
        let dir = data_dir.join("policies");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("sandbox-default.yaml"), EMBEDDED_POLICY)?;
        file.policy_dir = Some(dir);
    }
    let policy_dir = file
        .policy_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(edge_proxy::defaults::POLICY_DIR));
    let mut plane = control::Config::new(&data_dir, &policy_dir);
    plane.api_listen = args.api_listen;
    plane.sync_listen = args.sync_listen;
    if let Some(listen) = &file.proxy.listen {
        plane.proxy_url = format!("http://{listen}");
    }
    let ca_bundle = bump_ca(&mut file, &data_dir)?;
    plane.bump_ca_bundle.clone_from(&ca_bundle);
    let control = control::run(plane).await?;
    let sds = start_sds(&data_dir, args.sds_admin_listen).await?;
    if let Some(socket) = sds.handle.socket_path() {
        file.secrets
            .sds
            .get_or_insert_with(|| format!("unix:{}", socket.display()));
    }
    // The edge follows control over mutual TLS (control's CA pinned, a client certificate issued
    // by it); with a control, the edge trusts only the keys control pushes.
    let tls_dir = data_dir.join("edges").join("local");
    control.issue_edge_cert("local", &tls_dir)?;
    file.control.url = Some(control.sync_url());
    file.control.tls_dir = Some(tls_dir);
    file.control
        .edge_id
        .get_or_insert_with(|| "local".to_owned());
    let config = validated(file)?;
    let audit_path = config.data_dir.join(&config.audit.file_name);
    let edge = edge_proxy::run(config).await?;
    if !edge.wait_ready(std::time::Duration::from_secs(10)).await {
        eprintln!(
            "warning: the edge has no snapshot from control yet; it answers edge_not_ready until it does"
        );
    }
    let proxy = edge.proxy_addr();
    let tokens = control.api_token_files();
    println!("trust-edge is up");
    println!("  proxy     http://{proxy}");
    println!(
        "  admin     http://{}/metrics  /healthz  /readyz",
        edge.admin_addr()
    );
    println!("  control   {}", control.api_url());
    println!(
        "  tokens    {} {}",
        tokens.orchestrator.display(),
        tokens.operator.display()
    );
    let hash = edge.policy_hash();
    println!(
        "  policies  {} (hash {})",
        policy_dir.display(),
        hash.get(..12).unwrap_or_default()
    );
    println!("  audit     {}", audit_path.display());
    if let Some(bundle) = &ca_bundle {
        println!(
            "  bump CA   {} (sandboxes trust it: trust-edge ca env)",
            bundle.display()
        );
    }
    if let Some(socket) = sds.handle.socket_path() {
        println!(
            "  sds       unix:{} (secrets manifest in {}; admin http://{}/metrics)",
            socket.display(),
            data_dir.join("secrets").display(),
            sds.handle.admin_addr()
        );
    }
    println!();
    println!("Route a sandbox through it:");
    println!(
        "  TOKEN=$(trust-edge session create --api {} --data-dir {} --profile sandbox-default --token-only)",
        control.api_url(),
        data_dir.display()
    );
    println!(
        "  export HTTPS_PROXY=http://session:$TOKEN@{proxy} HTTP_PROXY=http://session:$TOKEN@{proxy}"
    );
    println!("  curl -sS https://pypi.org/simple/ -o /dev/null -w '%{{http_code}}\\n'");
    super::wait_for_signal().await;
    edge.stop().await;
    control.stop().await;
    sds.handle.stop().await;
    if let Err(e) = sds.audit.close().await {
        eprintln!("warning: the SDS audit log did not close cleanly: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The deployment CA for the bump rung: unless the config names one (a directory or an SDS
/// secret), `up` creates it in `<data_dir>/ca` on first run. Returns the bundle sandboxes trust.
fn bump_ca(file: &mut FileConfig, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if file.bump.ca_secret.is_some() {
        return Ok(None);
    }
    let dir = file
        .bump
        .ca_dir
        .get_or_insert_with(|| data_dir.join("ca"))
        .clone();
    trust_ca::Authority::load_or_create(&dir, &trust_ca::CaOptions::default())
        .with_context(|| format!("the deployment CA in {}", dir.display()))?;
    Ok(Some(dir.join(trust_ca::BUNDLE_FILE)))
}

/// The SDS server `up` runs: secrets from `<data_dir>/secrets` over a Unix socket.
struct Sds {
    handle: sds_server::SdsHandle,
    audit: trust_core::audit::AuditWriter,
}

async fn start_sds(data_dir: &Path, admin: SocketAddr) -> anyhow::Result<Sds> {
    let mut config = sds_server::Config::embedded(data_dir);
    config.admin_listen = admin;
    if let Some(files) = &config.files {
        files
            .prepare()
            .with_context(|| format!("preparing {}", files.dir.display()))?;
    }
    let mut audit_config = trust_core::audit::AuditConfig::new(data_dir);
    audit_config.file_name = super::sds::AUDIT_FILE.to_owned();
    let (log, audit) = trust_core::audit::start(audit_config)?;
    let handle = sds_server::run(config, log).await?;
    Ok(Sds { handle, audit })
}

/// `trust-edge edge-proxy --config FILE`: the edge alone.
pub(crate) async fn edge_proxy(args: EdgeProxyArgs) -> anyhow::Result<ExitCode> {
    let config = validated(file_config(&args.flags)?)?;
    let edge = edge_proxy::run(config).await?;
    println!(
        "edge proxy on {} (admin {})",
        edge.proxy_addr(),
        edge.admin_addr()
    );
    super::wait_for_signal().await;
    edge.stop().await;
    Ok(ExitCode::SUCCESS)
}
