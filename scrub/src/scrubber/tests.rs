#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use proptest::prelude::*;

use super::*;
use crate::samples::{KEY, SPECIAL, count, encodings, noise};

const PRE: &[u8] = b"HTTP echo <<";
const POST: &[u8] = b">> done\n";

fn patterns(values: &[&str]) -> Arc<Patterns> {
    Arc::new(Patterns::new(values))
}

/// Scrubs `body` pushed as the given chunks; returns the output and the replacement count.
fn scrub_chunks(patterns: &Arc<Patterns>, chunks: &[&[u8]]) -> (Vec<u8>, u64) {
    let mut scrubber = BodyScrubber::new(patterns.clone());
    let mut out = Vec::new();
    for chunk in chunks {
        scrubber.push(chunk, &mut out);
    }
    scrubber.finish(&mut out);
    (out, scrubber.replaced())
}

/// Scrubs `body` cut into pieces of the given sizes (cycled).
fn scrub_sizes(patterns: &Arc<Patterns>, body: &[u8], sizes: &[usize]) -> (Vec<u8>, u64) {
    let mut chunks = Vec::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    while at < body.len() {
        let size = (*sizes.next().unwrap()).max(1).min(body.len() - at);
        chunks.push(&body[at..at + size]);
        at += size;
    }
    scrub_chunks(patterns, &chunks)
}

fn framed(form: &[u8]) -> Vec<u8> {
    [PRE, form, POST].concat()
}

fn expected_one_marker() -> Vec<u8> {
    [PRE, MARKER, POST].concat()
}

/// Every form a test body carries: the documented encodings plus base64 blobs.
fn all_forms(value: &str) -> Vec<(String, Vec<u8>)> {
    encodings(value.as_bytes())
        .into_iter()
        .map(|(name, form)| (name.to_string(), form))
        .collect()
}

#[test]
fn each_form_is_replaced_when_split_at_every_boundary() {
    for value in [KEY, SPECIAL] {
        let patterns = patterns(&[value]);
        for (name, form) in all_forms(value) {
            // The padded base64 of the value alone ends in characters that depend on what
            // follows; the interior before them is what gets replaced.
            if name.starts_with("base64") {
                continue;
            }
            let body = framed(&form);
            for cut in 0..=body.len() {
                let (out, replaced) = scrub_chunks(&patterns, &[&body[..cut], &body[cut..]]);
                assert_eq!(
                    out,
                    expected_one_marker(),
                    "{name} of {value}, cut at {cut}"
                );
                assert_eq!(replaced, 1);
                assert!(!patterns.found_in(&out));
            }
        }
    }
}

#[test]
fn raw_and_base64_forms_survive_no_pair_of_cuts() {
    let patterns = patterns(&[SPECIAL]);
    let interior = crate::forms::of(SPECIAL.as_bytes())[1].clone();
    for form in [SPECIAL.as_bytes().to_vec(), interior] {
        let body = framed(&form);
        for first in 0..=body.len() {
            for second in first..=body.len() {
                let chunks = [&body[..first], &body[first..second], &body[second..]];
                let (out, replaced) = scrub_chunks(&patterns, &chunks);
                assert_eq!(out, expected_one_marker(), "cuts {first}, {second}");
                assert_eq!(replaced, 1);
            }
        }
    }
}

#[test]
fn each_form_is_replaced_when_pushed_byte_by_byte_or_in_any_small_size() {
    for value in [KEY, SPECIAL] {
        let patterns = patterns(&[value]);
        for (name, form) in all_forms(value) {
            let body = framed(&form);
            let whole = scrub_chunks(&patterns, &[&body]);
            assert!(!patterns.found_in(&whole.0), "{name}");
            assert_eq!(count(&whole.0, MARKER), 1, "{name}");
            for size in 1..=patterns.longest() + 1 {
                assert_eq!(
                    scrub_sizes(&patterns, &body, &[size]),
                    whole,
                    "{name} size {size}"
                );
            }
        }
    }
}

#[test]
fn base64_blob_with_the_value_at_any_offset_is_scrubbed_around_the_interior() {
    for value in [KEY, SPECIAL] {
        let patterns = patterns(&[value]);
        let n = value.len();
        for engine in [&STANDARD, &URL_SAFE] {
            for prefix_len in 0..6usize {
                for suffix_len in 0..4usize {
                    let mut blob = noise(prefix_len as u64, prefix_len);
                    blob.extend_from_slice(value.as_bytes());
                    blob.extend(noise(suffix_len as u64 + 9, suffix_len));
                    let encoded = engine.encode(&blob).into_bytes();
                    let start = (8 * prefix_len).div_ceil(6);
                    let end = 8 * (prefix_len + n) / 6;
                    let expected = [&encoded[..start], MARKER, &encoded[end..]].concat();
                    for size in [1, 2, 3, 7, 64, encoded.len()] {
                        let (out, replaced) = scrub_sizes(&patterns, &encoded, &[size]);
                        assert_eq!(out, expected, "prefix {prefix_len} suffix {suffix_len}");
                        assert_eq!(replaced, 1);
                        assert!(!patterns.found_in(&out));
                    }
                }
            }
        }
    }
}

#[test]
fn repeated_and_adjacent_forms_each_become_a_marker() {
    let patterns = patterns(&[KEY, SPECIAL]);
    let forms: Vec<Vec<u8>> = all_forms(KEY)
        .into_iter()
        .chain(all_forms(SPECIAL))
        .map(|(_, form)| form)
        .filter(|f| !f.ends_with(b"="))
        .collect();
    let body: Vec<u8> = forms
        .iter()
        .flat_map(|f| [f.as_slice(), b" "].concat())
        .collect();
    for size in [1, 5, 33, body.len()] {
        let (out, replaced) = scrub_sizes(&patterns, &body, &[size]);
        assert!(!patterns.found_in(&out));
        assert_eq!(count(&out, MARKER) as u64, replaced);
        assert_eq!(replaced, forms.len() as u64);
    }
}

