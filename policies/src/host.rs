//! Host names and numeric hosts: the normalisation shared by policy rules and request
//! authorities, so that a rule and a request spell the same host the same way.
//!
//! - names: IDNA (UTS 46, STD3 rules) to lowercase punycode, then strict DNS label rules;
//! - numbers: the WHATWG URL IPv4 parser, so `2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1`
//!   are all recognised as the address they denote (and cannot pose as names).

use std::net::Ipv4Addr;

use idna::AsciiDenyList;

/// Longest DNS name, in ASCII characters, without the trailing dot.
const MAX_NAME_LEN: usize = 253;

/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// Converts a host name (no trailing dot) to lowercase ASCII punycode and checks it is a valid
/// DNS name. Numeric hosts are not handled here: check [`ends_in_number`] on the result first.
pub(crate) fn to_ascii(host: &str) -> Option<String> {
    idna::domain_to_ascii_cow(host.as_bytes(), AsciiDenyList::STD3)
        .ok()
        .map(|ascii| ascii.into_owned())
}

/// Whether `name` is lowercase ASCII made of 1–63 character labels of `[a-z0-9-]`, none
/// starting or ending with `-`, at most 253 characters in all.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.split('.').all(is_valid_label)
}

fn is_valid_label(label: &str) -> bool {
    (1..=MAX_LABEL_LEN).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// WHATWG "ends in a number": the last label is all digits or a valid IPv4 number (`0x…`).
/// Such a host must parse as an IPv4 address or be refused; it is never a name.
pub(crate) fn ends_in_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host);
    !last.is_empty() && (last.bytes().all(|b| b.is_ascii_digit()) || ipv4_number(last).is_some())
}

/// The WHATWG URL IPv4 parser: one to four dot-separated numbers, each decimal, `0x` hex or
/// leading-zero octal; the last fills the remaining bytes. `None` when any part is invalid.
pub(crate) fn parse_ipv4(host: &str) -> Option<Ipv4Addr> {
    let mut numbers = [0u64; 4];
    let mut count = 0usize;
    for part in host.split('.') {
        let slot = numbers.get_mut(count)?;
        *slot = ipv4_number(part)?;
        count = count.saturating_add(1);
    }
    let (last, init) = numbers.get(..count)?.split_last()?;
    if init.iter().any(|n| *n > 255) {
        return None;
    }
    let last_bits = 8u32.checked_mul(u32::try_from(5usize.checked_sub(count)?).ok()?)?;
    if *last >= 1u64.checked_shl(last_bits)? {
        return None;
    }
    let mut address = *last;
    for (i, n) in init.iter().enumerate() {
        let shift = 8u32.checked_mul(3u32.checked_sub(u32::try_from(i).ok()?)?)?;
        address |= n.checked_shl(shift)?;
    }
    u32::try_from(address).ok().map(Ipv4Addr::from)
}

/// One WHATWG IPv4 number: decimal, `0x`/`0X` hex (an empty `0x` is zero), or octal when it
/// has a leading zero. `None` for an empty part, a bad digit or a value beyond `u64`.
fn ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or(part.strip_prefix("0X")) {
        (hex, 16)
    } else if part.len() > 1
        && let Some(octal) = part.strip_prefix('0')
    {
        (octal, 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        return Some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests;
