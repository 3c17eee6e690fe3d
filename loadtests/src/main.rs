//! `loadtests`: runs a load scenario and prints / writes its report.

use std::process::ExitCode;

use clap::Parser;
use loadtests::cli::{self, Cli};
use loadtests::peers::{Locations, SBIN_DIRS};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The workspace root holds `.venv/bin/envoy`: the current directory when run from the
    // workspace, else the one this crate was built in.
    let cwd = std::env::current_dir().unwrap_or_default();
    let workspace = if cwd.join(".venv").is_dir() {
        cwd
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or(cwd)
    };
    let locations = Locations {
        workspace,
        envoy_bin: std::env::var_os("ENVOY_BIN").map(Into::into),
        path: std::env::var_os("PATH"),
        extra_dirs: SBIN_DIRS.iter().map(Into::into).collect(),
    };
    cli::run(cli, locations)
}
