//! The validity window written into a certificate: backdated, whole seconds, capped.

use crate::defaults::BACKDATE;
use crate::error::CaError;
use rcgen::CertificateParams;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;

/// `not_before ..= not_after`, in whole seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    not_before: u64,
    not_after: u64,
}

impl Validity {
    /// Starts [`BACKDATE`] before `now` and lasts until `now + length`, but never past `cap`.
    ///
    /// # Errors
    /// [`CaError::Expired`] when the capped window has already ended (or is empty).
    pub(crate) fn new(
        now: SystemTime,
        length: Duration,
        cap: Option<SystemTime>,
    ) -> Result<Validity, CaError> {
        let now_secs = secs(now);
        let mut not_after = now_secs.saturating_add(length.as_secs());
        if let Some(cap) = cap {
            not_after = not_after.min(secs(cap));
        }
        if not_after <= now_secs {
            return Err(CaError::Expired);
        }
        Ok(Validity {
            not_before: now_secs.saturating_sub(BACKDATE.as_secs()),
            not_after,
        })
    }

    /// The end of the window.
    pub(crate) fn not_after(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.not_after)
    }

    /// Writes the window into `params`.
    ///
    /// # Errors
    /// [`CaError::Generate`] when a time is outside what X.509 can encode.
    pub(crate) fn apply(&self, params: &mut CertificateParams) -> Result<(), CaError> {
        params.not_before = datetime(self.not_before)?;
        params.not_after = datetime(self.not_after)?;
        Ok(())
    }
}

/// Whole seconds since the epoch (0 before it).
pub(crate) fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn datetime(secs: u64) -> Result<OffsetDateTime, CaError> {
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| CaError::generate(format!("time {secs} out of range")))
}

/// `t` truncated to whole seconds, as certificates and `retired.pem` store it.
pub(crate) fn round_down(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs(t))
}
