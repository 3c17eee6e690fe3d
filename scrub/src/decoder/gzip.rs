//! `gzip` (RFC 1952): header, raw deflate, CRC-32 and size trailer; members concatenated.

use flate2::{Crc, Decompress};

use super::Coding;
use super::deflate::inflate;
use crate::error::DecodeError;

/// Header flag: an extra field follows.
const FEXTRA: u8 = 0x04;
/// Header flag: a zero-terminated file name follows.
const FNAME: u8 = 0x08;
/// Header flag: a zero-terminated comment follows.
const FCOMMENT: u8 = 0x10;
/// Header flag: a 2-byte header CRC follows.
const FHCRC: u8 = 0x02;
/// Header flag bits that must be zero.
const RESERVED: u8 = 0xe0;

/// The error for a malformed gzip stream.
const CORRUPT: DecodeError = DecodeError::Corrupt {
    coding: Coding::Gzip,
};

/// Streaming `gzip` decoder.
pub(super) struct Gzip {
    /// Where the current member is.
    phase: Phase,
    /// The header's optional fields not yet skipped.
    flags: u8,
    /// The member's deflate state.
    inflater: Box<Decompress>,
    /// CRC-32 and length of the member's output so far.
    crc: Crc,
    /// How long the output vector may grow during the current call.
    pub(super) limit: usize,
    /// Whether any input arrived.
    started: bool,
}

/// Where a gzip member is.
enum Phase {
    /// The 10 fixed header bytes, `len` of them seen.
    Fixed { got: [u8; 10], len: usize },
    /// The extra field's 2-byte length.
    ExtraLen { got: [u8; 2], len: usize },
    /// The extra field's bytes still to skip.
    Extra { left: usize },
    /// Inside the zero-terminated file name.
    Name,
    /// Inside the zero-terminated comment.
    Comment,
    /// Header CRC bytes still to skip.
    HeaderCrc { left: usize },
    /// Deflate data.
    Body,
    /// The 8-byte trailer (CRC-32, size), `len` of them seen.
    Trailer { got: [u8; 8], len: usize },
    /// The member ended; more input must be another member.
    Ended,
}

impl Gzip {
    /// A decoder at the start of a stream.
    pub(super) fn new() -> Gzip {
        Gzip {
            phase: Phase::Fixed {
                got: [0; 10],
                len: 0,
            },
            flags: 0,
            inflater: Box::new(Decompress::new(false)),
            crc: Crc::new(),
            limit: usize::MAX,
            started: false,
        }
    }

    /// Decodes `input` into `out`.
    pub(super) fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        self.started |= !input.is_empty();
        while !input.is_empty() {
            input = self.step(input, out)?;
        }
        Ok(())
    }

    /// Checks that the last member ended; an empty body counts as ended.
    pub(super) fn finish(&mut self) -> Result<(), DecodeError> {
        match self.phase {
            Phase::Ended => Ok(()),
            _ if !self.started => Ok(()),
            _ => Err(DecodeError::Truncated {
                coding: Coding::Gzip,
            }),
        }
    }

    /// Consumes some of `input` (at least one byte) in the current phase; returns the rest.
    fn step<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<&'a [u8], DecodeError> {
        match &mut self.phase {
            Phase::Fixed { got, len } => {
                let rest = fill(got, len, input);
                if *len == got.len() {
                    let [id1, id2, method, flags, ..] = *got;
                    if id1 != 0x1f || id2 != 0x8b || method != 8 || flags & RESERVED != 0 {
                        return Err(CORRUPT);
                    }
                    self.flags = flags;
                    self.next_header_field();
                }
                Ok(rest)
            }
            Phase::ExtraLen { got, len } => {
                let rest = fill(got, len, input);
                if *len == got.len() {
                    let left = usize::from(u16::from_le_bytes(*got));
                    self.phase = Phase::Extra { left };
                    if left == 0 {
                        self.next_header_field();
                    }
                }
                Ok(rest)
            }
            Phase::Extra { left } | Phase::HeaderCrc { left } => {
                let take = (*left).min(input.len());
                *left -= take;
                if *left == 0 {
                    self.next_header_field();
                }
                Ok(input.get(take..).unwrap_or_default())
            }
            Phase::Name | Phase::Comment => match input.iter().position(|&b| b == 0) {
                Some(zero) => {
                    self.next_header_field();
                    Ok(input.get(zero + 1..).unwrap_or_default())
                }
                None => Ok(&[]),
            },
            Phase::Body => {
                let start = out.len();
                let done = inflate(&mut self.inflater, input, out, Coding::Gzip, self.limit)?;
                self.crc.update(out.get(start..).unwrap_or_default());
                if done.ended {
                    self.phase = Phase::Trailer {
                        got: [0; 8],
                        len: 0,
                    };
                }
                Ok(input.get(done.consumed..).unwrap_or_default())
            }
            Phase::Trailer { got, len } => {
                let rest = fill(got, len, input);
                if *len == got.len() {
                    let [c0, c1, c2, c3, s0, s1, s2, s3] = *got;
                    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
                    let size = u32::from_le_bytes([s0, s1, s2, s3]);
                    if crc != self.crc.sum() || size != self.crc.amount() {
                        return Err(CORRUPT);
                    }
                    self.phase = Phase::Ended;
                }
                Ok(rest)
            }
            Phase::Ended => {
                if input.first() != Some(&0x1f) {
                    return Err(DecodeError::TrailingData {
                        coding: Coding::Gzip,
                    });
                }
                self.phase = Phase::Fixed {
                    got: [0; 10],
                    len: 0,
                };
                Ok(input)
            }
        }
    }

    /// Moves to the next optional header field the flags announce, or to the deflate data.
    fn next_header_field(&mut self) {
        self.phase = if self.take_flag(FEXTRA) {
            Phase::ExtraLen {
                got: [0; 2],
                len: 0,
            }
        } else if self.take_flag(FNAME) {
            Phase::Name
        } else if self.take_flag(FCOMMENT) {
            Phase::Comment
        } else if self.take_flag(FHCRC) {
            Phase::HeaderCrc { left: 2 }
        } else {
            self.inflater.reset(false);
            self.crc.reset();
            Phase::Body
        };
    }

    /// Whether `flag` is still pending; clears it.
    fn take_flag(&mut self, flag: u8) -> bool {
        let set = self.flags & flag != 0;
        self.flags &= !flag;
        set
    }
}

/// Copies from `input` into `buf` past `len` until full; returns the unused input.
fn fill<'a, const N: usize>(buf: &mut [u8; N], len: &mut usize, input: &'a [u8]) -> &'a [u8] {
    let take = N.saturating_sub(*len).min(input.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(*len..*len + take), input.get(..take)) {
        dst.copy_from_slice(src);
    }
    *len += take;
    input.get(take..).unwrap_or_default()
}
