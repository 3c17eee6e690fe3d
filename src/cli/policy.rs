//! `trust-edge policy`: check, explain, test, diff and describe policy files. Thin: every
//! command is a function of the `policies` crate; this file parses flags and prints.

use clap::{Args, Subcommand, ValueEnum};
use policies::check::check_paths;
use policies::denyset::DenySet;
use policies::explain::explain;
use policies::request::Request;
use policies::schema::{policy_schema, tests_schema};
use policies::suite::run_paths;
use policies::{PolicyError, PolicySet, parse_authority};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Report every problem in policy files or directories (file:line:column); exit 1 on errors.
    Check(CheckArgs),
    /// Explain which rule decides a request for a profile, and why.
    Explain(ExplainArgs),
    /// Run the `*.tests.yaml` cases kept beside the policies; exit 1 unless all pass.
    Test(TestArgs),
    /// What changed between two policy files or directories, per profile.
    Diff(DiffArgs),
    /// Print the JSON Schema of policy files (or of policy test files), for editors.
    Schema(SchemaArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Plain text for people.
    Text,
    /// JSON for CI bots.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Policy files or directories (each directory is checked as one set).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// `json`: an array of `{file, line, column, severity, message}`.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A URL (`https://pypi.org/simple/`, `http://example.com/`) or a CONNECT authority
    /// (`github.com:22`).
    request: String,
    /// The profile (a session token's `profile` claim).
    #[arg(long)]
    profile: String,
    /// The method of a URL request (default GET).
    #[arg(long)]
    method: Option<String>,
    /// What the host resolves to, `host=ip[,ip…]` (repeatable): shows the deny-set's verdict.
    #[arg(long, value_name = "HOST=IP")]
    resolve: Vec<String>,
    /// The policy directory (or one policy file).
    #[arg(long, default_value = edge_proxy::defaults::POLICY_DIR)]
    policy_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Policy directories (every `*.tests.yaml` in them) or single test files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The old policy file or directory.
    old: PathBuf,
    /// The new policy file or directory.
    new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit with 1 when the two differ (like `git diff --exit-code`).
    #[arg(long)]
    exit_code: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// The schema of policy test files (`kind: PolicyTests`) instead of policy files.
    #[arg(long)]
    tests: bool,
}

pub(crate) fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check(args) => check(args),
        PolicyCommand::Explain(args) => explain_cmd(args),
        PolicyCommand::Test(args) => test(args),
        PolicyCommand::Diff(args) => diff(args),
        PolicyCommand::Schema(args) => {
            let schema = if args.tests {
                tests_schema()
            } else {
                policy_schema()
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let report = check_paths(&args.paths);
    match args.format {
        Format::Text => println!("{report}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report.diagnostics)?),
    }
    Ok(exit(report.ok()))
}

/// Loads a policy file or directory, or fails with every error it has.
fn load(path: &Path) -> anyhow::Result<PolicySet> {
    PolicySet::load_path(path).map_err(|errors: Vec<PolicyError>| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the policies in {} do not load:\n{}",
            path.display(),
            lines.join("\n")
        )
    })
}

fn explain_cmd(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let request = Request::parse(&args.request, args.method.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.request))?;
    let answers = resolve_answers(&args.resolve, &request)?;
    let set = load(&args.policy_dir)?;
    let explanation = explain(
        &set,
        &args.profile,
        &request,
        &answers,
        &DenySet::mandatory(),
    );
    match args.format {
        Format::Text => print!("{explanation}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&explanation)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The addresses of every `--resolve host=ip[,ip…]`; each host must be the request's.
fn resolve_answers(flags: &[String], request: &Request) -> anyhow::Result<Vec<IpAddr>> {
    let mut answers = Vec::new();
    for flag in flags {
        let (host, ips) = flag.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--resolve {flag}: write host=ip, e.g. pypi.org=151.101.0.223")
        })?;
        let same_host = parse_authority(host, Some(request.port))
            .is_ok_and(|(dest, _)| dest == request.destination);
        anyhow::ensure!(
            same_host,
            "--resolve {flag}: `{host}` is not the request's host `{}`",
            request.destination
        );
        for ip in ips.split(',') {
            let ip = ip.trim().trim_start_matches('[').trim_end_matches(']');
            answers.push(
                ip.parse::<IpAddr>().map_err(|_| {
                    anyhow::anyhow!("--resolve {flag}: `{ip}` is not an IP address")
                })?,
            );
        }
    }
    Ok(answers)
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let run = run_paths(&args.paths);
    println!("{run}");
    if let Some(path) = &args.junit {
        std::fs::write(path, run.junit())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(exit(run.ok()))
}

fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let diff = policies::diff::diff(&old, &new);
    match args.format {
        Format::Text => print!("{diff}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&diff)?),
    }
    Ok(exit(!args.exit_code || diff.is_empty()))
}
