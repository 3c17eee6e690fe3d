//! The compiled set of forms of every injected value.

use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::forms;

/// Every encoded form of a set of secret values, compiled into one automaton.
///
/// Built once per set of injected values and shared (`Arc`) by every [`BodyScrubber`] and
/// header check of the responses that carry them. The forms are listed in the crate docs.
/// `Debug` prints only counts, never a value or a form.
///
/// [`BodyScrubber`]: crate::BodyScrubber
pub struct Patterns {
    /// The automaton over every form; see [`Matcher`].
    matcher: Matcher,
    /// The same forms, matched ASCII-case-insensitively: for header *names*, which HTTP
    /// compares without case (a name is lower-cased for lookup but sent as written).
    names: Matcher,
    /// Length in bytes of the longest form.
    longest: usize,
    /// How many distinct forms the automaton holds.
    count: usize,
}

/// What [`Patterns`] searches with.
pub(crate) enum Matcher {
    /// No values: nothing to find.
    Empty,
    /// Leftmost-longest automaton over every form.
    Built(AhoCorasick),
    /// The forms were too many for an automaton: fail closed, everything counts as a match.
    Unbuildable,
}

impl Patterns {
    /// Compiles every form of every value; empty values are ignored.
    ///
    /// Should the automaton be impossible to build (a pattern set beyond the automaton's size
    /// limits), the result fails closed: [`found_in`](Self::found_in) is true for any input
    /// and a [`BodyScrubber`](crate::BodyScrubber) withholds the whole body.
    pub fn new<V: AsRef<[u8]>>(values: &[V]) -> Patterns {
        let mut all: Vec<Vec<u8>> = Vec::new();
        for value in values {
            for form in forms::of(value.as_ref()) {
                if !all.contains(&form) {
                    all.push(form);
                }
            }
        }
        let longest = all.iter().map(Vec::len).max().unwrap_or(0);
        let count = all.len();
        let matcher = build(&all, false);
        let names = build(&all, true);
        Patterns {
            matcher,
            names,
            longest,
            count,
        }
    }

    /// Whether there is nothing to look for (no non-empty value was given).
    pub fn is_empty(&self) -> bool {
        matches!(self.matcher, Matcher::Empty)
    }

    /// Length in bytes of the longest form; 0 when empty.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// Whether any form of any value occurs in `haystack` (a header value, a whole body).
    pub fn found_in(&self, haystack: &[u8]) -> bool {
        match &self.matcher {
            Matcher::Empty => false,
            Matcher::Built(automaton) => automaton.is_match(haystack),
            Matcher::Unbuildable => true,
        }
    }

    /// Whether any form of any value occurs in a header *name*, in any ASCII case.
    pub fn found_in_name(&self, name: &[u8]) -> bool {
        match &self.names {
            Matcher::Empty => false,
            Matcher::Built(automaton) => automaton.is_match(name),
            Matcher::Unbuildable => true,
        }
    }

    /// The automaton, for the scrubber.
    pub(crate) fn matcher(&self) -> &Matcher {
        &self.matcher
    }
}

/// The automaton over `forms` (ASCII-case-insensitive when `any_case`); fails closed.
fn build(forms: &[Vec<u8>], any_case: bool) -> Matcher {
    if forms.is_empty() {
        return Matcher::Empty;
    }
    // A contiguous NFA rather than a DFA: for a key's ~30 forms it takes ~40 KB and
    // microseconds to build where the DFA takes ~1 MB and milliseconds, and the search stays
    // linear (with a prefilter on the forms' rare bytes).
    match AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .ascii_case_insensitive(any_case)
        .build(forms)
    {
        Ok(automaton) => Matcher::Built(automaton),
        Err(_) => Matcher::Unbuildable,
    }
}

impl fmt::Debug for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Patterns")
            .field("forms", &self.count)
            .field("longest", &self.longest)
            .finish()
    }
}

#[cfg(test)]
mod tests;
