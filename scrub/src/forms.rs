//! Every encoded form of one secret value that an upstream might reflect back.
//!
//! For a value `v`, [`of`] returns these byte strings (deduplicated; derived forms shorter
//! than [`MIN_DERIVED_LEN`] bytes are dropped because they would match innocent text, the raw
//! form is always kept):
//!
//! - **raw**: `v` itself.
//! - **base64**, standard (`+/`) and URL-safe (`-_`) alphabets: for each of the 3 byte
//!   alignments `v` can have inside a larger blob, the *stable interior*: the characters whose
//!   6 bits all come from `v`. They are the same whatever bytes surround `v`, so `v` is found
//!   at any offset of a bigger base64'd blob, with or without padding (see [`base64_interior`]).
//!   The standard-alphabet interiors also as a URL query carries them (`+` and `/` as `%2B`
//!   and `%2F`, upper and lower hex) and as PHP's `json_encode` writes them (`/` as `\/`).
//! - **percent-encoding** (see [`percent`]): every byte outside the unreserved set
//!   `ALPHA / DIGIT / - . _ ~` as `%XX`, in upper- and lower-case hex; the same with space as
//!   `+` (form encoding); and every byte as `%XX`, upper and lower.
//! - **hex**, lower and upper case.
//! - **JSON string escapes** (see [`json`]): as serde_json writes them; the same with `/` as
//!   `\/`; with `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026` (Go's `encoding/json`); with
//!   non-ASCII as `\uXXXX` (Python's `ensure_ascii`); and every non-alphanumeric character as
//!   `\uXXXX`, lower- and upper-case hex.
//! - **HTML escapes** (see [`html`]), as an error page reflects a value: `&`, `<`, `>`, `"`
//!   and `'` as Go's `html.EscapeString` (`&#34;`, `&#39;`), Python's `html.escape`
//!   (`&quot;`, `&#x27;`) and PHP's `htmlspecialchars` (`&quot;`, `&#039;`) write them.
//!
//! Not covered: other forms of forms (e.g. percent-encoded JSON), mixed-case hex, base64
//! broken by line wrapping, and encodings that escape other characters than those above.

mod base64_interior;
mod html;
mod json;
mod percent;

/// Derived forms shorter than this are dropped: too likely to occur in innocent text.
pub(crate) const MIN_DERIVED_LEN: usize = 8;

/// Every form of `value` to search for: raw first, then the derived forms, without duplicates.
///
/// An empty value has no forms.
pub(crate) fn of(value: &[u8]) -> Vec<Vec<u8>> {
    if value.is_empty() {
        return Vec::new();
    }
    let mut derived = Vec::new();
    for interior in base64_interior::interiors(value) {
        let in_url_upper = percent::minimal(&interior, HEX_UPPER);
        let in_url_lower = percent::minimal(&interior, HEX_LOWER);
        let in_php_json = json::escape_slashes(&interior);
        derived.extend([interior, in_url_upper, in_url_lower, in_php_json]);
    }
    derived.extend(percent::forms(value));
    derived.push(hex(value, HEX_LOWER));
    derived.push(hex(value, HEX_UPPER));
    derived.extend(json::forms(value));
    derived.extend(html::forms(value));

    let mut forms = vec![value.to_vec()];
    for form in derived {
        if form.len() >= MIN_DERIVED_LEN && !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// Lower-case hex digits.
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
/// Upper-case hex digits.
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The two hex digits of `byte`, high nibble first, from `digits`.
fn hex_digits(byte: u8, digits: &[u8; 16]) -> [u8; 2] {
    let pick = |nibble: u8| digits.get(usize::from(nibble)).copied().unwrap_or(b'0');
    [pick(byte >> 4), pick(byte & 0x0f)]
}

/// `value` as hex, two digits per byte from `digits`.
fn hex(value: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    value.iter().flat_map(|&b| hex_digits(b, digits)).collect()
}

#[cfg(test)]
mod tests;
