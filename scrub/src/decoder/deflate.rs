//! `deflate`: zlib-wrapped or raw, told apart by the first two bytes; and the inflate loop
//! that gzip shares.

use flate2::{Decompress, FlushDecompress, Status};

use super::Coding;
use crate::error::DecodeError;

/// Output space reserved per inflate call.
const OUT_STEP: usize = 32 * 1024;

/// What one [`inflate`] call did.
pub(super) struct Inflated {
    /// Input bytes consumed.
    pub(super) consumed: usize,
    /// Whether the deflate stream ended (the rest of the input is not deflate data).
    pub(super) ended: bool,
}

/// Inflates as much of `input` as possible, appending the output to `out`.
///
/// Stops at the end of the deflate stream or when a call makes no progress; short of the end,
/// all of `input` is consumed. `out` may not grow past `limit` bytes (a decompression bomb):
/// each step adds at most `OUT_STEP`, so the check bounds memory.
pub(super) fn inflate(
    inflater: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    coding: Coding,
    limit: usize,
) -> Result<Inflated, DecodeError> {
    let mut consumed = 0usize;
    loop {
        out.reserve(OUT_STEP);
        let rest = input.get(consumed..).unwrap_or_default();
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(rest, out, FlushDecompress::None)
            .map_err(|_| DecodeError::Corrupt { coding })?;
        let read = usize::try_from(inflater.total_in().saturating_sub(in_before)).unwrap_or(0);
        let wrote = inflater.total_out().saturating_sub(out_before);
        consumed = consumed.saturating_add(read).min(input.len());
        if out.len() > limit {
            return Err(DecodeError::TooLarge);
        }
        if status == Status::StreamEnd {
            return Ok(Inflated {
                consumed,
                ended: true,
            });
        }
        if read == 0 && wrote == 0 {
            if consumed < input.len() {
                // Stuck with input left: the inflater will not take bad data.
                return Err(DecodeError::Corrupt { coding });
            }
            return Ok(Inflated {
                consumed,
                ended: false,
            });
        }
    }
}

/// Streaming `deflate` decoder.
pub(super) struct Deflate {
    /// Where the stream is.
    state: State,
    /// How long the output vector may grow during the current call.
    pub(super) limit: usize,
}

/// Where a `deflate` stream is.
enum State {
    /// Fewer than two bytes seen (the byte, if one): zlib or raw is not known yet.
    Sniff(Option<u8>),
    /// Inflating.
    Body(Box<Decompress>),
    /// The deflate stream ended.
    Ended,
}

impl Deflate {
    /// A decoder at the start of a stream.
    pub(super) fn new() -> Deflate {
        Deflate {
            state: State::Sniff(None),
            limit: usize::MAX,
        }
    }

    /// Decodes `input` into `out`.
    pub(super) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if let State::Sniff(held) = self.state {
            let (first, second) = match held {
                Some(first) => (Some(first), input.first().copied()),
                None => (input.first().copied(), input.get(1).copied()),
            };
            let (Some(first), Some(second)) = (first, second) else {
                self.state = State::Sniff(first);
                return Ok(());
            };
            let zlib = looks_like_zlib(first, second);
            self.state = State::Body(Box::new(Decompress::new(zlib)));
            if held.is_some() {
                self.feed(&[first], out)?;
            }
        }
        self.feed(input, out)
    }

    /// Checks that the stream ended; an empty body counts as ended.
    pub(super) fn finish(&mut self) -> Result<(), DecodeError> {
        match self.state {
            State::Sniff(None) | State::Ended => Ok(()),
            State::Sniff(Some(_)) | State::Body(_) => Err(DecodeError::Truncated {
                coding: Coding::Deflate,
            }),
        }
    }

    /// Inflates `input` once the wrapping is known.
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        match &mut self.state {
            State::Sniff(_) => Ok(()),
            State::Ended if input.is_empty() => Ok(()),
            State::Ended => Err(DecodeError::TrailingData {
                coding: Coding::Deflate,
            }),
            State::Body(inflater) => {
                let done = inflate(inflater, input, out, Coding::Deflate, self.limit)?;
                if done.ended {
                    self.state = State::Ended;
                    if done.consumed < input.len() {
                        return Err(DecodeError::TrailingData {
                            coding: Coding::Deflate,
                        });
                    }
                }
                Ok(())
            }
        }
    }
}

/// Whether two bytes are a zlib header (RFC 1950): method 8, window at most 32 KiB, check
/// bits making the pair a multiple of 31. Raw deflate rarely starts like that, and browsers
/// sniff the same way.
fn looks_like_zlib(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}