#[test]
fn longer_value_wins_over_its_prefix() {
    let patterns = patterns(&["sk-ant-api03-AAAA", "sk-ant-api03-AAAABBBB"]);
    let (out, replaced) = scrub_sizes(&patterns, b"x sk-ant-api03-AAAABBBB y", &[3]);
    assert_eq!(out, [b"x ", MARKER, b" y"].concat());
    assert_eq!(replaced, 1);
}

#[test]
fn partial_value_at_the_end_of_the_body_is_flushed_unchanged() {
    let patterns = patterns(&[KEY]);
    let body = [b"tail: ", &KEY.as_bytes()[..KEY.len() - 1]].concat();
    let (out, replaced) = scrub_sizes(&patterns, &body, &[4]);
    assert_eq!(out, body);
    assert_eq!(replaced, 0);
}

#[test]
fn holds_back_fewer_than_longest_bytes() {
    let patterns = patterns(&[KEY]);
    let keep = patterns.longest() - 1;
    let body = noise(3, 10_000);
    let mut scrubber = BodyScrubber::new(patterns.clone());
    let mut out = Vec::new();
    let mut pushed = 0;
    for chunk in body.chunks(97) {
        scrubber.push(chunk, &mut out);
        pushed += chunk.len();
        assert_eq!(out.len(), pushed.saturating_sub(keep));
    }
    scrubber.finish(&mut out);
    assert_eq!(out, body);
}

#[test]
fn empty_patterns_pass_chunks_straight_through() {
    let patterns = patterns(&[""]);
    let mut scrubber = BodyScrubber::new(patterns);
    let mut out = Vec::new();
    scrubber.push(b"abc", &mut out);
    assert_eq!(out, b"abc");
    scrubber.finish(&mut out);
    assert_eq!(out, b"abc");
    assert_eq!(scrubber.replaced(), 0);
}

#[test]
fn a_marker_already_in_the_body_is_not_counted() {
    let patterns = patterns(&[KEY]);
    let body = [MARKER, b" ", KEY.as_bytes()].concat();
    let (out, replaced) = scrub_sizes(&patterns, &body, &[2]);
    assert_eq!(out, [MARKER, b" ", MARKER].concat());
    assert_eq!(replaced, 1);
}

/// The patterns of both sample values, built once for the property tests.
static BOTH: LazyLock<Arc<Patterns>> = LazyLock::new(|| patterns(&[KEY, SPECIAL]));

fn form_strategy() -> impl Strategy<Value = (String, Vec<u8>)> {
    let forms: Vec<(String, Vec<u8>)> = [KEY, SPECIAL]
        .iter()
        .flat_map(|v| all_forms(v))
        .filter(|(name, _)| !name.starts_with("base64"))
        .collect();
    proptest::sample::select(forms)
}

proptest! {
    #[test]
    fn any_form_in_any_body_at_any_chunking_becomes_one_marker(
        prefix in proptest::collection::vec(0x80u8..=0xff, 0..300),
        suffix in proptest::collection::vec(0x80u8..=0xff, 0..300),
        (name, form) in form_strategy(),
        sizes in proptest::collection::vec(1usize..80, 1..20),
    ) {
        let patterns = &*BOTH;
        let body = [prefix.as_slice(), &form, &suffix].concat();
        let (out, replaced) = scrub_sizes(patterns, &body, &sizes);
        prop_assert_eq!(out.clone(), [prefix.as_slice(), MARKER, &suffix].concat(), "{}", name);
        prop_assert_eq!(replaced, 1);
        prop_assert!(!patterns.found_in(&out));
    }

    #[test]
    fn value_inside_any_base64_blob_at_any_chunking_is_removed(
        prefix in proptest::collection::vec(any::<u8>(), 0..40),
        suffix in proptest::collection::vec(any::<u8>(), 0..40),
        url_safe in any::<bool>(),
        sizes in proptest::collection::vec(1usize..50, 1..10),
    ) {
        let patterns = patterns(&[KEY]);
        let blob = [prefix.as_slice(), KEY.as_bytes(), &suffix].concat();
        let encoded = if url_safe { URL_SAFE.encode(&blob) } else { STANDARD.encode(&blob) };
        let (out, replaced) = scrub_sizes(&patterns, encoded.as_bytes(), &sizes);
        prop_assert_eq!(replaced, 1);
        prop_assert_eq!(count(&out, MARKER), 1);
        prop_assert!(!patterns.found_in(&out));
    }

    #[test]
    fn bodies_without_values_pass_through_byte_identical(
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        sizes in proptest::collection::vec(1usize..300, 1..20),
    ) {
        let (out, replaced) = scrub_sizes(&BOTH, &body, &sizes);
        prop_assert_eq!(out, body);
        prop_assert_eq!(replaced, 0);
    }

    #[test]
    fn output_does_not_depend_on_chunking(
        body in proptest::collection::vec(
            proptest::sample::select(b"sk-ant%2F61 \\\"ab".to_vec()),
            0..400,
        ),
        sizes in proptest::collection::vec(1usize..40, 1..10),
    ) {
        let patterns = patterns(&["sk-ant-a", "ant%2F61", "\\\"ab\\\"ab"]);
        let whole = scrub_chunks(&patterns, &[&body]);
        prop_assert_eq!(scrub_sizes(&patterns, &body, &sizes), whole.clone());
        prop_assert!(!patterns.found_in(&whole.0));
    }
}
