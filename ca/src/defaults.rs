//! Every default of the CA, with the reason for its value.

use std::time::Duration;

const DAY: u64 = 24 * 60 * 60;

/// Validity of a newly created CA certificate: one year, so a forgotten rotation is noticed
/// (see [`EXPIRY_WARNING`]) long before it breaks every sandbox.
pub const CA_VALIDITY: Duration = Duration::from_secs(365 * DAY);

/// How long a rotated-out CA certificate stays in `bundle.pem`: 30 days, longer than any leaf
/// it signed lives, so no handshake breaks at the moment of rotation.
pub const CA_OVERLAP: Duration = Duration::from_secs(30 * DAY);

/// Validity of a minted leaf: 24 hours. Leaves are cached per host and re-minted, so a short
/// life costs one signature a day per host while limiting what a copied leaf key is worth.
pub const LEAF_VALIDITY: Duration = Duration::from_secs(DAY);

/// Common name of a newly created CA certificate; it is what users see in a browser or in
/// `openssl x509 -text`.
pub const COMMON_NAME: &str = "trust-edge deployment CA";

/// How far `not_before` is set in the past, on the CA and on every leaf: five minutes, to
/// absorb clock skew between the edge and a sandbox.
pub const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// A cached leaf is re-minted once less than `leaf_validity / REMINT_DIVISOR` of it remains,
/// so a handshake never receives a leaf about to expire.
pub const REMINT_DIVISOR: u32 = 4;

/// Leaves kept in a [`crate::LeafCache`] when the caller has no better number: enough for
/// every host a deployment's policies name, small enough (≈ 2 KiB per leaf) to be harmless.
pub const CACHE_CAPACITY: usize = 4096;

/// The CA is reported as expiring (`trust-edge ca export` warns, the edge alarms) once it has
/// less than 30 days left: time enough to rotate and let sandboxes pick up the new bundle.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * DAY);
