use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

fn sealed(body: &str, sequence: u64, prev: &HexHash) -> (Vec<u8>, HexHash) {
    let mut line = body.as_bytes().to_vec();
    let hash = seal(&mut line, sequence, prev);
    (line, hash)
}

#[test]
fn seal_appends_chain_fields_and_hashes_the_prefix() {
    let prev = HexHash::of(b"previous");
    let (line, hash) = sealed(r#"{"activity":"request"}"#, 42, &prev);
    let prefix = format!(r#"{{"activity":"request","sequence":42,"prev_hash":"{prev}""#);
    let expected_hash = hex::encode(Sha256::digest(prefix.as_bytes()));
    assert_eq!(hash.as_str(), expected_hash);
    assert_eq!(
        String::from_utf8(line).unwrap(),
        format!("{prefix},\"hash\":\"{expected_hash}\"}}\n")
    );
}

#[test]
fn sealed_len_is_exact() {
    for sequence in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX] {
        let body = r#"{"a":1}"#;
        let (line, _) = sealed(body, sequence, &HexHash::GENESIS);
        assert_eq!(
            line.len(),
            body.len() - 1 + sealed_len(sequence),
            "sequence {sequence}"
        );
    }
}

#[test]
fn sealed_line_parses_back() {
    let prev = HexHash::of(b"p");
    let (line, hash) = sealed(
        r#"{"activity":"audit_gap","count":7}"#,
        18_446_744_073_709_551_615,
        &prev,
    );
    let line = line.strip_suffix(b"\n").unwrap();
    let parsed = ParsedLine::parse(line).unwrap();
    assert!(parsed.hash_matches());
    assert_eq!(parsed.hash, hash);
    assert_eq!(parsed.prev_hash, prev);
    assert_eq!(parsed.meta.sequence, u64::MAX);
    assert_eq!(parsed.meta.activity, "audit_gap");
    assert_eq!(parsed.meta.count, Some(7));
    assert!(
        parsed
            .prefix
            .ends_with(format!(r#","prev_hash":"{prev}""#).as_bytes())
    );
}

#[test]
fn an_empty_object_still_seals_to_valid_json() {
    let (line, _) = sealed("{}", 1, &HexHash::GENESIS);
    let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(value["sequence"], 1);
}

#[test]
fn split_rejects_lines_without_the_exact_suffix() {
    let (line, _) = sealed(r#"{"a":1}"#, 3, &HexHash::GENESIS);
    let line = line.strip_suffix(b"\n").unwrap().to_vec();
    assert!(split(&line).is_some());
    let upper = String::from_utf8(line.clone()).unwrap();
    let cut = upper.len() - 10;
    let upper = format!("{}{}", &upper[..cut], upper[cut..].to_uppercase());
    assert!(
        split(upper.as_bytes()).is_none(),
        "uppercase hex is not ours"
    );
    assert!(split(&line[..line.len() - 1]).is_none());
    assert!(split(b"").is_none());
    assert!(split(b"{\"hash\":\"00\"}").is_none());
    assert!(ParsedLine::parse(b"not json at all").is_none());
}

#[test]
fn hex_hash_parse_accepts_only_64_lowercase_hex() {
    assert_eq!(HexHash::parse(&[b'0'; 64]), Some(HexHash::GENESIS));
    assert_eq!(HexHash::parse(&[b'0'; 63]), None);
    assert_eq!(HexHash::parse(&[b'g'; 64]), None);
    assert_eq!(HexHash::parse(&[b'A'; 64]), None);
}

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = split(&bytes);
        let _ = ParsedLine::parse(&bytes);
    }

    #[test]
    fn any_sequence_round_trips(sequence in any::<u64>(), host in "[a-z0-9.-]{0,40}") {
        let body = serde_json::to_string(&serde_json::json!({ "dst_host": host })).unwrap();
        let (line, hash) = sealed(&body, sequence, &HexHash::GENESIS);
        let parsed = ParsedLine::parse(line.strip_suffix(b"\n").unwrap()).unwrap();
        prop_assert!(parsed.hash_matches());
        prop_assert_eq!(parsed.hash, hash);
        prop_assert_eq!(parsed.meta.sequence, sequence);
    }
}
