//! Real clients driven from tests: curl and Python requests, run as child processes.

use std::path::PathBuf;
use std::process::Output;

/// What a client got back.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status (0 if none was received).
    pub status: u16,
    /// Response headers, lowercased names.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
    /// The client's stderr.
    pub stderr: String,
}

impl Reply {
    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `x-deny-reason` header.
    pub fn deny_reason(&self) -> Option<&str> {
        self.header("x-deny-reason")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Runs `curl` with `args` (plus `-sS -i` handling): returns the last response's status, headers
/// and body. Uses `--proxy-header`-free flags only; pass `-x` yourself.
pub async fn curl(args: &[&str]) -> Reply {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "-D", "-", "--noproxy", ""])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    parse_curl(out)
}

fn parse_curl(out: Output) -> Reply {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // With -D - the headers of every response (CONNECT's 200 included) precede the body.
    let mut rest = text.as_str();
    let mut status = 0;
    let mut headers = Vec::new();
    while rest.starts_with("HTTP/") {
        let Some((head, tail)) = rest.split_once("\r\n\r\n") else {
            break;
        };
        let mut lines = head.lines();
        status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        rest = tail;
    }
    Reply {
        status,
        headers,
        body: rest.to_owned(),
        stderr,
    }
}

/// The Python interpreter with `requests` (the repo's `.venv` when present).
pub fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs a Python script; returns (exit success, stdout, stderr).
pub async fn run_python(script: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let out = tokio::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("python runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
