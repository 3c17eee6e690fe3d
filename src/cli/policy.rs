//! `trust-edge policy`: check, explain, test, diff and describe policy files. Thin: every
//! command is a function of the `policies` crate; this file parses flags and prints.

use clap::{Args, Subcommand, ValueEnum};
use policies::check::check_paths;
use policies::denyset::DenySet;
use policies::explain::explain;
use policies::request::Request;
use policies::schema::{policy_schema, tests_schema};
use policies::suite::run_paths;
use policies::{Deployment, PolicyError, PolicySet, parse_authority};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Report every problem in policy files or directories (file:line:column); exit 1 on errors.
    /// With `--edge-config` / `--sds-config`, also check them against the deployment: a `bump`
    /// rule needs the edge's CA, an `inject` secret needs an SDS source.
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
    /// The edge's config file (TOML): a `bump` rule is an error unless its `[bump]` table sets
    /// `ca_dir` or `ca_secret`.
    #[arg(long, value_name = "FILE")]
    edge_config: Option<PathBuf>,
    /// The SDS server's config file (TOML): an `inject` secret is an error unless one of its
    /// sources defines it.
    #[arg(long, value_name = "FILE")]
    sds_config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A URL (`https://pypi.org/simple/`, `http://example.com/`) or a CONNECT authority
    /// (`github.com:22`).
    request: String,
    /// The profile (a session token's `profile` claim).
    #[arg(long)]
    profile: String,
    /// The method of the request: of a URL, or inside the tunnel of a CONNECT authority
    /// (default GET; a `bump` rule decides it).
    #[arg(long)]
    method: Option<String>,
    /// The path (and query) of the request inside the tunnel of a CONNECT authority (default
    /// `/`; a URL carries its own).
    #[arg(long)]
    path: Option<String>,
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
            out(
                format_args!("{}", serde_json::to_string_pretty(&schema)?),
                "\n",
            );
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
    let deployment = Deployment {
        ca_configured: args.edge_config.as_deref().map(edge_has_ca).transpose()?,
        secrets: args.sds_config.as_deref().map(sds_secrets).transpose()?,
    };
    let report = check_paths(&args.paths, &deployment);
    match args.format {
        Format::Text => out(format_args!("{report}"), "\n"),
        Format::Json => out(
            format_args!("{}", serde_json::to_string_pretty(&report.diagnostics)?),
            "\n",
        ),
    }
    Ok(exit(report.ok()))
}

/// Whether the edge config at `path` configures the deployment CA: its `[bump]` table sets
/// `ca_dir` or `ca_secret`. Read as plain TOML, so only those keys matter here
/// (`trust-edge edge check` validates the rest).
fn edge_has_ca(path: &Path) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--edge-config {}: {e}", path.display()))?;
    let value: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--edge-config {}: {}", path.display(), e.message()))?;
    Ok(value
        .get("bump")
        .and_then(toml::Value::as_table)
        .is_some_and(|bump| bump.contains_key("ca_dir") || bump.contains_key("ca_secret")))
}

/// Every secret name the SDS server config at `path` defines: its `[[secrets]]` (Vault and
/// AWS) and the names in its file source's manifest. A manifest that cannot be read is an
/// error, never a check silently skipped.
fn sds_secrets(path: &Path) -> anyhow::Result<BTreeSet<String>> {
    let config = sds_server::Config::load(path).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "--sds-config {} does not load:\n{}",
            path.display(),
            lines.join("\n")
        )
    })?;
    let mut names: BTreeSet<String> = config.secrets.into_iter().map(|s| s.name).collect();
    if let Some(files) = &config.files {
        let listed = files
            .secret_names()
            .map_err(|e| anyhow::anyhow!("--sds-config {}: {e}", path.display()))?;
        names.extend(listed);
    }
    Ok(names)
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
    let request = Request::parse(&args.request, args.method.as_deref(), args.path.as_deref())
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
        Format::Text => out(format_args!("{explanation}"), ""),
        Format::Json => out(
            format_args!("{}", serde_json::to_string_pretty(&explanation)?),
            "\n",
        ),
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
    out(format_args!("{run}"), "\n");
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
        Format::Text => out(format_args!("{diff}"), ""),
        Format::Json => out(
            format_args!("{}", serde_json::to_string_pretty(&diff)?),
            "\n",
        ),
    }
    Ok(exit(!args.exit_code || diff.is_empty()))
}

/// Writes to stdout, ignoring a closed pipe (`policy explain … | head` must not panic).
fn out(text: std::fmt::Arguments<'_>, end: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(end.as_bytes()));
}
