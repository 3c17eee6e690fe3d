//! Finding where a `Transfer-Encoding: chunked` body ends while its bytes pass through unchanged:
//! chunk-size lines (with extensions), data, and trailers, strictly (CRLF only, bounded lines).

/// Longest chunk-size line (size, extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// Most trailer bytes accepted after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

/// The body is not valid chunked framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadChunk(pub(crate) &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the chunk size: `digits` so far, then an optional `;extension` until CR.
    Size {
        value: u64,
        digits: usize,
        in_ext: bool,
    },
    /// CR of the size line seen; LF expected.
    SizeLf { value: u64 },
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// CR after the data expected.
    DataCr,
    /// LF after the data expected.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// CR of a trailer line seen; `empty` when the line was the final empty one.
    TrailerLf { empty: bool },
    /// The body ended.
    Done,
}

/// A scanner over one chunked body.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
    line: usize,
    trailers: usize,
}

impl Chunked {
    /// A scanner at the start of a body.
    pub(crate) fn new() -> Chunked {
        Chunked {
            state: State::Size {
                value: 0,
                digits: 0,
                in_ext: false,
            },
            line: 0,
            trailers: 0,
        }
    }

    /// Whether the whole body (last chunk and trailers) has been seen.
    pub(crate) fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Scans `input`, the next bytes of the body; returns how many of them belong to it (all of
    /// them unless the body ends inside `input`).
    pub(crate) fn scan(&mut self, input: &[u8]) -> Result<usize, BadChunk> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data(left) = self.state {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                i += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            if self.state == State::Done {
                return Ok(i);
            }
            let b = input.get(i).copied().unwrap_or_default();
            self.step(b)?;
            i += 1;
        }
        Ok(i)
    }

    fn step(&mut self, b: u8) -> Result<(), BadChunk> {
        self.state = match self.state {
            State::Size {
                value,
                digits,
                in_ext,
            } => {
                self.line += 1;
                if self.line > MAX_SIZE_LINE {
                    return Err(BadChunk("chunk-size line too long"));
                }
                match b {
                    b'\r' if digits > 0 => State::SizeLf { value },
                    _ if in_ext => {
                        if b == b'\n' {
                            return Err(BadChunk("bare LF in chunk extension"));
                        }
                        State::Size {
                            value,
                            digits,
                            in_ext,
                        }
                    }
                    b';' | b' ' | b'\t' if digits > 0 => State::Size {
                        value,
                        digits,
                        in_ext: true,
                    },
                    _ => {
                        let digit = (b as char)
                            .to_digit(16)
                            .ok_or(BadChunk("invalid chunk size"))?;
                        if digits >= 16 {
                            return Err(BadChunk("chunk size too large"));
                        }
                        State::Size {
                            value: value << 4 | u64::from(digit),
                            digits: digits + 1,
                            in_ext,
                        }
                    }
                }
            }
            State::SizeLf { value } => {
                if b != b'\n' {
                    return Err(BadChunk("chunk-size line not ended by CRLF"));
                }
                self.line = 0;
                if value == 0 {
                    State::TrailerStart
                } else {
                    State::Data(value)
                }
            }
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => State::Size {
                value: 0,
                digits: 0,
                in_ext: false,
            },
            State::DataCr | State::DataLf => return Err(BadChunk("chunk data not ended by CRLF")),
            State::TrailerStart | State::Trailer => {
                self.trailers += 1;
                if self.trailers > MAX_TRAILERS {
                    return Err(BadChunk("trailers too large"));
                }
                match b {
                    b'\r' => State::TrailerLf {
                        empty: self.state == State::TrailerStart,
                    },
                    b'\n' => return Err(BadChunk("bare LF in trailers")),
                    _ => State::Trailer,
                }
            }
            State::TrailerLf { empty } => {
                if b != b'\n' {
                    return Err(BadChunk("trailer line not ended by CRLF"));
                }
                if empty {
                    State::Done
                } else {
                    State::TrailerStart
                }
            }
            State::Data(_) | State::Done => self.state,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(pieces: &[&[u8]]) -> Result<(usize, bool), BadChunk> {
        let mut c = Chunked::new();
        let mut used = 0;
        for p in pieces {
            used += c.scan(p)?;
            if c.done() {
                break;
            }
        }
        Ok((used, c.done()))
    }

    #[test]
    fn finds_the_end_of_a_body_and_leaves_what_follows() {
        let body = b"5;name=v\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        assert_eq!(scan_all(&[body]), Ok((body.len() - 4, true)));
    }

    #[test]
    fn finds_the_end_across_every_split() {
        let body = b"a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n";
        for cut in 0..body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(scan_all(&[a, b]), Ok((body.len(), true)), "cut at {cut}");
        }
    }

    #[test]
    fn an_unfinished_body_is_not_done() {
        assert_eq!(scan_all(&[b"5\r\nhel"]), Ok((6, false)));
        assert_eq!(scan_all(&[b"0\r\n"]), Ok((3, false)));
    }

    #[test]
    fn refuses_ambiguous_framing() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloX\r\n",
            b"g\r\n",
            b"\r\n",
            b"-5\r\n",
            b"0\r\nx: 1\n\r\n",
            b"11111111111111111\r\n",
            b"5;ext\n",
        ] {
            assert!(
                scan_all(&[bad]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bounds_size_lines_and_trailers() {
        let mut long = b"5;".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_SIZE_LINE));
        assert_eq!(
            scan_all(&[&long]),
            Err(BadChunk("chunk-size line too long"))
        );
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b'x', MAX_TRAILERS + 1));
        assert_eq!(scan_all(&[&trailers]), Err(BadChunk("trailers too large")));
    }
}
