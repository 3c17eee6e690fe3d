//! The `trust-edge` command: wiring only. Each component is a library with its own `run`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

/// The proxy allocates per request (pingora's sessions and headers); mimalloc's thread caches
/// make that markedly cheaper than glibc malloc on the request path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // vaultrs/reqwest panic at client construction without a process-wide rustls provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = cli::Cli::parse();
    cli::init_tracing(&args);
    let runtime = match build_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trust-edge: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trust-edge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One core (a pinned edge): a current-thread runtime, so no work moves between threads;
/// otherwise one worker per core.
fn build_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
}
