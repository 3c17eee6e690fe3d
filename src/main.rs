//! The `trust-edge` command: wiring only. Each component is a library with its own `run`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // vaultrs/reqwest panic at client construction without a process-wide rustls provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = cli::Cli::parse();
    cli::init_tracing(&args);
    match cli::dispatch(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trust-edge: {e:#}");
            ExitCode::FAILURE
        }
    }
}
