//! Streaming decoding of a response's `Content-Encoding`, so the scrubber sees plain bytes.

use std::fmt;

use crate::error::DecodeError;

mod br;
mod deflate;
mod gzip;

/// The most codings one `Content-Encoding` may stack; real servers use one, rarely two.
const MAX_CODINGS: usize = 4;

/// A content-coding the [`Decoder`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` or `x-gzip` (RFC 1952), members concatenated.
    Gzip,
    /// `deflate`: zlib (RFC 1950) or, as some servers send, raw deflate (RFC 1951).
    Deflate,
    /// `br` (RFC 7932).
    Brotli,
}

impl Coding {
    /// The coding's token as written in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
        }
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Output a body may always reach, whatever its encoded size (1 MiB).
pub const MIN_BUDGET: u64 = 1 << 20;
/// Beyond [`MIN_BUDGET`], how many times its encoded size a body may expand. Real compressed
/// responses stay far below (text compresses 5–20×); a decompression bomb exceeds it at once.
pub const MAX_RATIO: u64 = 1000;

/// Streaming decoder for a response Content-Encoding the edge must look inside.
///
/// Each `push` decodes what it is given and appends the output; nothing but the codecs' own
/// windows is kept between calls, so the body is never buffered whole. After an error every
/// later call returns the same error.
pub struct Decoder {
    /// The codings in decoding order: the last one applied comes first.
    stages: Vec<Stage>,
    /// Encoded bytes fed so far.
    input_total: u64,
    /// Plain bytes produced so far.
    output_total: u64,
    /// Set once `finish` has run.
    finished: bool,
    /// The first error, returned again by every later call.
    failed: Option<DecodeError>,
}

/// One coding's decoder.
enum Stage {
    /// `gzip`.
    Gzip(gzip::Gzip),
    /// `deflate`.
    Deflate(deflate::Deflate),
    /// `br`.
    Brotli(Box<br::Brotli>),
}

impl Decoder {
    /// A decoder for a `Content-Encoding` header value.
    ///
    /// Accepts `gzip`/`x-gzip`, `deflate` (zlib and raw) and `br`, case-insensitively; a list
    /// like `gzip, br` is decoded in reverse order. `identity` and empty entries are skipped.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnsupportedEncoding`] for any other coding, and
    /// [`DecodeError::TooManyCodings`] past four codings. `Ok(None)` means the body is not
    /// encoded.
    pub fn for_content_encoding(value: &str) -> Result<Option<Decoder>, DecodeError> {
        let mut codings = Vec::new();
        for token in value.split(',') {
            let token = token.trim_matches([' ', '\t']);
            if token.is_empty() || token.eq_ignore_ascii_case("identity") {
                continue;
            }
            let coding =
                if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
                    Coding::Gzip
                } else if token.eq_ignore_ascii_case("deflate") {
                    Coding::Deflate
                } else if token.eq_ignore_ascii_case("br") {
                    Coding::Brotli
                } else {
                    return Err(DecodeError::UnsupportedEncoding);
                };
            codings.push(coding);
        }
        if codings.len() > MAX_CODINGS {
            return Err(DecodeError::TooManyCodings {
                count: codings.len(),
                max: MAX_CODINGS,
            });
        }
        if codings.is_empty() {
            return Ok(None);
        }
        let stages = codings.into_iter().rev().map(Stage::new).collect();
        Ok(Some(Decoder {
            stages,
            input_total: 0,
            output_total: 0,
            finished: false,
            failed: None,
        }))
    }

    /// Decodes `chunk`, appending the plain bytes produced so far to `out`.
    ///
    /// # Errors
    ///
    /// The stream is corrupt, has data after its end, or `finish` already ran.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        self.check()?;
        let result = self.run(chunk, out, false);
        self.record(result)
    }

    /// Ends the body: flushes the last plain bytes into `out`.
    ///
    /// # Errors
    ///
    /// The stream is corrupt or ended early, or `finish` already ran.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        self.check()?;
        let result = self.run(&[], out, true);
        self.finished = true;
        self.record(result)
    }

    /// The error to return before doing anything, if any.
    fn check(&self) -> Result<(), DecodeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.finished {
            return Err(DecodeError::Finished);
        }
        Ok(())
    }

    /// Keeps the first error for later calls.
    fn record(&mut self, result: Result<(), DecodeError>) -> Result<(), DecodeError> {
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// Feeds `chunk` through every stage in turn (and ends each one if `last`).
    fn run(&mut self, chunk: &[u8], out: &mut Vec<u8>, last: bool) -> Result<(), DecodeError> {
        self.input_total = self.input_total.saturating_add(chunk.len() as u64);
        let allowed = MIN_BUDGET.max(self.input_total.saturating_mul(MAX_RATIO));
        let budget =
            usize::try_from(allowed.saturating_sub(self.output_total)).unwrap_or(usize::MAX);
        let start = out.len();
        let count = self.stages.len();
        let mut carried: Option<Vec<u8>> = None;
        for (index, stage) in self.stages.iter_mut().enumerate() {
            let owned = carried.take();
            let input = owned.as_deref().unwrap_or(chunk);
            let mut next = Vec::new();
            let sink = if index + 1 == count {
                &mut *out
            } else {
                &mut next
            };
            let limit = sink.len().saturating_add(budget);
            stage.push(input, sink, limit)?;
            if last {
                stage.finish()?;
            }
            carried = Some(next);
        }
        self.output_total = self
            .output_total
            .saturating_add(out.len().saturating_sub(start) as u64);
        Ok(())
    }
}

impl Stage {
    /// A fresh decoder for `coding`.
    fn new(coding: Coding) -> Stage {
        match coding {
            Coding::Gzip => Stage::Gzip(gzip::Gzip::new()),
            Coding::Deflate => Stage::Deflate(deflate::Deflate::new()),
            Coding::Brotli => Stage::Brotli(Box::new(br::Brotli::new())),
        }
    }

    /// Decodes `input` into `out`, which may not grow past `limit` bytes.
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecodeError> {
        match self {
            Stage::Gzip(stage) => {
                stage.limit = limit;
                stage.push(input, out)
            }
            Stage::Deflate(stage) => {
                stage.limit = limit;
                stage.push(input, out)
            }
            Stage::Brotli(stage) => {
                stage.limit = limit;
                stage.push(input, out)
            }
        }
    }

    /// Checks that the stream ended cleanly; all output was produced by `push`.
    fn finish(&mut self) -> Result<(), DecodeError> {
        match self {
            Stage::Gzip(stage) => stage.finish(),
            Stage::Deflate(stage) => stage.finish(),
            Stage::Brotli(stage) => stage.finish(),
        }
    }
}

#[cfg(test)]
mod tests;
