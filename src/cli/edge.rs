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
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    flags: EdgeFlags,
}

#[derive(Debug, Args)]
pub(crate) struct EdgeProxyArgs {
    #[command(flatten)]
    flags: EdgeFlags,
}

fn file_config(flags: &EdgeFlags) -> anyhow::Result<FileConfig> {
    let mut file: FileConfig = match &flags.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).map_err(|e| {
                let before = e
                    .span()
                    .and_then(|s| text.get(..s.start))
                    .unwrap_or_default();
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                anyhow::anyhow!("{}:{line}:{column}: {}", path.display(), e.message())
            })?
        }
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

/// `trust-edge up`: the edge with embedded defaults and a local dev signing key.
pub(crate) async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let mut file = file_config(&args.flags)?;
    let data_dir = file
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(edge_proxy::defaults::DATA_DIR));
    let key = trust_core::token::dev_key::load_or_create_dev_key(&data_dir)?;
    if file.policy_dir.is_none() && !Path::new(edge_proxy::defaults::POLICY_DIR).is_dir() {
        let dir = data_dir.join("policies");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("sandbox-default.yaml"), EMBEDDED_POLICY)?;
        file.policy_dir = Some(dir);
    }
    let config = validated(file)?;
    let audit_path = config.data_dir.join(&config.audit.file_name);
    let policy_dir = config.policy_dir.clone();
    let edge = edge_proxy::run(config).await?;
    let proxy = edge.proxy_addr();
    println!("trust-edge is up");
    println!("  proxy     http://{proxy}");
    println!(
        "  admin     http://{}/metrics  /healthz  /readyz",
        edge.admin_addr()
    );
    println!(
        "  policies  {} (hash {})",
        policy_dir.display(),
        edge.policy_hash().get(..12).unwrap_or_default()
    );
    println!("  audit     {}", audit_path.display());
    println!(
        "  dev key   {} (kid {})",
        data_dir.join("keys").display(),
        key.kid()
    );
    println!();
    println!("Route a sandbox through it:");
    println!(
        "  TOKEN=$(trust-edge token issue --data-dir {} --profile sandbox-default --session demo --ttl 8h)",
        data_dir.display()
    );
    println!(
        "  export HTTPS_PROXY=http://session:$TOKEN@{proxy} HTTP_PROXY=http://session:$TOKEN@{proxy}"
    );
    println!("  curl -sS https://pypi.org/simple/ -o /dev/null -w '%{{http_code}}\\n'");
    wait_for_signal().await;
    edge.stop().await;
    Ok(ExitCode::SUCCESS)
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
    wait_for_signal().await;
    edge.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
