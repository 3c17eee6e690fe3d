//! `trust-edge control`: run the control plane alone, issue edge client certificates, and mint
//! API tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// `trust-edge control [flags]` runs control; its subcommands prepare edges and tokens.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ControlArgs {
    #[command(subcommand)]
    command: Option<ControlCommand>,
    #[command(flatten)]
    run: RunFlags,
}

/// Flags for running control; each overrides the config file.
#[derive(Debug, Args)]
pub(crate) struct RunFlags {
    /// A TOML config file (every key optional; see docs/control.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (database, keys, CA, API tokens).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Policy directory (a session's profile must exist in it).
    #[arg(long)]
    policy_dir: Option<PathBuf>,
    /// HTTP API address.
    #[arg(long)]
    api_listen: Option<SocketAddr>,
    /// Sync (gRPC, mutual TLS) address.
    #[arg(long)]
    sync_listen: Option<SocketAddr>,
    /// A Unix socket for edges on this host.
    #[arg(long)]
    sync_socket: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum ControlCommand {
    /// Issue a client certificate for an edge (writes ca.pem, edge.pem, edge.key to --out).
    IssueEdgeCert(IssueEdgeCertArgs),
    /// Create an API token and print it (the only time it is shown).
    ApiToken(ApiTokenArgs),
}

#[derive(Debug, Args)]
struct IssueEdgeCertArgs {
    /// The edge's name (its certificate's CN, shown in `GET /v1/edges`).
    #[arg(long)]
    name: String,
    /// Where to write the files.
    #[arg(long)]
    out: PathBuf,
    /// Control's data directory (holds the CA).
    #[arg(long, default_value = control::defaults::DATA_DIR)]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct ApiTokenArgs {
    /// `orchestrator` or `operator`.
    #[arg(long)]
    role: String,
    /// A name for the token (shown in audit records).
    #[arg(long)]
    name: String,
    /// Control's data directory.
    #[arg(long, default_value = control::defaults::DATA_DIR)]
    data_dir: PathBuf,
}

pub(crate) async fn run(args: ControlArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(ControlCommand::IssueEdgeCert(a)) => {
            let files = control::issue_edge_cert(&a.data_dir, &a.name, &a.out)?;
            println!("edge certificate for {:?}", a.name);
            println!("  ca    {}", files.ca.display());
            println!("  cert  {}", files.cert.display());
            println!("  key   {}", files.key.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(ControlCommand::ApiToken(a)) => {
            let role = control::Role::parse(&a.role).ok_or_else(|| {
                anyhow::anyhow!("--role {:?}: use orchestrator or operator", a.role)
            })?;
            println!("{}", control::create_api_token(&a.data_dir, role, &a.name)?);
            Ok(ExitCode::SUCCESS)
        }
        None => serve(&args.run).await,
    }
}

/// The validated config from the file and flags (what `trust-edge up` can reuse).
pub(crate) fn config(flags: &RunFlags) -> anyhow::Result<control::Config> {
    let mut file: control::FileConfig = match &flags.config {
        Some(path) => super::read_toml(path)?,
        None => control::FileConfig::default(),
    };
    if flags.data_dir.is_some() {
        file.data_dir = flags.data_dir.clone();
    }
    if flags.policy_dir.is_some() {
        file.policy_dir = flags.policy_dir.clone();
    }
    if let Some(a) = flags.api_listen {
        file.api.listen = Some(a.to_string());
    }
    if let Some(a) = flags.sync_listen {
        file.sync.listen = Some(a.to_string());
    }
    if flags.sync_socket.is_some() {
        file.sync.unix_socket = flags.sync_socket.clone();
    }
    control::validate(file).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid control configuration:\n  {}", lines.join("\n  "))
    })
}
async fn serve(flags: &RunFlags) -> anyhow::Result<ExitCode> {
    let config = config(flags)?;
    let handle = control::run(config).await?;
    println!("trust-edge control is up");
    println!("  api       {}", handle.api_url());
    println!(
        "  sync      {} (mutual TLS; CA {})",
        handle.sync_url(),
        handle.data_dir().join("pki/ca.pem").display()
    );
    if let Some(socket) = handle.sync_socket() {
        println!("  socket    unix:{}", socket.display());
    }
    let tokens = handle.api_token_files();
    let note = if handle.created_api_tokens() {
        "created now"
    } else {
        "created earlier"
    };
    println!(
        "  tokens    {} / {} ({note})",
        tokens.orchestrator.display(),
        tokens.operator.display()
    );
    println!(
        "  edge cert trust-edge control issue-edge-cert --data-dir {} --name EDGE --out DIR",
        handle.data_dir().display()
    );
    super::wait_for_signal().await;
    handle.stop().await;
    Ok(ExitCode::SUCCESS)
}
