//! `trust-edge audit verify`: checks the audit log's hash chain across rotations.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the hash chain: reports edited, deleted, reordered lines, a truncated tail and gaps.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Data directory holding the audit log.
    #[arg(long, default_value = edge_proxy::defaults::DATA_DIR)]
    data_dir: PathBuf,
    /// The audit log's file name.
    #[arg(long, default_value = edge_proxy::defaults::AUDIT_FILE)]
    file: String,
}

pub(crate) fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify(args) = cmd;
    let report = trust_core::audit::verify(&args.data_dir, &args.file)?;
    println!("{report}");
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
