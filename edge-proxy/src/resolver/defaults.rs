//! Default values of the edge's resolver configuration, and why.

use std::time::Duration;

/// Shortest time a positive answer is cached: 0 s, so a TTL-0 answer is looked up again on the
/// next request instead of being pinned (the edge dials the address it checked, so a short TTL
/// costs lookups, never safety).
pub const MIN_TTL: Duration = Duration::from_secs(0);

/// Longest time a positive answer is cached: 300 s, so a moved service is followed within five
/// minutes even when its zone publishes day-long TTLs.
pub const MAX_TTL: Duration = Duration::from_secs(300);

/// Longest time a negative answer (NXDOMAIN, or no record of the type) is cached: 30 s, which
/// absorbs retry storms for a missing name without hiding a newly created one for long. The
/// zone's SOA minimum applies below it; without an SOA the answer is not cached.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// Time allowed for one query to one name server: 2 s. A proxy user waits for the whole
/// lookup, so this is well below the 5 s of resolv.conf.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Tries per query (the first one included): 2, so one lost UDP packet does not fail a
/// request. A lookup never takes longer than `timeout × attempts`.
pub const ATTEMPTS: usize = 2;

/// Cached responses (A and AAAA are cached separately): 8192, hickory's own default; about a
/// few MiB at most.
pub const CACHE_SIZE: usize = 8192;

/// Whether the system's name servers (`/etc/resolv.conf`) are used: yes, so an edge with no
/// resolver section works on any host. Its search domains and options are never used: the
/// edge looks up exactly the name it was given.
pub const USE_SYSTEM_CONFIG: bool = true;
