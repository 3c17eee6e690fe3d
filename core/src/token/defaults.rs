//! Every default of the session-token module, with the reason it has that value.

use std::time::Duration;

/// The `iss` the edge expects and the control plane writes: one name for the whole deployment,
/// so a token minted by anything else (another product sharing a key by mistake) is refused.
pub const ISSUER: &str = "trust-edge";

/// The `aud` of an egress token. Distinct from any other audience the control plane may sign
/// for (gateway, admin), so an egress token cannot be replayed against another service.
pub const AUDIENCE: &str = "trust-edge-egress";

/// Clock skew tolerated on `exp` and `nbf`. Control and edges run NTP; 30 s covers a lagging
/// host without meaningfully extending a token that lives for hours.
pub const LEEWAY: Duration = Duration::from_secs(30);

/// Verified tokens kept in memory. One entry per live session token (a few hundred bytes each):
/// 65 536 sessions per edge is well past what one edge serves, at roughly 20–30 MiB at most.
pub const CACHE_CAPACITY: usize = 65_536;

/// Hashes of refused tokens kept so that a flood of the same bad token costs one SHA-256 and
/// one lookup instead of a signature check. 32 bytes per entry: 16 384 entries is about 1 MiB.
pub const NEGATIVE_CACHE_CAPACITY: usize = 16_384;

/// An unknown `kid` triggers a key-source refresh at most this often. A rotation is picked up
/// within seconds, while a flood of tokens with made-up `kid`s cannot hammer the JWKS source.
pub const UNKNOWN_KID_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// The longest token accepted, in bytes. Our tokens are a few hundred bytes; anything near this
/// is hostile, and refusing it before hashing or base64-decoding bounds the work per request.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// How long one JWKS fetch over HTTP may take. A refresh is single-flight, so requests with an
/// unknown `kid` wait at most this long; requests with known keys never wait.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest JWKS document read from a file or URL. A real one is a few KiB; the cap keeps a
/// broken or hostile source from exhausting memory.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The most keys one JWKS may carry. Rotation needs two or three; the cap bounds the key map.
pub const MAX_JWKS_KEYS: usize = 64;
