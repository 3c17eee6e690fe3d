#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::*;
use crate::samples::{KEY, SPECIAL, encodings, noise};

#[test]
fn finds_every_form_alone_and_embedded() {
    for value in [KEY, SPECIAL] {
        let patterns = Patterns::new(&[value]);
        for (name, form) in encodings(value.as_bytes()) {
            assert!(patterns.found_in(&form), "{name} of {value}");
            let mut body = b"{\"echo\": \"".to_vec();
            body.extend_from_slice(&form);
            body.extend_from_slice(b"\"}");
            assert!(patterns.found_in(&body), "{name} of {value} embedded");
        }
    }
}

#[test]
fn finds_value_at_any_offset_of_a_base64_blob_in_both_alphabets() {
    for value in [KEY, SPECIAL] {
        let patterns = Patterns::new(&[value]);
        for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            for prefix_len in 0..6 {
                for suffix_len in 0..4 {
                    let mut blob = noise(prefix_len as u64 + 7, prefix_len);
                    blob.extend_from_slice(value.as_bytes());
                    blob.extend(noise(suffix_len as u64 + 70, suffix_len));
                    let encoded = engine.encode(&blob);
                    assert!(
                        patterns.found_in(encoded.as_bytes()),
                        "{value}: prefix {prefix_len}, suffix {suffix_len}"
                    );
                }
            }
        }
    }
}

#[test]
fn finds_base64_blob_carried_in_a_url_query_or_php_json() {
    let run = [0xfb, 0xff, 0xbf].repeat(3);
    let value = [noise(42, 20).as_slice(), &run, &noise(43, 20)].concat();
    let patterns = Patterns::new(&[&value]);
    for prefix_len in 0..6 {
        let prefix = noise(prefix_len as u64, prefix_len);
        let encoded = STANDARD.encode([prefix.as_slice(), &value, b"tail"].concat());
        assert!(
            encoded.contains('+') || encoded.contains('/'),
            "precondition: {encoded}"
        );
        let upper = encoded
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let lower = encoded
            .replace('+', "%2b")
            .replace('/', "%2f")
            .replace('=', "%3d");
        let php = format!("{{\"token\":\"{}\"}}", encoded.replace('/', "\\/"));
        for carried in [upper, lower, php] {
            assert!(patterns.found_in(carried.as_bytes()), "{carried}");
        }
    }
}

#[test]
fn does_not_find_other_values_or_near_misses() {
    let patterns = Patterns::new(&[KEY]);
    let mut near = KEY.as_bytes().to_vec();
    near[40] ^= 1;
    assert!(!patterns.found_in(&near));
    assert!(!patterns.found_in(STANDARD.encode(&near).as_bytes()));
    assert!(!patterns.found_in(&KEY.as_bytes()[..KEY.len() - 1]));
    assert!(!patterns.found_in(b"{\"ok\": true}"));
    assert!(!patterns.found_in(b""));
}

#[test]
fn short_value_keeps_only_forms_of_eight_bytes_or_more() {
    let patterns = Patterns::new(&["ab"]);
    assert!(patterns.found_in(b"xxabxx"));
    assert!(!patterns.found_in(b"6162"));
    assert!(!patterns.found_in(b"%61%62"));
    assert!(!patterns.found_in(b"YWI="));
    assert_eq!(patterns.longest(), 2);
    let patterns = Patterns::new(&["abc"]);
    assert!(!patterns.found_in(b"616263"));
    assert!(patterns.found_in(b"%61%62%63"));
    assert_eq!(patterns.longest(), 9);
}

#[test]
fn empty_values_are_ignored() {
    let none: [&str; 0] = [];
    for patterns in [
        Patterns::new(&none),
        Patterns::new(&[""]),
        Patterns::new(&["", ""]),
    ] {
        assert!(patterns.is_empty());
        assert_eq!(patterns.longest(), 0);
        assert!(!patterns.found_in(b"anything"));
    }
    let patterns = Patterns::new(&["", KEY]);
    assert!(!patterns.is_empty());
    assert!(patterns.found_in(KEY.as_bytes()));
}

#[test]
fn longest_is_the_every_byte_percent_form() {
    let patterns = Patterns::new(&[KEY]);
    assert_eq!(patterns.longest(), 3 * KEY.len());
    let patterns = Patterns::new(&[SPECIAL, KEY]);
    assert_eq!(patterns.longest(), 3 * KEY.len());
}

#[test]
fn finds_each_of_several_values() {
    let patterns = Patterns::new(&[KEY.as_bytes(), SPECIAL.as_bytes(), b"ghp_0123456789abcdef"]);
    assert!(patterns.found_in(KEY.as_bytes()));
    assert!(patterns.found_in(b"x=a%2Fb%2Bc%3Dd%22e%5Cf+g%26h"));
    assert!(patterns.found_in(b"6768705f30313233343536373839616263646566"));
}

#[test]
fn debug_prints_counts_never_a_value_or_form() {
    let patterns = Patterns::new(&[KEY, SPECIAL]);
    let debug = format!("{patterns:?}");
    let forms = crate::forms::of(KEY.as_bytes()).len() + crate::forms::of(SPECIAL.as_bytes()).len();
    assert_eq!(
        debug,
        format!("Patterns {{ forms: {forms}, longest: {} }}", 3 * KEY.len())
    );
    for value in [KEY, SPECIAL] {
        for form in crate::forms::of(value.as_bytes()) {
            let form = String::from_utf8_lossy(&form);
            assert!(!debug.contains(form.as_ref()));
        }
    }
    assert!(!format!("{patterns:#?}").contains("sk-ant"));
}

#[test]
fn patterns_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Patterns>();
    assert_send_sync::<crate::BodyScrubber>();
}

#[test]
fn header_names_match_in_any_case_values_do_not() {
    let patterns = Patterns::new(&["sk-Ant-Key-1234567890"]);
    assert!(patterns.found_in_name(b"x-sk-ant-key-1234567890-echo"));
    assert!(patterns.found_in_name(b"X-SK-ANT-KEY-1234567890"));
    assert!(!patterns.found_in_name(b"x-innocent"));
    // Values keep exact matching: a different case is a different value.
    assert!(!patterns.found_in(b"sk-ant-key-1234567890"));
    assert!(patterns.found_in(b"sk-Ant-Key-1234567890"));
}
