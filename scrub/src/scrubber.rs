//! Streaming replacement of every form of the injected values in a response body.

use std::sync::Arc;

use aho_corasick::AhoCorasick;

use crate::patterns::{Matcher, Patterns};

/// The fixed marker that replaces a value in a body.
pub const MARKER: &[u8] = b"[trust-edge:redacted]";

/// Streams a body through, replacing every form with [`MARKER`].
///
/// Memory is bounded: at most `longest() - 1` input bytes are held back between calls, the
/// bytes where a form could still begin and end in a later chunk. A form split across chunk
/// boundaries is found, and the output is the same whatever the chunking. Matching is
/// leftmost-longest over the input only; the markers written are never scanned again.
pub struct BodyScrubber {
    /// The forms to remove.
    patterns: Arc<Patterns>,
    /// Input not yet emitted: always fewer than `longest()` bytes between calls.
    pending: Vec<u8>,
    /// How many forms were replaced so far.
    replaced: u64,
}

impl BodyScrubber {
    /// A scrubber for one body.
    pub fn new(patterns: Arc<Patterns>) -> BodyScrubber {
        let capacity = patterns.longest().saturating_mul(2);
        BodyScrubber {
            patterns,
            pending: Vec::with_capacity(capacity),
            replaced: 0,
        }
    }

    /// Scrubs `chunk`, appending to `out` every byte that no later input can turn into a match.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        match self.patterns.matcher() {
            Matcher::Empty => out.extend_from_slice(chunk),
            Matcher::Unbuildable => {
                // Fail closed: the first non-empty chunk becomes one marker, the rest is dropped.
                if !chunk.is_empty() && self.replaced == 0 {
                    out.extend_from_slice(MARKER);
                    self.replaced = 1;
                }
            }
            Matcher::Built(automaton) => {
                self.pending.extend_from_slice(chunk);
                let keep = self.patterns.longest().saturating_sub(1);
                let settled = self.pending.len().saturating_sub(keep);
                let done = replace(automaton, &self.pending, settled, out, &mut self.replaced);
                self.pending.drain(..done);
            }
        }
    }

    /// Scrubs and appends the held-back tail: the body has ended.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Matcher::Built(automaton) = self.patterns.matcher() {
            let all = self.pending.len();
            replace(automaton, &self.pending, all, out, &mut self.replaced);
        }
        self.pending.clear();
    }

    /// How many forms were replaced by [`MARKER`] so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }
}

/// Emits `pending` with every match starting before `settled` replaced by [`MARKER`], and the
/// bytes up to `settled` or the end of the last such match; returns how many bytes it consumed.
///
/// A match starting before `settled` cannot change with more input (no form is longer than
/// `pending.len() - settled + 1` bytes), and neither can the absence of one.
fn replace(
    automaton: &AhoCorasick,
    pending: &[u8],
    settled: usize,
    out: &mut Vec<u8>,
    replaced: &mut u64,
) -> usize {
    let mut at = 0;
    for found in automaton.find_iter(pending) {
        if found.start() >= settled {
            break;
        }
        out.extend_from_slice(pending.get(at..found.start()).unwrap_or_default());
        out.extend_from_slice(MARKER);
        *replaced = replaced.saturating_add(1);
        at = found.end();
    }
    let end = at.max(settled);
    out.extend_from_slice(pending.get(at..end).unwrap_or_default());
    end
}

#[cfg(test)]
mod tests;
