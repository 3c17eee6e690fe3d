//! Command-line parsing and dispatch.

mod audit;
mod ca;
mod control;
mod edge;
mod policy;
mod sds;
mod session;
mod token;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// trust-edge: the network trust boundary for AI-agent sandboxes.
#[derive(Debug, Parser)]
#[command(name = "trust-edge", version, about)]
pub(crate) struct Cli {
    /// Log filter (also `TRUST_EDGE_LOG`), e.g. `info` or `edge_proxy=debug`.
    #[arg(long, global = true, env = "TRUST_EDGE_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process with embedded defaults (creates a dev signing key on first run).
    Up(edge::UpArgs),
    /// Run the edge proxy alone from a config file.
    EdgeProxy(edge::EdgeProxyArgs),
    /// Session tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run the control plane alone, or issue edge certificates and API tokens.
    Control(control::ControlArgs),
    /// Sessions on control: create, list, get, refresh, revoke, end.
    Session(session::SessionArgs),
    /// Deny-all on every edge: on, off, status.
    Killswitch(session::KillSwitchArgs),
    /// Control's signing keys: rotate, revoke, list.
    Keys(session::KeysArgs),
    /// Run the SDS server alone (Envoy Secret Discovery Service for Envoy fleets and edges).
    SdsServer(sds::SdsArgs),
    /// Policy files: check, explain, test, diff, schema.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// The deployment CA for bumped TLS: init, export, env, rotate.
    #[command(subcommand)]
    Ca(ca::CaCommand),
}

/// Sets up logging to stderr; never logs header values, tokens or bodies.
pub(crate) fn init_tracing(cli: &Cli) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // pingora dumps heads and bodies (injected credentials included) below info: never written.
    let ceiling = tracing_subscriber::filter::filter_fn(|meta| {
        edge_proxy::log_ceiling::log_allowed(meta.target(), meta.level())
    });
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .with_filter(ceiling),
        )
        .try_init();
}

/// Runs the chosen command.
pub(crate) async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up(args) => edge::up(args).await,
        Command::EdgeProxy(args) => edge::edge_proxy(args).await,
        Command::Token(cmd) => token::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Control(args) => control::run(args).await,
        Command::Session(args) => session::session(args).await,
        Command::Killswitch(args) => session::killswitch(args).await,
        Command::Keys(args) => session::keys(args).await,
        Command::SdsServer(args) => sds::run(args).await,
        Command::Policy(cmd) => policy::run(cmd),
        Command::Ca(cmd) => ca::run(cmd),
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        } => {}
    }
}

/// Reads a TOML file into `T`; a syntax error reads `file:line:column: message`.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let (line, column) =
            trust_core::position::line_column(&text, e.span().map_or(0, |s| s.start));
        anyhow::anyhow!("{}:{line}:{column}: {}", path.display(), e.message())
    })
}
