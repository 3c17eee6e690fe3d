//! The crate's error enum.

use crate::decoder::Coding;

/// Why a response body could not be decoded; the edge must then not forward it.
///
/// Messages never quote the body or the header: an upstream controls both and may have put an
/// injected value in them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A content-coding the edge cannot look inside (e.g. `compress`, `zstd`).
    #[error("unsupported content-encoding")]
    UnsupportedEncoding,
    /// More codings stacked in one `Content-Encoding` than any real server uses.
    #[error("content-encoding lists {count} codings, at most {max} are decoded")]
    TooManyCodings {
        /// How many codings the header lists.
        count: usize,
        /// The most the decoder accepts.
        max: usize,
    },
    /// The stream is not valid in its coding (bad header, bad data, checksum mismatch).
    #[error("corrupt {coding} stream")]
    Corrupt {
        /// The coding whose stream is corrupt.
        coding: Coding,
    },
    /// The body ended before the compressed stream did.
    #[error("{coding} stream ended early")]
    Truncated {
        /// The coding whose stream was cut short.
        coding: Coding,
    },
    /// Bytes followed the end of the compressed stream.
    #[error("data after the end of the {coding} stream")]
    TrailingData {
        /// The coding whose stream was followed by extra bytes.
        coding: Coding,
    },
    /// `push` or `finish` was called after `finish`.
    #[error("decoder used after finish")]
    Finished,
    /// The body expands beyond what a real response does (a decompression bomb): more than
    /// [`crate::MAX_RATIO`] times its encoded size, past [`crate::MIN_BUDGET`].
    #[error("the decoded body expands beyond the allowed ratio")]
    TooLarge,
}
