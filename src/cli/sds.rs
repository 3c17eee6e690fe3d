//! `trust-edge sds-server`: the SDS server alone, from a config file and flags.

use anyhow::Context;
use clap::Args;
use sds_server::config::FilesConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use trust_core::audit::AuditConfig;

/// Audit file of the SDS server inside its data dir (apart from the edge's chain).
pub(crate) const AUDIT_FILE: &str = "sds-audit.log";

/// Flags of `trust-edge sds-server`; each overrides the config file.
#[derive(Debug, Args)]
pub(crate) struct SdsArgs {
    /// A TOML config file (see docs/sds.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (Unix socket, audit log).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Watched secrets directory with its manifest.yaml, created if missing (default without
    /// --config: <data-dir>/secrets).
    #[arg(long)]
    secrets_dir: Option<PathBuf>,
    /// Admin listen address (/metrics, /debug/sds, /healthz).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
}

/// The config file (or, without one, the embedded defaults: `<data_dir>/secrets` watched),
/// with each flag applied on top.
fn load(args: &SdsArgs) -> anyhow::Result<sds_server::Config> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(sds_server::defaults::DATA_DIR));
    let mut config = match &args.config {
        Some(path) => {
            let mut config = sds_server::Config::load(path).map_err(|issues| {
                let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "{}: invalid configuration:\n  {}",
                    path.display(),
                    lines.join("\n  ")
                )
            })?;
            if let Some(dir) = &args.data_dir {
                if config.unix_socket.is_some() {
                    config.unix_socket = Some(dir.join(sds_server::defaults::UNIX_SOCKET));
                }
                config.data_dir = dir.clone();
            }
            config
        }
        None => sds_server::Config::embedded(&data_dir),
    };
    if let Some(dir) = &args.secrets_dir {
        config.files = Some(FilesConfig::new(dir));
    }
    if (args.config.is_none() || args.secrets_dir.is_some())
        && let Some(files) = &config.files
    {
        files
            .prepare()
            .with_context(|| format!("preparing {}", files.dir.display()))?;
    }
    if let Some(addr) = args.admin_listen {
        config.admin_listen = addr;
    }
    Ok(config)
}

/// Runs the SDS server until Ctrl-C / SIGTERM.
pub(crate) async fn run(args: SdsArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args)?;
    let mut audit_config = AuditConfig::new(&config.data_dir);
    audit_config.file_name = AUDIT_FILE.to_owned();
    let (audit, writer) = trust_core::audit::start(audit_config)?;
    let handle = sds_server::run(config.clone(), audit).await?;
    println!("sds server is up");
    if let Some(path) = handle.socket_path() {
        println!("  unix      {} (mode 0600)", path.display());
    }
    if let Some(addr) = handle.tcp_addr() {
        println!("  tcp       {addr}");
    }
    println!(
        "  admin     http://{}/metrics  /debug/sds  /healthz",
        handle.admin_addr()
    );
    if let Some(files) = &config.files {
        println!("  secrets   {}", files.manifest.display());
    }
    println!("  audit     {}", config.data_dir.join(AUDIT_FILE).display());
    super::wait_for_signal().await;
    handle.stop().await;
    if let Err(e) = writer.close().await {
        tracing::error!(error = %e, "audit log did not close cleanly");
    }
    Ok(ExitCode::SUCCESS)
}
