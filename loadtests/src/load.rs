//! The load every throughput scenario (`http-forward`, `bump-inject`) puts on each target: how
//! long, how many connections and sessions, which body size, within which bounds. One type
//! serves as command-line options, as scenario options and, as [`LoadSettings`], in the report.

#[cfg(test)]
mod tests;

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::cli::parse_duration;
use crate::client::Phases;
use crate::error::Error;

/// How each target of a throughput scenario is loaded.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct Load {
    /// Measured time per target (e.g. `10s`, `500ms`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unmeasured warm-up per target.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Sessions (edge tokens) the connections are spread over: connection `i` uses session
    /// `i % sessions`.
    #[arg(long, default_value_t = 16)]
    pub sessions: usize,
    /// Response body size in bytes.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Hard cap on requests per target.
    #[arg(long, default_value_t = 50_000_000)]
    pub max_requests: u64,
    /// Bound on one connection set-up or one request/response exchange.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

impl Load {
    /// Checks that there is a connection, a session and a measured window.
    ///
    /// # Errors
    /// `connections` or `sessions` is zero, or `duration` is.
    pub fn validate(&self) -> Result<(), Error> {
        if self.connections == 0 || self.sessions == 0 {
            return Err(Error::Config(
                "connections and sessions must be at least 1".into(),
            ));
        }
        if self.duration.is_zero() {
            return Err(Error::Config("--duration must be greater than zero".into()));
        }
        Ok(())
    }

    /// Warm-up then measurement, starting now.
    pub fn phases(&self) -> Phases {
        Phases::starting_now(self.warmup, self.duration)
    }

    /// The load as the report states it.
    pub fn settings(&self) -> LoadSettings {
        LoadSettings {
            duration_s: self.duration.as_secs_f64(),
            warmup_s: self.warmup.as_secs_f64(),
            connections: self.connections,
            sessions: self.sessions,
            body_bytes: self.body_bytes,
        }
    }
}

/// The load in a report's settings (flattened into them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadSettings {
    /// Measured seconds per target.
    pub duration_s: f64,
    /// Warm-up seconds per target (not measured).
    pub warmup_s: f64,
    /// Concurrent connections.
    pub connections: usize,
    /// Sessions (tokens) the connections are spread over.
    pub sessions: usize,
    /// Response body bytes.
    pub body_bytes: usize,
}
