//! The `host[:port]` of a CONNECT target or an absolute URI, normalised for matching.
//!
//! Every spelling of a host a client might use is brought to one form before the policy sees
//! it: names become lowercase punycode without a trailing dot; IP literals in every spelling
//! (dotted quad, the WHATWG numeric forms `2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`,
//! bracketed IPv6) become [`Destination::Ip`]. Anything ambiguous is refused.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

pub use crate::error::AuthorityError;
use crate::host;

/// Longest authority accepted, in bytes (a 253-character name in Unicode, a port, brackets).
const MAX_AUTHORITY_LEN: usize = 1024;

/// A normalised request destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A DNS name: lowercase ASCII (punycode), no trailing dot.
    Name(String),
    /// An IP literal, in any of its spellings.
    Ip(IpAddr),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Name(name) => f.write_str(name),
            Destination::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Destination::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// Parses and normalises `host[:port]`; `default_port` applies when no port is written
/// (`Some(80)` for an `http://` URI, `None` for CONNECT, which must name its port).
///
/// Never panics, on any input.
///
/// # Errors
/// [`AuthorityError`] for a malformed authority; [`AuthorityError::ZoneId`] for an IPv6 literal
/// with a zone id, which the edge refuses like any unlisted IP literal.
pub fn parse_authority(
    authority: &str,
    default_port: Option<u16>,
) -> Result<(Destination, u16), AuthorityError> {
    if authority.is_empty() {
        return Err(AuthorityError::EmptyHost);
    }
    if authority.len() > MAX_AUTHORITY_LEN {
        return Err(AuthorityError::TooLong);
    }
    if authority.contains('@') {
        return Err(AuthorityError::Userinfo);
    }
    if authority
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AuthorityError::InvalidCharacter);
    }
    if let Some(bracketed) = authority.strip_prefix('[') {
        return parse_bracketed(bracketed, default_port);
    }
    if authority.contains(['[', ']']) {
        return Err(AuthorityError::InvalidIpv6);
    }
    if authority.contains(['%', '/', '\\', '?', '#']) {
        return Err(AuthorityError::InvalidCharacter);
    }
    let mut parts = authority.split(':');
    let host = parts.next().unwrap_or_default();
    let port = parts.next();
    if parts.next().is_some() {
        return Err(AuthorityError::TooManyColons);
    }
    let port = port_or_default(port, default_port)?;
    Ok((parse_host(host)?, port))
}

/// The part after `[`: `v6addr]` or `v6addr]:port`.
fn parse_bracketed(
    bracketed: &str,
    default_port: Option<u16>,
) -> Result<(Destination, u16), AuthorityError> {
    let (inner, after) = bracketed
        .split_once(']')
        .ok_or(AuthorityError::InvalidIpv6)?;
    let port = match after {
        "" => None,
        _ => Some(after.strip_prefix(':').ok_or(AuthorityError::InvalidIpv6)?),
    };
    if let Some((address, _zone)) = inner.split_once('%') {
        return Err(match address.parse::<Ipv6Addr>() {
            Ok(_) => AuthorityError::ZoneId,
            Err(_) => AuthorityError::InvalidIpv6,
        });
    }
    let ip = inner
        .parse::<Ipv6Addr>()
        .map_err(|_| AuthorityError::InvalidIpv6)?;
    let port = port_or_default(port, default_port)?;
    Ok((Destination::Ip(IpAddr::V6(ip)), port))
}

fn port_or_default(port: Option<&str>, default_port: Option<u16>) -> Result<u16, AuthorityError> {
    match port {
        Some(text) => parse_port(text),
        None => default_port.ok_or(AuthorityError::MissingPort),
    }
}

/// 1..=65535, ASCII digits only (no sign, no spaces).
fn parse_port(text: &str) -> Result<u16, AuthorityError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthorityError::InvalidPort);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(AuthorityError::InvalidPort),
        Ok(port) => Ok(port),
    }
}

/// A host without brackets or port: strip one trailing dot, IDNA, then number or name.
fn parse_host(host: &str) -> Result<Destination, AuthorityError> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err(AuthorityError::EmptyHost);
    }
    let ascii = host::to_ascii(host).ok_or(AuthorityError::InvalidHost)?;
    if host::ends_in_number(&ascii) {
        let ip = host::parse_ipv4(&ascii).ok_or(AuthorityError::InvalidIpv4)?;
        return Ok(Destination::Ip(IpAddr::V4(ip)));
    }
    if !host::is_valid_name(&ascii) {
        return Err(AuthorityError::InvalidHost);
    }
    Ok(Destination::Name(ascii))
}

#[cfg(test)]
mod tests;
