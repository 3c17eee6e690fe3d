//! `trust-edge token issue`: a token signed with the local dev key (until a control plane exists).

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use trust_core::token;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print a session token signed by the dev key in the data dir.
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    /// The policy profile the session may use.
    #[arg(long)]
    profile: String,
    /// The session id.
    #[arg(long)]
    session: String,
    /// The tenant.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Lifetime, e.g. `10m`, `8h` (at most 24h).
    #[arg(long, default_value = "8h")]
    ttl: String,
    /// Data directory holding the dev key (created by `trust-edge up`).
    #[arg(long, default_value = edge_proxy::defaults::DATA_DIR)]
    data_dir: PathBuf,
}

pub(crate) fn run(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Issue(args) = cmd;
    let ttl = humantime::parse_duration(&args.ttl)
        .map_err(|e| anyhow::anyhow!("--ttl {}: {e}", args.ttl))?;
    anyhow::ensure!(
        ttl <= std::time::Duration::from_secs(24 * 3600),
        "--ttl is at most 24h"
    );
    anyhow::ensure!(!ttl.is_zero(), "--ttl must be positive");
    let key = token::dev_key::load_or_create_dev_key(&args.data_dir)?;
    let jwt = token::issue(
        &key,
        edge_proxy::defaults::TOKEN_ISSUER,
        edge_proxy::defaults::TOKEN_AUDIENCE,
        &args.session,
        &args.tenant,
        &args.profile,
        ttl,
    )?;
    println!("{jwt}");
    Ok(ExitCode::SUCCESS)
}
