//! The chained line format: sealing a serialised event and splitting a line for verification.
//!
//! A line is `<event JSON without its closing brace>,"sequence":N,"prev_hash":"<64 hex>"`
//! (the *prefix*), then `,"hash":"<64 hex>"}` and `\n`, where `hash` is the SHA-256 of the prefix
//! bytes. The suffix has a fixed shape, so a verifier finds the prefix by position and re-hashes
//! the exact bytes written: nothing is re-serialised.

use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Length of a hex SHA-256.
pub(crate) const HASH_HEX_LEN: usize = 64;
const SEQUENCE_KEY: &[u8] = b",\"sequence\":";
const PREV_HASH_KEY: &[u8] = b",\"prev_hash\":\"";
const HASH_KEY: &[u8] = b",\"hash\":\"";
const LINE_END: &[u8] = b"\"}\n";
/// Bytes after the prefix: `,"hash":"` + 64 hex + `"}` (the newline excluded).
const SUFFIX_LEN: usize = HASH_KEY.len() + HASH_HEX_LEN + 2;

/// A SHA-256 as 64 lowercase hex digits (the form in which it is written and compared).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HexHash([u8; HASH_HEX_LEN]);

impl HexHash {
    /// The `prev_hash` of the first record of a log: 64 zeros.
    pub(crate) const GENESIS: HexHash = HexHash([b'0'; HASH_HEX_LEN]);

    /// The hash of `bytes`.
    pub(crate) fn of(bytes: &[u8]) -> HexHash {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(bytes);
        let mut out = [0u8; HASH_HEX_LEN];
        for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
            if let [hi, lo] = pair {
                *hi = DIGITS.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                *lo = DIGITS
                    .get(usize::from(byte & 0x0f))
                    .copied()
                    .unwrap_or(b'0');
            }
        }
        HexHash(out)
    }

    /// Parses 64 lowercase hex digits.
    pub(crate) fn parse(text: &[u8]) -> Option<HexHash> {
        let bytes: [u8; HASH_HEX_LEN] = text.try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(HexHash(bytes))
    }

    /// The hex digits.
    pub(crate) fn as_bytes(&self) -> &[u8; HASH_HEX_LEN] {
        &self.0
    }

    /// The hex digits as text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for HexHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for HexHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes [`seal`] appends for `sequence`, newline included.
pub(crate) fn sealed_len(sequence: u64) -> usize {
    SEQUENCE_KEY.len()
        + decimal_len(sequence)
        + PREV_HASH_KEY.len()
        + HASH_HEX_LEN
        + 1
        + HASH_KEY.len()
        + HASH_HEX_LEN
        + LINE_END.len()
}

/// Turns `line`, holding a serialised event, into a complete record line and returns its hash.
///
/// `line` must hold exactly one JSON object (`{...}`) and nothing else; its closing brace is
/// replaced by the chain fields.
pub(crate) fn seal(line: &mut Vec<u8>, sequence: u64, prev_hash: &HexHash) -> HexHash {
    if line.last() == Some(&b'}') {
        line.pop();
    }
    if line.len() > 1 {
        line.extend_from_slice(SEQUENCE_KEY);
    } else {
        line.extend_from_slice(SEQUENCE_KEY.get(1..).unwrap_or_default());
    }
    push_decimal(line, sequence);
    line.extend_from_slice(PREV_HASH_KEY);
    line.extend_from_slice(prev_hash.as_bytes());
    line.push(b'"');
    let hash = HexHash::of(line);
    line.extend_from_slice(HASH_KEY);
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(LINE_END);
    hash
}

/// Splits a line (without its newline) into the hashed prefix and the stored hash, if it has the
/// record suffix `,"hash":"<64 hex>"}`.
pub(crate) fn split(line: &[u8]) -> Option<(&[u8], HexHash)> {
    let prefix_len = line.len().checked_sub(SUFFIX_LEN)?;
    let (prefix, suffix) = line.split_at_checked(prefix_len)?;
    let rest = suffix.strip_prefix(HASH_KEY)?;
    let hex = rest.strip_suffix(b"\"}")?;
    Some((prefix, HexHash::parse(hex)?))
}

/// The fields of a line that the chain and resuming need; every other field is ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct LineMeta<'a> {
    /// The record's sequence.
    pub(crate) sequence: u64,
    /// The previous record's hash, as written.
    #[serde(borrow)]
    pub(crate) prev_hash: &'a str,
    /// The activity, to recognise the log's own records.
    #[serde(borrow, default)]
    pub(crate) activity: std::borrow::Cow<'a, str>,
    /// On an `audit_gap` record, the number of dropped events.
    #[serde(default)]
    pub(crate) count: Option<u64>,
}

/// A line that has the record shape: its prefix, stored hash and chain fields.
#[derive(Debug)]
pub(crate) struct ParsedLine<'a> {
    /// The bytes the hash covers.
    pub(crate) prefix: &'a [u8],
    /// The hash as written.
    pub(crate) hash: HexHash,
    /// The `prev_hash` as written.
    pub(crate) prev_hash: HexHash,
    /// The chain fields.
    pub(crate) meta: LineMeta<'a>,
}

impl<'a> ParsedLine<'a> {
    /// Parses a line (without its newline); `None` if it is not a record line.
    pub(crate) fn parse(line: &'a [u8]) -> Option<ParsedLine<'a>> {
        let (prefix, hash) = split(line)?;
        let meta: LineMeta<'a> = serde_json::from_slice(line).ok()?;
        let prev_hash = HexHash::parse(meta.prev_hash.as_bytes())?;
        Some(ParsedLine {
            prefix,
            hash,
            prev_hash,
            meta,
        })
    }

    /// Whether the stored hash is the hash of the prefix.
    pub(crate) fn hash_matches(&self) -> bool {
        HexHash::of(self.prefix) == self.hash
    }
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            // n % 10 < 10, so the cast cannot truncate.
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests;
