//! Percent-encoded forms of a value. Encoders disagree on which bytes they leave alone, so each
//! common safe set is covered: RFC 3986 unreserved (Python `quote`, Go `PathEscape`), letters and
//! digits only (many hand-rolled encoders), JavaScript's `encodeURIComponent`, Java's
//! `URLEncoder` (space as `+`, `~` encoded), HTML form encoding, and every byte.

use super::{HEX_LOWER, HEX_UPPER, hex_digits};

/// Every encoder's form, each in upper- then lower-case hex (duplicates are merged later).
pub(super) fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    let modes = [
        Mode::Minimal,
        Mode::PlusForSpace,
        Mode::AlphanumericOnly,
        Mode::UriComponent,
        Mode::JavaUrlEncoder,
        Mode::EveryByte,
    ];
    let mut out = Vec::with_capacity(modes.len() * 2);
    for digits in [HEX_UPPER, HEX_LOWER] {
        for mode in modes {
            out.push(encode(value, digits, mode));
        }
    }
    out
}

/// Every byte outside the unreserved set as `%XX`, hex digits from `digits`.
pub(super) fn minimal(value: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    encode(value, digits, Mode::Minimal)
}

/// Which bytes become `%XX`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every byte outside the unreserved set.
    Minimal,
    /// As `Minimal`, but space becomes `+`.
    PlusForSpace,
    /// Every byte but ASCII letters and digits.
    AlphanumericOnly,
    /// JavaScript `encodeURIComponent`: also leaves `!*'()` alone.
    UriComponent,
    /// Java `URLEncoder`: leaves `.-*_` alone, space as `+`, encodes `~`.
    JavaUrlEncoder,
    /// Every byte.
    EveryByte,
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 section 2.3).
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// `value` percent-encoded per `mode`, hex digits from `digits`.
fn encode(value: &[u8], digits: &[u8; 16], mode: Mode) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &byte in value {
        match mode {
            Mode::PlusForSpace if byte == b' ' => out.push(b'+'),
            Mode::JavaUrlEncoder if byte == b' ' => out.push(b'+'),
            Mode::Minimal | Mode::PlusForSpace if is_unreserved(byte) => out.push(byte),
            Mode::AlphanumericOnly if byte.is_ascii_alphanumeric() => out.push(byte),
            Mode::UriComponent
                if is_unreserved(byte) || matches!(byte, b'!' | b'*' | b'\'' | b'(' | b')') =>
            {
                out.push(byte);
            }
            Mode::JavaUrlEncoder
                if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'*' | b'_') =>
            {
                out.push(byte);
            }
            _ => {
                out.push(b'%');
                out.extend_from_slice(&hex_digits(byte, digits));
            }
        }
    }
    out
}
