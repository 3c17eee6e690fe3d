//! One keep-alive client connection: write a request, read one response. Generic over the
//! stream, so the TLS load of `bump-inject` speaks the same HTTP/1.1 over rustls.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest response body accepted (the load bodies are small).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Headers parsed per response.
const MAX_HEADERS: usize = 48;
/// Read granularity.
const READ_CHUNK: usize = 16 * 1024;

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Connect refused, reset or timed out.
    Connect,
    /// The connection failed after some response bytes, or while writing.
    Io,
    /// The exchange exceeded its timeout.
    Timeout,
    /// The response was not valid HTTP/1.x.
    Parse,
    /// The target closed the connection before any byte of the response.
    Stale,
}

/// The parts of a response the generator needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Response {
    /// Status code.
    pub(crate) status: u16,
    /// Whether the connection cannot carry another request.
    pub(crate) close: bool,
}

/// How the body of a response is delimited.
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

/// A client connection with its read buffer.
pub(crate) struct Conn<S = TcpStream> {
    stream: S,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr` within `timeout`, with Nagle off.
    pub(crate) async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, Failure> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(_)) | Err(_) => return Err(Failure::Connect),
        };
        stream.set_nodelay(true).map_err(|_| Failure::Connect)?;
        Ok(Self::new(stream))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Wraps an open stream.
    pub(crate) fn new(stream: S) -> Self {
        Self {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
        }
    }

    /// Writes `request` and reads one complete response.
    pub(crate) async fn round_trip(&mut self, request: &[u8]) -> Result<Response, Failure> {
        self.buf.clear();
        if self.stream.write_all(request).await.is_err() || self.stream.flush().await.is_err() {
            return Err(Failure::Stale);
        }
        let (status, framing, close, head_len) = loop {
            match self.fill().await {
                Ok(0) | Err(_) if self.buf.is_empty() => return Err(Failure::Stale),
                Ok(0) => return Err(Failure::Io),
                Ok(_) => {}
                Err(failure) => return Err(failure),
            }
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(Failure::Parse);
            }
        };
        self.buf.drain(..head_len);
        let close = match framing {
            Framing::None => close,
            Framing::Length(len) => {
                self.fill_to(len).await?;
                close
            }
            Framing::Chunked => {
                self.skip_chunked().await?;
                close
            }
            Framing::UntilClose => {
                while self.fill().await? > 0 {
                    if self.buf.len() > MAX_BODY_BYTES {
                        return Err(Failure::Parse);
                    }
                    self.buf.clear();
                }
                true
            }
        };
        Ok(Response { status, close })
    }

    /// Reads once into the buffer; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> Result<usize, Failure> {
        self.buf.reserve(READ_CHUNK);
        self.stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|_| Failure::Io)
    }

    /// Reads until the buffer holds at least `len` bytes.
    async fn fill_to(&mut self, len: usize) -> Result<(), Failure> {
        if len > MAX_BODY_BYTES {
            return Err(Failure::Parse);
        }
        while self.buf.len() < len {
            if self.fill().await? == 0 {
                return Err(Failure::Io);
            }
        }
        Ok(())
    }

    /// Consumes a chunked body (chunk extensions ignored, trailers skipped).
    async fn skip_chunked(&mut self) -> Result<(), Failure> {
        let mut body = 0usize;
        loop {
            let (consumed, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((consumed, size))) => break (consumed, size),
                    Ok(httparse::Status::Partial) if self.buf.len() < MAX_HEAD_BYTES => {
                        if self.fill().await? == 0 {
                            return Err(Failure::Io);
                        }
                    }
                    Ok(httparse::Status::Partial) | Err(_) => return Err(Failure::Parse),
                }
            };
            self.buf.drain(..consumed);
            let size = usize::try_from(size).map_err(|_| Failure::Parse)?;
            if size == 0 {
                return self.skip_trailers().await;
            }
            body = body.saturating_add(size);
            if body > MAX_BODY_BYTES {
                return Err(Failure::Parse);
            }
            let with_crlf = size.saturating_add(2);
            self.fill_to(with_crlf).await?;
            self.buf.drain(..with_crlf);
        }
    }

    /// Consumes the trailer section that ends a chunked body.
    async fn skip_trailers(&mut self) -> Result<(), Failure> {
        loop {
            if self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
                return Ok(());
            }
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                self.buf.drain(..at + 4);
                return Ok(());
            }
            if self.buf.len() > MAX_HEAD_BYTES || self.fill().await? == 0 {
                return Err(Failure::Parse);
            }
        }
    }
}

/// Parses a response head: `(status, framing, close, head length)`, or `None` if incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, Framing, bool, usize)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::Parse),
    };
    let status = response.code.ok_or(Failure::Parse)?;
    let http10 = response.version == Some(0);
    let mut close = http10;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(header.value).map_err(|_| Failure::Parse)?;
            let value = text.trim().parse::<usize>().map_err(|_| Failure::Parse)?;
            if length.is_some_and(|seen| seen != value) {
                return Err(Failure::Parse);
            }
            length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = has_token(header.value, b"chunked");
        } else if header.name.eq_ignore_ascii_case("connection") {
            if has_token(header.value, b"close") {
                close = true;
            } else if has_token(header.value, b"keep-alive") {
                close = false;
            }
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(len) = length {
        if len == 0 {
            Framing::None
        } else {
            Framing::Length(len)
        }
    } else {
        Framing::UntilClose
    };
    Ok(Some((status, framing, close, head_len)))
}

/// Whether a comma-separated header value holds `token` (ASCII case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}
