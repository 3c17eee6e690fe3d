//! How a CA is created or rotated.

use crate::defaults;
use std::time::Duration;

/// Parameters for creating or rotating a CA; see [`crate::defaults`] for why each default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaOptions {
    /// Validity of a new CA certificate.
    pub validity: Duration,
    /// How long the previous CA certificate stays in the bundle after a rotation.
    pub overlap: Duration,
    /// Validity of a minted leaf (used by callers building a [`crate::LeafCache`]).
    pub leaf_validity: Duration,
    /// Common name of a new CA certificate.
    pub common_name: String,
}

impl Default for CaOptions {
    fn default() -> Self {
        CaOptions {
            validity: defaults::CA_VALIDITY,
            overlap: defaults::CA_OVERLAP,
            leaf_validity: defaults::LEAF_VALIDITY,
            common_name: defaults::COMMON_NAME.to_owned(),
        }
    }
}
