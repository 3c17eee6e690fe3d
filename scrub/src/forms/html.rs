//! HTML-escaped forms of a value, as templating and error pages reflect it.

/// Go (`&#34;`, `&#39;`), Python (`&quot;`, `&#x27;`) and PHP (`&quot;`, `&#039;`) escapes.
pub(super) fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    vec![
        escape(value, "&#34;", "&#39;"),
        escape(value, "&quot;", "&#x27;"),
        escape(value, "&quot;", "&#039;"),
    ]
}

/// `value` with `&`, `<`, `>` escaped by name and `"`, `'` as `quot`, `apos`.
fn escape(value: &[u8], quot: &str, apos: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + value.len() / 4);
    for &byte in value {
        match byte {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(quot.as_bytes()),
            b'\'' => out.extend_from_slice(apos.as_bytes()),
            _ => out.push(byte),
        }
    }
    out
}
