//! The `loadtests` command line.

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::http_forward::{self, Options, Target};
use crate::load::Load;
use crate::peers::Locations;
use crate::report;

/// `loadtests <scenario> [options]`.
#[derive(Debug, Parser)]
#[command(
    name = "loadtests",
    about = "trust-edge load scenarios, side by side with peers"
)]
pub struct Cli {
    /// The scenario to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plain HTTP through the edge, direct, and through Envoy / Squid / tinyproxy / nginx.
    HttpForward(HttpForwardArgs),
    /// Revocation and deny-all reaching many watching edges (see `revocation.rs`).
    Revocation(RevocationArgs),
    /// One secret rotated under N simulated Envoy SDS streams (see `sds_fanout.rs`).
    SdsFanout(SdsFanoutArgs),
    /// TLS interception + credential injection: edge, Envoy, mitmproxy (see `bump_inject.rs`).
    BumpInject(BumpInjectArgs),
}

/// Options of `bump-inject`.
#[derive(Debug, Args)]
pub struct BumpInjectArgs {
    /// How each target is loaded.
    #[command(flatten)]
    pub load: Load,
    /// Targets, comma-separated, in run order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "edge-bump-inject,edge-pass-through,direct-tls,envoy-bump,mitmproxy"
    )]
    pub targets: Vec<crate::bump_inject::Target>,
    /// Measured time of each handshake-rate phase (0s skips them).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub handshake_duration: Duration,
    /// Concurrent connections of the handshake load.
    #[arg(long, default_value_t = 8)]
    pub handshake_connections: usize,
    /// Host names the cold-cache handshakes cycle through.
    #[arg(long, default_value_t = 64)]
    pub cold_hosts: usize,
    /// Leaves minted in process for the mint-cost figure.
    #[arg(long, default_value_t = 500)]
    pub mint_samples: usize,
    /// The trust-edge binary (edge-proxy and sds-server).
    #[arg(long, default_value = "target/release/trust-edge")]
    pub edge_bin: PathBuf,
    /// Use the in-process rustls upstream even when nginx is installed.
    #[arg(long)]
    pub in_process_upstream: bool,
    /// Pin the proxy to core 0, everything else to core 1.
    #[arg(long)]
    pub pin: bool,
    /// Where the JSON report is written.
    #[arg(long, default_value = "results/bump-inject.json")]
    pub out: PathBuf,
}

/// Options of `sds-fanout`.
#[derive(Debug, Args)]
pub struct SdsFanoutArgs {
    /// Simulated Envoy streams, all on the same secret.
    #[arg(long, default_value_t = 1000)]
    pub streams: usize,
    /// HTTP/2 connections the streams share.
    #[arg(long, default_value_t = 10)]
    pub connections: usize,
    /// Rotations measured.
    #[arg(long, default_value_t = 5)]
    pub rotations: usize,
    /// The file source's debounce.
    #[arg(long, default_value = "150ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// How long one rotation may take to reach every stream.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The trust-edge binary (runs `sds-server`).
    #[arg(long, default_value = "target/release/trust-edge")]
    pub edge_bin: PathBuf,
    /// Where the JSON report is written.
    #[arg(long, default_value = "results/sds-fanout.json")]
    pub out: PathBuf,
}

/// Options of `revocation`.
#[derive(Debug, Args)]
pub struct RevocationArgs {
    /// Watching edges (`trust-edge edge-proxy` children; sync clients with `--sync-clients`).
    #[arg(long, default_value_t = 20)]
    pub edges: usize,
    /// Sessions, each with a tunnel through every edge, then revoked one by one.
    #[arg(long, default_value_t = 200)]
    pub sessions: usize,
    /// Deny-all on/off rounds (each with a fresh session's tunnels).
    #[arg(long, default_value_t = 20)]
    pub deny_all_rounds: usize,
    /// How long one action may take to reach every edge.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The trust-edge binary the edges run.
    #[arg(long, default_value = "target/release/trust-edge")]
    pub edge_bin: PathBuf,
    /// Pause between one edge's polls after an action.
    #[arg(long, default_value = "1ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Play the edges with control sync clients in this process (no proxy, no tunnels).
    #[arg(long)]
    pub sync_clients: bool,
    /// Where the JSON report is written.
    #[arg(long, default_value = "results/revocation.json")]
    pub out: PathBuf,
}

