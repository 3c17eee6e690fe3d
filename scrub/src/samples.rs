//! Test-only sample values and their encodings, computed independently of `forms`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

/// A realistic API key (76 bytes).
pub(crate) const KEY: &str =
    "sk-ant-api03-Zx9_Qm4tR7vL2pW8sN3kJ6hF1dG5yB0cX-aE7uI2oP4qT9rY3wS8zA-Kd3Lm5Np7Q";

/// A value full of characters every encoding treats specially.
pub(crate) const SPECIAL: &str = "a/b+c=d\"e\\f g&h";

/// Every form the crate promises to find, named, computed with `format!` and the base64 crate
/// rather than with the crate's own encoders.
pub(crate) fn encodings(value: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let text = std::str::from_utf8(value).unwrap();
    let percent = |upper: bool, plus: bool, every: bool| -> Vec<u8> {
        let mut s = String::new();
        for &b in value {
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            if plus && b == b' ' {
                s.push('+');
            } else if unreserved && !every {
                s.push(char::from(b));
            } else if upper {
                s.push_str(&format!("%{b:02X}"));
            } else {
                s.push_str(&format!("%{b:02x}"));
            }
        }
        s.into_bytes()
    };
    let json = |extra: &dyn Fn(char) -> Option<String>| -> Vec<u8> {
        let mut s = String::new();
        for c in text.chars() {
            if let Some(e) = extra(c) {
                s.push_str(&e);
                continue;
            }
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c if u32::from(c) < 0x20 => s.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => s.push(c),
            }
        }
        s.into_bytes()
    };
    vec![
        ("raw", value.to_vec()),
        ("base64", STANDARD.encode(value).into_bytes()),
        ("base64url", URL_SAFE.encode(value).into_bytes()),
        ("percent upper", percent(true, false, false)),
        ("percent lower", percent(false, false, false)),
        ("percent plus upper", percent(true, true, false)),
        ("percent plus lower", percent(false, true, false)),
        ("percent every upper", percent(true, false, true)),
        ("percent every lower", percent(false, false, true)),
        (
            "hex lower",
            value
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "hex upper",
            value
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<String>()
                .into_bytes(),
        ),
        ("json", json(&|_| None)),
        (
            "json slash",
            json(&|c| (c == '/').then(|| "\\/".to_string())),
        ),
        (
            "json html-safe",
            json(&|c| {
                "<>&"
                    .contains(c)
                    .then(|| format!("\\u{:04x}", u32::from(c)))
            }),
        ),
        (
            "json all-unicode lower",
            json(&|c| (!c.is_ascii_alphanumeric()).then(|| format!("\\u{:04x}", u32::from(c)))),
        ),
        (
            "json all-unicode upper",
            json(&|c| (!c.is_ascii_alphanumeric()).then(|| format!("\\u{:04X}", u32::from(c)))),
        ),
        (
            "html go",
            text.replace('&', "&amp;")
                .replace('"', "&#34;")
                .into_bytes(),
        ),
        (
            "html python",
            text.replace('&', "&amp;")
                .replace('"', "&quot;")
                .into_bytes(),
        ),
    ]
}

/// Deterministic pseudo-random bytes (xorshift), for fixed test bodies.
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// How many times `needle` occurs in `haystack` (non-overlapping, left to right).
pub(crate) fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while let Some(pos) = haystack[at..]
        .windows(needle.len())
        .position(|w| w == needle)
    {
        n += 1;
        at += pos + needle.len();
    }
    n
}
