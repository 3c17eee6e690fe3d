//! The `CONNECT` reply on the wire: read its head without consuming what follows (the requests
//! themselves go over `client::conn`).

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::client::conn::Failure;

/// Largest reply head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers parsed per reply.
const MAX_HEADERS: usize = 48;

/// Reads a `CONNECT` reply head byte by byte (nothing after it may be consumed: the TLS
/// handshake follows) and returns its status.
pub(crate) async fn connect_reply<S: AsyncRead + Unpin>(stream: &mut S) -> Result<u16, Failure> {
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD_BYTES {
            return Err(Failure::Parse);
        }
        let byte = stream.read_u8().await.map_err(|_| Failure::Connect)?;
        head.push(byte);
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => response.code.ok_or(Failure::Parse),
        Ok(httparse::Status::Partial) | Err(_) => Err(Failure::Parse),
    }
}
