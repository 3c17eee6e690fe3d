//! The stable interiors of a value's base64 encodings.
//!
//! Inside a base64 blob, a value starting at byte offset `o` has alignment `k = o mod 3`. The
//! encoder packs bits into 6-bit characters, so the value's `8n` bits run from bit `8k` to
//! `8k + 8n` of its 3-byte group run; character `i` covers bits `6i..6i + 6`. The characters
//! with `6i >= 8k` and `6i + 6 <= 8k + 8n` depend on the value alone: they appear verbatim
//! whatever precedes or follows it, and whether or not the blob is padded.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// The interiors for alignments 0, 1 and 2, in the standard and then the URL-safe alphabet.
pub(super) fn interiors(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(6);
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for k in 0..3usize {
            let mut aligned = vec![0u8; k];
            aligned.extend_from_slice(value);
            let encoded = engine.encode(&aligned);
            let start = (8 * k).div_ceil(6);
            let end = (8 * (k + value.len())) / 6;
            if let Some(interior) = encoded.as_bytes().get(start..end) {
                out.push(interior.to_vec());
            }
        }
    }
    out
}
