//! JSON string escapes of a value, as common serialisers write them.

use super::{HEX_LOWER, HEX_UPPER, hex_digits};

/// serde_json, `\/`, Go (HTML-safe), Python (`ensure_ascii`) and the two all-`\uXXXX` forms.
pub(super) fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    vec![
        escape(value, Style::Serde),
        escape(value, Style::EscapedSlash),
        escape(value, Style::HtmlSafe),
        escape(value, Style::AsciiOnly),
        escape(value, Style::AllUnicode(HEX_LOWER)),
        escape(value, Style::AllUnicode(HEX_UPPER)),
    ]
}

/// `value` with each `/` as `\/` and nothing else changed: a base64 interior inside a string
/// written by PHP's `json_encode`.
pub(super) fn escape_slashes(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + value.len() / 8);
    for &byte in value {
        if byte == b'/' {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out
}

/// Which characters a serialiser escapes, beyond `"`, `\` and control characters.
#[derive(Clone, Copy)]
enum Style {
    /// serde_json and JavaScript's `JSON.stringify`: nothing more.
    Serde,
    /// Also `/` as `\/` (PHP's `json_encode`, some Java libraries).
    EscapedSlash,
    /// Also `<`, `>` and `&` as `\u003c`, `\u003e` and `\u0026` (Go's `encoding/json`).
    HtmlSafe,
    /// Also every non-ASCII character as `\uXXXX` (Python's `json.dumps`).
    AsciiOnly,
    /// Every character but ASCII letters and digits as `\uXXXX`, with these hex digits.
    AllUnicode(&'static [u8; 16]),
}

/// `value` escaped for the inside of a JSON string in `style`.
///
/// A value that is not UTF-8 is escaped byte by byte, its non-ASCII bytes left as they are.
fn escape(value: &[u8], style: Style) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 2);
    match std::str::from_utf8(value) {
        Ok(text) => {
            for ch in text.chars() {
                escape_char(ch, style, &mut out);
            }
        }
        Err(_) => {
            for &byte in value {
                if byte.is_ascii() {
                    escape_char(char::from(byte), style, &mut out);
                } else {
                    out.push(byte);
                }
            }
        }
    }
    out
}

/// Appends `ch` escaped in `style`.
fn escape_char(ch: char, style: Style, out: &mut Vec<u8>) {
    if let Style::AllUnicode(digits) = style {
        if ch.is_ascii_alphanumeric() {
            out.push(ch as u8);
        } else {
            unicode_escape(ch, digits, out);
        }
        return;
    }
    match ch {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\u{08}' => out.extend_from_slice(b"\\b"),
        '\u{0c}' => out.extend_from_slice(b"\\f"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        c if c < ' ' => unicode_escape(c, HEX_LOWER, out),
        '/' if matches!(style, Style::EscapedSlash) => out.extend_from_slice(b"\\/"),
        '<' | '>' | '&' if matches!(style, Style::HtmlSafe) => {
            unicode_escape(ch, HEX_LOWER, out);
        }
        c if !c.is_ascii() && matches!(style, Style::AsciiOnly) => {
            unicode_escape(c, HEX_LOWER, out);
        }
        c => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Appends `ch` as `\uXXXX`, or as a surrogate pair of them outside the BMP.
fn unicode_escape(ch: char, digits: &[u8; 16], out: &mut Vec<u8>) {
    let mut units = [0u16; 2];
    for &unit in ch.encode_utf16(&mut units).iter() {
        let [high, low] = unit.to_be_bytes();
        out.extend_from_slice(b"\\u");
        out.extend_from_slice(&hex_digits(high, digits));
        out.extend_from_slice(&hex_digits(low, digits));
    }
}
