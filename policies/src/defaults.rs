//! Every default the policy language applies when a file leaves a value out.
//!
//! Each default is finite: a missing limit never means "unlimited".

use std::time::Duration;

use crate::model::{Mode, TripwireAction};

/// `spec.mode`: enforce. A profile that says nothing about mode must fail closed; `report`
/// relaxes decisions and has to be asked for.
pub const MODE: Mode = Mode::Enforce;

/// `ports` of a host rule: 443 only. Nearly all sandbox egress is HTTPS, and allowing plain
/// port 80 (or any other) should be a visible line in the file.
pub const PORTS: &[u16] = &[443];

/// `limits.requests_per_second`: 50. Covers a package manager resolving a large dependency
/// tree while stopping a runaway loop quickly.
pub const REQUESTS_PER_SECOND: u32 = 50;

/// `limits.burst`: 100. Two seconds of the sustained rate, enough for the parallel fetches
/// pip and npm make at start-up.
pub const BURST: u32 = 100;

/// `limits.max_connections`: 64 concurrent connections per session. Above what browsers and
/// package managers open (6–16 per host, a few hosts at once), low enough to bound one
/// session's share of the edge.
pub const MAX_CONNECTIONS: u32 = 64;

/// `limits.tunnel_idle_timeout`: 5 minutes. Long enough for a slow build step between
/// requests on a kept-alive connection, short enough that forgotten tunnels are reclaimed.
pub const TUNNEL_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `limits.tunnel_max_lifetime`: 1 hour. Bounds how long a tunnel outlives a policy change
/// or revocation decision taken at its start; clients reconnect transparently.
pub const TUNNEL_MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// `tripwire.upload_bytes`: 256 MiB per window. Far above what installing packages or calling
/// APIs uploads, far below a bulk copy of a repository or dataset.
pub const TRIPWIRE_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// `tripwire.distinct_destinations`: 200 per window. Dependency resolution touches tens of
/// hosts; hundreds of distinct names in minutes looks like scanning or DNS-shaped leaks.
pub const TRIPWIRE_DISTINCT_DESTINATIONS: u32 = 200;

/// `tripwire.window`: 10 minutes, the span over which the tripwire counters accumulate.
pub const TRIPWIRE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// `tripwire.action`: alert. A new profile should learn its normal traffic before the
/// tripwire starts cutting sessions off; `deny` is one line away.
pub const TRIPWIRE_ACTION: TripwireAction = TripwireAction::Alert;

/// Largest policy file read (1 MiB); a bigger one is refused rather than parsed.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