/// Options of `http-forward`.
#[derive(Debug, Args)]
pub struct HttpForwardArgs {
    /// How each target is loaded.
    #[command(flatten)]
    pub load: Load,
    /// Fixed offered rate in req/s (open loop); default: closed loop, as fast as possible.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Targets, comma-separated, in run order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "edge,direct,envoy,squid,tinyproxy,nginx-proxy"
    )]
    pub targets: Vec<Target>,
    /// The trust-edge binary.
    #[arg(long, default_value = "target/release/trust-edge")]
    pub edge_bin: PathBuf,
    /// Pin the proxy to core 0, the load generator and upstream to core 1.
    #[arg(long)]
    pub pin: bool,
    /// Where the JSON report is written.
    #[arg(long, default_value = "results/http-forward.json")]
    pub out: PathBuf,
}

/// Parses `10s`, `500ms`, `2m`, `1.5s` or a bare number of seconds.
///
/// # Errors
/// Not a non-negative number with one of the units `ms`, `s`, `m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 10s, 500ms or 2m"))?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("`{text}` is not a non-negative duration"))
}

/// Runs the parsed command with binary locations taken from the environment; prints the
/// table, writes the JSON report.
pub fn run(cli: Cli, locations: Locations) -> ExitCode {
    match cli.command {
        Command::Revocation(args) => run_revocation(&args),
        Command::SdsFanout(args) => run_sds_fanout(&args),
        Command::BumpInject(args) => run_bump_inject(args, locations),
        Command::HttpForward(args) => {
            let out = args.out.clone();
            let options = Options {
                load: args.load,
                rate: args.rate,
                targets: args.targets,
                edge_bin: args.edge_bin,
                pin: args.pin,
                locations,
            };
            finish(http_forward::run(&options), report::render_table, &out)
        }
    }
}

fn run_revocation(args: &RevocationArgs) -> ExitCode {
    let target = if args.sync_clients {
        crate::revocation::Target::SyncClients
    } else {
        crate::revocation::Target::Edges {
            bin: args.edge_bin.clone(),
            poll_interval: args.poll_interval,
        }
    };
    let options = crate::revocation::Options {
        edges: args.edges,
        sessions: args.sessions,
        deny_all_rounds: args.deny_all_rounds,
        timeout: args.timeout,
        target,
    };
    finish(
        crate::revocation::run(&options),
        crate::revocation::render_table,
        &args.out,
    )
}

fn run_sds_fanout(args: &SdsFanoutArgs) -> ExitCode {
    let options = crate::sds_fanout::Options {
        streams: args.streams,
        connections: args.connections,
        rotations: args.rotations,
        debounce: args.debounce,
        timeout: args.timeout,
        edge_bin: args.edge_bin.clone(),
    };
    finish(
        crate::sds_fanout::run(&options),
        crate::sds_fanout::render_table,
        &args.out,
    )
}

fn run_bump_inject(args: BumpInjectArgs, locations: Locations) -> ExitCode {
    let options = crate::bump_inject::Options {
        load: args.load,
        targets: args.targets,
        handshake_duration: args.handshake_duration,
        handshake_connections: args.handshake_connections,
        cold_hosts: args.cold_hosts,
        mint_samples: args.mint_samples,
        edge_bin: args.edge_bin,
        in_process_upstream: args.in_process_upstream,
        pin: args.pin,
        ready_timeout: Duration::from_secs(30),
        locations,
    };
    finish(
        crate::bump_inject::run(&options),
        crate::bump_inject::render_table,
        &args.out,
    )
}

/// Prints the report's table and writes its JSON to `out`; any failure is printed and
/// turns into a failing exit code.
fn finish<T: serde::Serialize>(
    report: Result<T, crate::Error>,
    render: fn(&T) -> String,
    out: &std::path::Path,
) -> ExitCode {
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            eprintln!("loadtests: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", render(&report));
    match write_json(out, &report) {
        Ok(()) => {
            println!("report: {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadtests: writing {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn write_json<T: serde::Serialize>(path: &std::path::Path, report: &T) -> Result<(), crate::Error> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(crate::Error::io("creating the report dir"))?;
    }
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json + "\n").map_err(crate::Error::io("writing the report"))
}
