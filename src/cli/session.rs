//! `trust-edge session|killswitch|keys`: talk to control's HTTP API with a bearer API token
//! (from `--api-token-file`, or the data dir's bootstrap files). Answers are printed as JSON;
//! a refusal prints its reason and message and exits 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

/// Where control is and which token to present.
#[derive(Debug, Clone, Args)]
pub(crate) struct ApiFlags {
    /// Control's API URL.
    #[arg(
        long,
        global = true,
        env = "TRUST_EDGE_API",
        default_value = "http://127.0.0.1:7070"
    )]
    api: String,
    /// A file holding the API token (default: the data dir's operator token for operator
    /// commands, else its orchestrator token).
    #[arg(long, global = true)]
    api_token_file: Option<PathBuf>,
    /// Control's data directory (where `api-tokens/` is).
    #[arg(long, global = true, default_value = control::defaults::DATA_DIR)]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct SessionArgs {
    #[command(flatten)]
    api: ApiFlags,
    #[command(subcommand)]
    command: SessionCommand,
}

#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// Create a session and print its token.
    Create {
        /// The egress profile (must exist in control's policies).
        #[arg(long)]
        profile: String,
        /// The tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Lifetime, e.g. `10m`, `8h` (at most 24h; default 8h).
        #[arg(long)]
        ttl: Option<String>,
        /// A label `key=value`; repeat for several.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Print only the token (for `TOKEN=$(...)`).
        #[arg(long)]
        token_only: bool,
    },
    /// List sessions.
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Only `active`, `revoked` or `ended` ones.
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one session.
    Get {
        /// The session id.
        id: String,
    },
    /// Mint a fresh token for a session (never past its end).
    Refresh {
        /// The session id.
        id: String,
        /// Print only the token.
        #[arg(long)]
        token_only: bool,
    },
    /// Revoke a session on every edge (operator).
    Revoke {
        /// The session id.
        id: String,
        /// Why (kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// End a session (it is revoked on every edge).
    End {
        /// The session id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct KillSwitchArgs {
    #[command(flatten)]
    api: ApiFlags,
    #[command(subcommand)]
    command: KillSwitchCommand,
}

#[derive(Debug, Subcommand)]
enum KillSwitchCommand {
    /// Deny everything on every edge (operator).
    On {
        /// Why (kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Lift deny-all (operator).
    Off,
    /// Show the switch.
    Status,
}

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(flatten)]
    api: ApiFlags,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new key the signer; the old one stays published until its tokens expire.
    Rotate,
    /// Withdraw a key at once: its tokens stop working on every edge.
    Revoke {
        /// The key id.
        kid: String,
    },
    /// List signing keys.
    List,
}

/// What to send.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    operator: bool,
}

impl Call {
    fn new(method: Method, path: impl Into<String>, operator: bool) -> Call {
        Call {
            method,
            path: path.into(),
            body: None,
            operator,
        }
    }

    fn body(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }
}

