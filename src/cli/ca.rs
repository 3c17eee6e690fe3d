//! `trust-edge ca init|export|env|rotate`: the deployment CA sandboxes trust for bumped TLS.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};
use trust_ca::{Authority, BUNDLE_FILE, CaOptions};

/// The variables that point common TLS clients at a CA bundle: OpenSSL and Python's `ssl`,
/// Python requests, Node, curl, git and pip.
const ENV_VARS: [&str; 6] = [
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "PIP_CERT",
];

#[derive(Debug, Subcommand)]
pub(crate) enum CaCommand {
    /// Create the CA (key mode 0600) unless it exists; print where the bundle is.
    Init(InitArgs),
    /// Print the bundle sandboxes must trust (current and still-overlapping certificates).
    Export(DirArg),
    /// Print the environment lines that make a sandbox's TLS clients trust the bundle.
    Env(EnvArgs),
    /// Replace the CA key and certificate; the old certificate stays in the bundle for --overlap.
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DirArg {
    /// The CA directory [default: the `ca` directory in the data dir of `trust-edge up`].
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    dir: DirArg,
    /// Validity of a new CA certificate, e.g. `365d`.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "365d")]
    validity: Duration,
    /// Common name of a new CA certificate.
    #[arg(long, default_value = trust_ca::defaults::COMMON_NAME)]
    common_name: String,
}

#[derive(Debug, Args)]
pub(crate) struct EnvArgs {
    #[command(flatten)]
    dir: DirArg,
    /// The bundle's path as the sandbox sees it [default: the absolute path of bundle.pem].
    #[arg(long)]
    path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    dir: DirArg,
    /// How long the old certificate stays in the bundle, e.g. `30d`.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
    overlap: Duration,
    /// Validity of the new CA certificate, e.g. `365d`.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "365d")]
    validity: Duration,
    /// Common name of the new CA certificate.
    #[arg(long, default_value = trust_ca::defaults::COMMON_NAME)]
    common_name: String,
}

pub(crate) fn run(cmd: CaCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CaCommand::Init(args) => init(args),
        CaCommand::Export(args) => export(&args),
        CaCommand::Env(args) => env(args),
        CaCommand::Rotate(args) => rotate(args),
    }
}

impl DirArg {
    fn path(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| Path::new(edge_proxy::defaults::DATA_DIR).join("ca"))
    }
}

fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.path();
    let existed = dir.join(trust_ca::KEY_FILE).exists();
    let opts = CaOptions {
        validity: args.validity,
        common_name: args.common_name,
        ..CaOptions::default()
    };
    let ca = Authority::load_or_create(&dir, &opts)?;
    let verb = if existed { "exists" } else { "created" };
    println!(
        "CA {verb} in {} (expires {})",
        dir.display(),
        when(ca.not_after())
    );
    println!("bundle {}", dir.join(BUNDLE_FILE).display());
    warn_if_expiring(&ca);
    Ok(ExitCode::SUCCESS)
}

fn export(args: &DirArg) -> anyhow::Result<ExitCode> {
    let ca = Authority::load(&args.path())?;
    print!("{}", ca.bundle_pem());
    warn_if_expiring(&ca);
    Ok(ExitCode::SUCCESS)
}

fn env(args: EnvArgs) -> anyhow::Result<ExitCode> {
    let path = match args.path {
        Some(path) => path,
        None => {
            let dir = args.dir.path();
            // Loading checks there is a usable CA (and refreshes bundle.pem).
            let ca = Authority::load(&dir)?;
            warn_if_expiring(&ca);
            std::path::absolute(dir.join(BUNDLE_FILE))
                .with_context(|| format!("resolving {}", dir.display()))?
        }
    };
    let path = path
        .to_str()
        .filter(|p| !p.is_empty() && p.chars().all(is_plain))
        .with_context(|| {
            format!(
                "the bundle path {path:?} needs quoting; use one without spaces, quotes or \
                 shell characters (--path)"
            )
        })?;
    for var in ENV_VARS {
        println!("{var}={path}");
    }
    Ok(ExitCode::SUCCESS)
}

fn rotate(args: RotateArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.path();
    let opts = CaOptions {
        validity: args.validity,
        overlap: args.overlap,
        common_name: args.common_name,
        ..CaOptions::default()
    };
    let ca = Authority::rotate(&dir, &opts)?;
    println!(
        "CA rotated in {} (expires {})",
        dir.display(),
        when(ca.not_after())
    );
    println!(
        "the previous certificate stays in {} for {}",
        dir.join(BUNDLE_FILE).display(),
        humantime::format_duration(args.overlap)
    );
    println!(
        "running edges sign with the old key until they reload the CA; sandboxes must fetch \
         the new bundle"
    );
    Ok(ExitCode::SUCCESS)
}

/// Characters that need no quoting in an env file or a shell.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/._-+:@%,".contains(c)
}

fn when(t: SystemTime) -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_seconds(t)
}

/// The alarm for an approaching CA expiry, on stderr (stdout stays machine-readable).
fn warn_if_expiring(ca: &Authority) {
    if ca.expires_within(Duration::ZERO) {
        eprintln!(
            "warning: the CA expired at {}; run `trust-edge ca rotate`",
            when(ca.not_after())
        );
    } else if ca.expires_within(trust_ca::defaults::EXPIRY_WARNING) {
        eprintln!(
            "warning: the CA expires at {}; run `trust-edge ca rotate`",
            when(ca.not_after())
        );
    }
}
