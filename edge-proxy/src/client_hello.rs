//! Reading a TLS ClientHello from a tunnel to learn its SNI before any byte goes upstream.
//!
//! The hello may be fragmented over several TLS records; they are gathered up to a size bound
//! and a deadline. Nothing here trusts a length field without checking it against what arrived.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// TLS record content type for handshake messages.
const HANDSHAKE: u8 = 22;
/// Handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;
/// Extension number of server_name.
const SERVER_NAME: u16 = 0;

/// What the first bytes of a tunnel turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hello {
    /// A ClientHello with this SNI host name (lowercased, trailing dot removed).
    Sni(String),
    /// A ClientHello without a server_name extension.
    NoSni,
}

/// Why the tunnel's first bytes are refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum HelloError {
    /// The bytes are not a TLS ClientHello.
    #[error("not a TLS ClientHello")]
    NotTls,
    /// The ClientHello is larger than the bound.
    #[error("ClientHello larger than the bound")]
    TooLarge,
    /// The ClientHello did not arrive before the deadline, or the client closed.
    #[error("ClientHello incomplete before the deadline")]
    Incomplete,
}

/// Reads from `stream` into `buf` until a whole ClientHello is there, and returns its SNI.
///
/// All bytes read stay in `buf`, to be written upstream once the tunnel is allowed.
pub(crate) async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    max_len: usize,
    deadline: Instant,
) -> Result<Hello, HelloError> {
    loop {
        match parse(buf) {
            Ok(Some(hello)) => return Ok(hello),
            Ok(None) => {}
            Err(e) => return Err(e),
        }
        if buf.len() >= max_len {
            return Err(HelloError::TooLarge);
        }
        buf.reserve(4096);
        match tokio::time::timeout_at(deadline, stream.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Err(HelloError::Incomplete),
        }
    }
}

/// Parses gathered bytes: `Ok(None)` means more bytes are needed.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<Hello>, HelloError> {
    // Gather the handshake payload from consecutive handshake records.
    let mut payload = Vec::new();
    let mut rest = buf;
    loop {
        let Some(&[kind, major, _minor, hi, lo]) = rest.get(..5) else {
            return Ok(None);
        };
        if kind != HANDSHAKE || major != 3 {
            return Err(HelloError::NotTls);
        }
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len == 0 || len > 16_384 {
            return Err(HelloError::NotTls);
        }
        let Some(fragment) = rest.get(5..5 + len) else {
            return Ok(None);
        };
        payload.extend_from_slice(fragment);
        rest = rest.get(5 + len..).unwrap_or_default();
        if payload.len() >= 4 {
            if payload.first() != Some(&CLIENT_HELLO) {
                return Err(HelloError::NotTls);
            }
            let body_len = read_u24(&payload, 1).ok_or(HelloError::NotTls)?;
            if payload.len() >= 4 + body_len {
                let body = payload.get(4..4 + body_len).ok_or(HelloError::NotTls)?;
                return sni_of(body).map(Some);
            }
        }
    }
}

fn read_u24(b: &[u8], at: usize) -> Option<usize> {
    let &[a, b, c] = b.get(at..at + 3)? else {
        return None;
    };
    Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
}

/// A cursor over a ClientHello body that refuses out-of-bounds lengths.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HelloError> {
        let head = self.0.get(..n).ok_or(HelloError::NotTls)?;
        self.0 = self.0.get(n..).unwrap_or_default();
        Ok(head)
    }
    fn u8(&mut self) -> Result<usize, HelloError> {
        Ok(usize::from(
            *self.take(1)?.first().ok_or(HelloError::NotTls)?,
        ))
    }
    fn u16(&mut self) -> Result<usize, HelloError> {
        let &[hi, lo] = self.take(2)? else {
            return Err(HelloError::NotTls);
        };
        Ok(usize::from(u16::from_be_bytes([hi, lo])))
    }
    fn vec8(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u8()?;
        self.take(n)
    }
    fn vec16(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u16()?;
        self.take(n)
    }
}

fn sni_of(body: &[u8]) -> Result<Hello, HelloError> {
    let mut c = Cursor(body);
    c.take(2 + 32)?; // legacy_version, random
    c.vec8()?; // legacy_session_id
    c.vec16()?; // cipher_suites
    c.vec8()?; // legacy_compression_methods
    if c.0.is_empty() {
        return Ok(Hello::NoSni);
    }
    let mut exts = Cursor(c.vec16()?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        if kind == usize::from(SERVER_NAME) {
            let mut list = Cursor(Cursor(data).vec16()?);
            while !list.0.is_empty() {
                let name_type = list.u8()?;
                let name = list.vec16()?;
                if name_type == 0 {
                    let name = std::str::from_utf8(name).map_err(|_| HelloError::NotTls)?;
                    if name.is_empty() || !name.is_ascii() {
                        return Err(HelloError::NotTls);
                    }
                    let name = name.strip_suffix('.').unwrap_or(name);
                    return Ok(Hello::Sni(name.to_ascii_lowercase()));
                }
            }
            return Ok(Hello::NoSni);
        }
    }
    Ok(Hello::NoSni)
}

#[cfg(test)]
mod tests;
