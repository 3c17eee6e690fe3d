//! Rotated-out CA certificates kept in the bundle until their overlap ends.
//!
//! `retired.pem` holds, for each one, a `trusted-until: <unix seconds>` line followed by its PEM
//! block. The line is explanatory text as RFC 7468 allows, but the file is ours: sandboxes get
//! `bundle.pem`, which has no such lines.

use crate::error::CaError;
use crate::pem;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The marker before each certificate in `retired.pem`.
const UNTIL: &str = "trusted-until:";

/// One rotated-out CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Retired {
    /// The certificate as one PEM block.
    pub(crate) pem: String,
    /// When it leaves the bundle (whole seconds).
    pub(crate) trusted_until: SystemTime,
}

impl Retired {
    /// Whether it still belongs in the bundle at `now`.
    pub(crate) fn trusted_at(&self, now: SystemTime) -> bool {
        self.trusted_until > now
    }
}

/// Parses `retired.pem`.
///
/// # Errors
/// [`CaError::Invalid`] naming `origin` for a certificate without its `trusted-until` line, a
/// bad timestamp, or a malformed block.
pub(crate) fn parse(text: &str, origin: &str) -> Result<Vec<Retired>, CaError> {
    let mut out = Vec::new();
    let mut until: Option<SystemTime> = None;
    let mut block: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end();
        let at = |message: &str| CaError::invalid(origin, format!("line {}: {message}", index + 1));
        if let Some(current) = block.as_mut() {
            current.push_str(line);
            current.push('\n');
            if line.starts_with("-----END CERTIFICATE-----") {
                let text = block.take().unwrap_or_default();
                let der = pem::certificates(&text, origin)?;
                let trusted_until = until
                    .take()
                    .ok_or_else(|| at("certificate without a trusted-until line"))?;
                out.extend(der.iter().map(|d| Retired {
                    pem: pem::encode("CERTIFICATE", d.as_ref()),
                    trusted_until,
                }));
            }
        } else if let Some(value) = line.strip_prefix(UNTIL) {
            let secs: u64 = value
                .trim()
                .parse()
                .map_err(|_| at("trusted-until is not a number of seconds"))?;
            until = Some(UNIX_EPOCH + Duration::from_secs(secs));
        } else if line.starts_with("-----BEGIN CERTIFICATE-----") {
            block = Some(format!("{line}\n"));
        } else if !line.is_empty() {
            return Err(at("unexpected text"));
        }
    }
    if block.is_some() {
        return Err(CaError::invalid(origin, "unterminated certificate block"));
    }
    Ok(out)
}

/// Renders `retired.pem`.
pub(crate) fn render(retired: &[Retired]) -> String {
    retired
        .iter()
        .map(|r| {
            let secs = r
                .trusted_until
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("{UNTIL} {secs}\n{}", r.pem)
        })
        .collect()
}

#[cfg(test)]
mod tests;
