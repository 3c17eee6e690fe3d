//! Durations (`30s`, `5m`, `1h30m`) and sizes (`256MiB`, `1GiB`, `1000`) as written in policy
//! files. Both are strict: no spaces, no fractions, no unknown units, no overflow.

use std::time::Duration;

/// Parses `1h`, `5m`, `30s`, `1h30m`, `2h5m10s`: hours, minutes and seconds in that order,
/// each at most once.
///
/// # Errors
/// A plain sentence saying what is wrong.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(char, u64); 3] = [('h', 3600), ('m', 60), ('s', 1)];
    if text.is_empty() {
        return Err("a duration cannot be empty; write e.g. `30s`, `5m` or `1h30m`".to_owned());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "duration `{text}` needs a unit; write e.g. `{text}s` or `{text}m`"
        ));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let mut chars = tail.chars();
        let unit = chars.next();
        let value: u64 = number.parse().map_err(|_| bad_duration(text))?;
        let Some(index) = UNITS.iter().position(|(c, _)| Some(*c) == unit) else {
            return Err(bad_duration(text));
        };
        if index < next_unit {
            return Err(bad_duration(text));
        }
        next_unit = index.saturating_add(1);
        let scale = UNITS.get(index).map_or(1, |(_, s)| *s);
        total = value
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
        rest = chars.as_str();
    }
    Ok(Duration::from_secs(total))
}

fn bad_duration(text: &str) -> String {
    format!(
        "`{text}` is not a duration; write whole hours, minutes and seconds in that order, \
         e.g. `30s`, `5m`, `1h` or `1h30m`"
    )
}

/// Parses a byte size: a bare number of bytes (`1000`), or a number with `B`, `KiB`, `MiB`,
/// `GiB` or `TiB`.
///
/// # Errors
/// A plain sentence saying what is wrong.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 6] = [
        ("", 1),
        ("B", 1),
        ("KiB", 1 << 10),
        ("MiB", 1 << 20),
        ("GiB", 1 << 30),
        ("TiB", 1 << 40),
    ];
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let bad = || {
        format!(
            "`{text}` is not a size; write a number of bytes or use B, KiB, MiB, GiB or TiB, e.g. `256MiB`"
        )
    };
    let value: u64 = number.parse().map_err(|_| bad())?;
    let scale = UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, s)| *s)
        .ok_or_else(bad)?;
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

/// Writes a duration the way [`parse_duration`] reads it: `1h30m`, `5m`, `30s`, `0s`
/// (whole seconds; a fraction is dropped).
pub(crate) fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Writes a size the way [`parse_size`] reads it, in the largest unit that divides it:
/// `256MiB`, `1GiB`, `1000`.
pub(crate) fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests;
