#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use super::*;
use crate::samples::{KEY, SPECIAL, encodings, noise};

fn strings(forms: &[Vec<u8>]) -> Vec<String> {
    forms
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

#[test]
fn special_value_has_exactly_the_documented_forms() {
    let forms = strings(&of(SPECIAL.as_bytes()));
    let expected_non_base64 = [
        r#"a/b+c=d"e\f g&h"#,
        "a%2Fb%2Bc%3Dd%22e%5Cf%20g%26h",
        "a%2Fb%2Bc%3Dd%22e%5Cf+g%26h",
        "%61%2F%62%2B%63%3D%64%22%65%5C%66%20%67%26%68",
        "a%2fb%2bc%3dd%22e%5cf%20g%26h",
        "a%2fb%2bc%3dd%22e%5cf+g%26h",
        "%61%2f%62%2b%63%3d%64%22%65%5c%66%20%67%26%68",
        "612f622b633d6422655c6620672668",
        "612F622B633D6422655C6620672668",
        r#"a/b+c=d\"e\\f g&h"#,
        r#"a\/b+c=d\"e\\f g&h"#,
        r#"a/b+c=d\"e\\f g\u0026h"#,
        r"a\u002fb\u002bc\u003dd\u0022e\u005cf\u0020g\u0026h",
        r"a\u002Fb\u002Bc\u003Dd\u0022e\u005Cf\u0020g\u0026h",
        r"a/b+c=d&#34;e\f g&amp;h",
        r"a/b+c=d&quot;e\f g&amp;h",
    ];
    for form in expected_non_base64 {
        assert!(forms.contains(&form.to_string()), "missing {form}");
    }
    // 3 base64 interiors (no character of them is `+`, `/`, `-` or `_`, so the two alphabets
    // and the URL and PHP variants agree), the 16 above (Python and PHP agree on HTML here),
    // nothing else.
    assert_eq!(
        forms[1..4],
        [
            "YS9iK2M9ZCJlXGYgZyZo",
            "EvYitjPWQiZVxmIGcma",
            "hL2IrYz1kImVcZiBnJm"
        ]
    );
    assert_eq!(forms.len(), 3 + expected_non_base64.len(), "{forms:#?}");
}

#[test]
fn base64_interiors_have_the_computed_bounds_and_survive_any_surroundings() {
    let value = KEY.as_bytes();
    let n = value.len();
    let interiors = base64_interior::interiors(value);
    assert_eq!(interiors.len(), 6);
    for (index, interior) in interiors.iter().enumerate() {
        let k = index % 3;
        let start = (8 * k).div_ceil(6);
        let end = 8 * (k + n) / 6;
        assert_eq!(interior.len(), end - start, "alignment {k}");
        let engine = if index < 3 { &STANDARD } else { &URL_SAFE };
        for seed in 0..8u64 {
            for prefix_len in [k, k + 3, k + 30] {
                let mut blob = noise(seed, prefix_len);
                blob.extend_from_slice(value);
                blob.extend(noise(seed + 100, seed as usize));
                let encoded = engine.encode(&blob);
                let at = 8 * prefix_len / 6 + usize::from(8 * prefix_len % 6 != 0);
                assert_eq!(
                    &encoded.as_bytes()[at..at + interior.len()],
                    interior.as_slice(),
                    "alignment {k}, prefix {prefix_len}, seed {seed}"
                );
            }
        }
    }
}

#[test]
fn alignment_zero_interior_of_a_multiple_of_three_is_the_whole_encoding() {
    let value = b"abcdefghi";
    assert_eq!(
        base64_interior::interiors(value)[0],
        b"YWJjZGVmZ2hp".to_vec()
    );
}

#[test]
fn every_independently_computed_encoding_contains_a_form() {
    for value in [KEY, SPECIAL] {
        let forms = of(value.as_bytes());
        for (name, encoded) in encodings(value.as_bytes()) {
            assert!(
                forms
                    .iter()
                    .any(|f| encoded.windows(f.len()).any(|w| w == f.as_slice())),
                "{name} of {value}"
            );
        }
    }
}

#[test]
fn base64_interiors_with_plus_or_slash_also_come_url_and_php_escaped() {
    // 0xfb 0xff 0xbf encodes as "+/+/" in the standard alphabet.
    let value = [0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf];
    let forms = strings(&of(&value));
    for form in [
        "+/+/+/+/+/+/",
        "-_-_-_-_-_-_",
        "%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F",
        "%2b%2f%2b%2f%2b%2f%2b%2f%2b%2f%2b%2f",
        r"+\/+\/+\/+\/+\/+\/",
    ] {
        assert!(
            forms.contains(&form.to_string()),
            "missing {form}: {forms:#?}"
        );
    }
}

#[test]
fn html_escapes_follow_each_templating_library() {
    let forms = strings(&of(b"<it's \"x\">&"));
    for form in [
        "&lt;it&#39;s &#34;x&#34;&gt;&amp;",
        "&lt;it&#x27;s &quot;x&quot;&gt;&amp;",
        "&lt;it&#039;s &quot;x&quot;&gt;&amp;",
    ] {
        assert!(
            forms.contains(&form.to_string()),
            "missing {form}: {forms:#?}"
        );
    }
}

#[test]
fn short_value_keeps_only_its_raw_form() {
    assert_eq!(of(b"ab"), vec![b"ab".to_vec()]);
    assert_eq!(strings(&of(b"abc")), vec!["abc", "%61%62%63"]);
}

#[test]
fn derived_forms_shorter_than_eight_bytes_are_dropped_and_duplicates_merged() {
    assert_eq!(
        strings(&of(b"abcd")),
        vec!["abcd", "%61%62%63%64", "61626364"]
    );
}

#[test]
fn empty_value_has_no_forms() {
    assert!(of(b"").is_empty());
}

#[test]
fn forms_have_no_duplicates() {
    for value in [KEY, SPECIAL] {
        let forms = of(value.as_bytes());
        for (i, f) in forms.iter().enumerate() {
            assert!(
                !forms[i + 1..].contains(f),
                "duplicate {}",
                String::from_utf8_lossy(f)
            );
        }
    }
}

#[test]
fn json_escapes_control_and_non_ascii_characters_per_serialiser() {
    let forms = strings(&of("ü\n\u{1F600}x/\u{1}".as_bytes()));
    for form in [
        "ü\\n\u{1F600}x/\\u0001",
        "ü\\n\u{1F600}x\\/\\u0001",
        "\\u00fc\\n\\ud83d\\ude00x/\\u0001",
        "\\u00fc\\u000a\\ud83d\\ude00x\\u002f\\u0001",
        "\\u00FC\\u000A\\uD83D\\uDE00x\\u002F\\u0001",
    ] {
        assert!(
            forms.contains(&form.to_string()),
            "missing {form}: {forms:#?}"
        );
    }
}

#[test]
fn non_utf8_value_is_escaped_byte_by_byte() {
    let value = b"\xff\"secret\xfe";
    let forms = of(value);
    assert!(forms.contains(&b"\xff\\\"secret\xfe".to_vec()));
    assert!(forms.contains(&b"\xff\\u0022secret\xfe".to_vec()));
    assert!(forms.contains(&b"%FF%22secret%FE".to_vec()));
}

#[test]
fn percent_forms_cover_each_encoders_safe_set() {
    let forms = strings(&of(b"k-e.y_~!*'( )"));
    for form in [
        // RFC 3986 unreserved left alone.
        "k-e.y_~%21%2A%27%28%20%29",
        // Letters and digits only.
        "k%2De%2Ey%5F%7E%21%2A%27%28%20%29",
        "k%2de%2ey%5f%7e%21%2a%27%28%20%29",
        // encodeURIComponent.
        "k-e.y_~!*'(%20)",
        // Java URLEncoder: `~` encoded, `*` kept, space as `+`.
        "k-e.y_%7E%21*%27%28+%29",
    ] {
        assert!(
            forms.contains(&form.to_string()),
            "missing {form}: {forms:#?}"
        );
    }
}
