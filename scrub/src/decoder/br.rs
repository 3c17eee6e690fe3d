//! `br` (RFC 7932), through the brotli crate's streaming decoder.

use brotli::writer::StandardAlloc;
use brotli::{BrotliDecompressStream, BrotliResult, BrotliState};

use super::Coding;
use crate::error::DecodeError;

/// Output buffer size per decoder call.
const OUT_STEP: usize = 32 * 1024;

/// Streaming `br` decoder.
pub(super) struct Brotli {
    /// The decoder state.
    state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    /// Scratch output buffer.
    buffer: Vec<u8>,
    /// Total output so far (the decoder's own counter).
    total_out: usize,
    /// Whether any input arrived.
    started: bool,
    /// How long the output vector may grow during the current call.
    pub(super) limit: usize,
    /// Whether the stream ended.
    ended: bool,
}

impl Brotli {
    /// A decoder at the start of a stream.
    pub(super) fn new() -> Brotli {
        let mut state = BrotliState::new(
            StandardAlloc::default(),
            StandardAlloc::default(),
            StandardAlloc::default(),
        );
        // Standard brotli only: large-window streams could make the decoder allocate a
        // window of up to 1 GiB.
        state.large_window = false;
        Brotli {
            state,
            buffer: vec![0; OUT_STEP],
            total_out: 0,
            started: false,
            limit: usize::MAX,
            ended: false,
        }
    }

    /// Decodes `input` into `out`.
    pub(super) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if input.is_empty() {
            return Ok(());
        }
        self.started = true;
        if self.ended {
            return Err(DecodeError::TrailingData {
                coding: Coding::Brotli,
            });
        }
        let mut available_in = input.len();
        let mut input_offset = 0usize;
        loop {
            let mut available_out = self.buffer.len();
            let mut output_offset = 0usize;
            let result = BrotliDecompressStream(
                &mut available_in,
                &mut input_offset,
                input,
                &mut available_out,
                &mut output_offset,
                &mut self.buffer,
                &mut self.total_out,
                &mut self.state,
            );
            out.extend_from_slice(self.buffer.get(..output_offset).unwrap_or_default());
            if out.len() > self.limit {
                return Err(DecodeError::TooLarge);
            }
            match result {
                BrotliResult::NeedsMoreOutput => {}
                BrotliResult::NeedsMoreInput => return Ok(()),
                BrotliResult::ResultSuccess => {
                    self.ended = true;
                    if available_in > 0 {
                        return Err(DecodeError::TrailingData {
                            coding: Coding::Brotli,
                        });
                    }
                    return Ok(());
                }
                BrotliResult::ResultFailure => {
                    return Err(DecodeError::Corrupt {
                        coding: Coding::Brotli,
                    });
                }
            }
        }
    }

    /// Checks that the stream ended; an empty body counts as ended.
    pub(super) fn finish(&mut self) -> Result<(), DecodeError> {
        if self.ended || !self.started {
            Ok(())
        } else {
            Err(DecodeError::Truncated {
                coding: Coding::Brotli,
            })
        }
    }
}