pub(crate) async fn session(args: SessionArgs) -> anyhow::Result<ExitCode> {
    let mut token_only = false;
    let call = match args.command {
        SessionCommand::Create {
            profile,
            tenant,
            ttl,
            labels,
            token_only: only,
        } => {
            token_only = only;
            let ttl_seconds = ttl.as_deref().map(ttl_seconds).transpose()?;
            let body = json!({
                "tenant": tenant,
                "profile": profile,
                "labels": parse_labels(&labels)?,
                "ttl_seconds": ttl_seconds,
            });
            Call::new(Method::POST, "/v1/sessions", false).body(body)
        }
        SessionCommand::List { tenant, state } => {
            let mut query = Vec::new();
            if let Some(t) = tenant {
                query.push(format!("tenant={}", encode(&t)));
            }
            if let Some(s) = state {
                query.push(format!("state={}", encode(&s)));
            }
            let suffix = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            Call::new(Method::GET, format!("/v1/sessions{suffix}"), false)
        }
        SessionCommand::Get { id } => {
            Call::new(Method::GET, format!("/v1/sessions/{}", encode(&id)), false)
        }
        SessionCommand::Refresh {
            id,
            token_only: only,
        } => {
            token_only = only;
            Call::new(
                Method::POST,
                format!("/v1/sessions/{}/token", encode(&id)),
                false,
            )
        }
        SessionCommand::Revoke { id, reason } => Call::new(
            Method::POST,
            format!("/v1/sessions/{}/revoke", encode(&id)),
            true,
        )
        .body(json!({ "reason": reason })),
        SessionCommand::End { id } => Call::new(
            Method::DELETE,
            format!("/v1/sessions/{}", encode(&id)),
            false,
        ),
    };
    let answer = match send(&args.api, call).await? {
        Ok(answer) => answer,
        Err(code) => return Ok(code),
    };
    if token_only {
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .context("the answer has no token")?;
        println!("{token}");
    } else {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn killswitch(args: KillSwitchArgs) -> anyhow::Result<ExitCode> {
    let call = match args.command {
        KillSwitchCommand::On { reason } => {
            Call::new(Method::POST, "/v1/killswitch", true).body(json!({ "reason": reason }))
        }
        KillSwitchCommand::Off => Call::new(Method::DELETE, "/v1/killswitch", true),
        KillSwitchCommand::Status => Call::new(Method::GET, "/v1/killswitch", false),
    };
    print_answer(send(&args.api, call).await?)
}

pub(crate) async fn keys(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let call = match args.command {
        KeysCommand::Rotate => Call::new(Method::POST, "/v1/keys/rotate", true),
        KeysCommand::Revoke { kid } => Call::new(
            Method::POST,
            format!("/v1/keys/{}/revoke", encode(&kid)),
            true,
        ),
        KeysCommand::List => Call::new(Method::GET, "/v1/keys", true),
    };
    print_answer(send(&args.api, call).await?)
}

fn print_answer(answer: Result<Value, ExitCode>) -> anyhow::Result<ExitCode> {
    match answer {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

/// Sends `call`; a refusal is printed to stderr and returned as exit code 1.
async fn send(flags: &ApiFlags, call: Call) -> anyhow::Result<Result<Value, ExitCode>> {
    let token = api_token(flags, call.operator)?;
    let client = reqwest::Client::builder()
        .build()
        .context("building the http client")?;
    let url = format!("{}{}", flags.api.trim_end_matches('/'), call.path);
    let mut request = client.request(call.method, &url).bearer_auth(token.trim());
    if let Some(body) = call.body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(Ok(body));
    }
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    eprintln!(
        "trust-edge: control refused ({status}): {}: {} (request {})",
        field("reason"),
        field("message"),
        field("request_id")
    );
    Ok(Err(ExitCode::FAILURE))
}

/// The token: `--api-token-file`, else the data dir's operator token for operator calls, else
/// its orchestrator token (falling back to the operator's).
fn api_token(flags: &ApiFlags, operator: bool) -> anyhow::Result<String> {
    if let Some(path) = &flags.api_token_file {
        return read_token(path);
    }
    let files = control::ApiTokenFiles::in_dir(&flags.data_dir);
    if !operator && files.orchestrator.exists() {
        return read_token(&files.orchestrator);
    }
    read_token(&files.operator)
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the api token {} (use --api-token-file)",
            path.display()
        )
    })?;
    Ok(token.trim().to_owned())
}

fn ttl_seconds(text: &str) -> anyhow::Result<u64> {
    let ttl = humantime::parse_duration(text).map_err(|e| anyhow::anyhow!("--ttl {text}: {e}"))?;
    anyhow::ensure!(!ttl.is_zero(), "--ttl must be positive");
    Ok(ttl.as_secs().max(1))
}

fn parse_labels(labels: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|label| {
            label
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--label {label:?}: expected key=value"))
        })
        .collect()
}

/// Percent-encodes a path segment or query value (ids and kids are URL-safe already; this
/// keeps a stray character from changing the route).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
