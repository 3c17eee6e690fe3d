#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::Write as _;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use proptest::prelude::*;

use super::*;
use crate::samples::{KEY, noise};
use crate::{BodyScrubber, MARKER, Patterns};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = ::brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).unwrap();
    }
    out
}

fn decoder(value: &str) -> Decoder {
    Decoder::for_content_encoding(value).unwrap().unwrap()
}

/// Decodes `body` cut into pieces of `size` bytes.
fn decode_sizes(encoding: &str, body: &[u8], size: usize) -> Result<Vec<u8>, DecodeError> {
    let mut d = decoder(encoding);
    let mut out = Vec::new();
    for chunk in body.chunks(size.max(1)) {
        d.push(chunk, &mut out)?;
    }
    d.finish(&mut out)?;
    Ok(out)
}

/// Decodes `body` cut once at `cut`.
fn decode_cut(encoding: &str, body: &[u8], cut: usize) -> Result<Vec<u8>, DecodeError> {
    let mut d = decoder(encoding);
    let mut out = Vec::new();
    d.push(&body[..cut], &mut out)?;
    d.push(&body[cut..], &mut out)?;
    d.finish(&mut out)?;
    Ok(out)
}

fn plain() -> Vec<u8> {
    let mut body = b"{\"headers\": {\"x-api-key\": \"".to_vec();
    body.extend_from_slice(KEY.as_bytes());
    body.extend_from_slice(b"\"}, \"padding\": \"");
    body.extend(noise(1, 300).iter().map(|b| b'a' + b % 26));
    body.extend_from_slice(b"\"}\n");
    body
}

/// Every supported encoding with a body encoded in it.
fn encoded_samples(data: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("gzip", gzip(data)),
        ("x-gzip", gzip(data)),
        ("deflate", zlib(data)),
        ("deflate", raw_deflate(data)),
        ("br", brotli(data)),
        ("gzip, br", brotli(&gzip(data))),
        ("br, deflate", zlib(&brotli(data))),
    ]
}

#[test]
fn parses_content_encoding_values() {
    for value in [
        "gzip", "x-gzip", "GZIP", " Gzip\t", "deflate", "Deflate", "br", "BR", "gzip, br",
    ] {
        assert!(
            Decoder::for_content_encoding(value).unwrap().is_some(),
            "{value}"
        );
    }
    for value in ["", "identity", "Identity", " , ", "identity, identity"] {
        assert!(
            Decoder::for_content_encoding(value).unwrap().is_none(),
            "{value}"
        );
    }
    let stacked = decoder("gzip, identity, br");
    assert_eq!(stacked.stages.len(), 2);
    assert!(matches!(stacked.stages[0], Stage::Brotli(_)));
    assert!(matches!(stacked.stages[1], Stage::Gzip(_)));
    for value in [
        "compress",
        "zstd",
        "gzip, zstd",
        "gzip;q=1",
        "gz",
        "sk-ant-api03-xyz",
    ] {
        assert_eq!(
            Decoder::for_content_encoding(value).err(),
            Some(DecodeError::UnsupportedEncoding),
            "{value}"
        );
    }
    assert_eq!(
        Decoder::for_content_encoding("gzip, gzip, br, deflate, gzip").err(),
        Some(DecodeError::TooManyCodings { count: 5, max: 4 })
    );
}

#[test]
fn unsupported_encoding_error_does_not_quote_the_header() {
    let error = Decoder::for_content_encoding(KEY).err().unwrap();
    assert_eq!(error.to_string(), "unsupported content-encoding");
}

#[test]
fn decodes_every_encoding_at_every_single_cut() {
    let data = plain();
    for (encoding, body) in encoded_samples(&data) {
        for cut in 0..=body.len() {
            assert_eq!(
                decode_cut(encoding, &body, cut).unwrap(),
                data,
                "{encoding} cut {cut}"
            );
        }
    }
}

#[test]
fn decodes_every_encoding_byte_by_byte_and_in_any_small_size() {
    let data = plain();
    for (encoding, body) in encoded_samples(&data) {
        for size in [1, 2, 3, 5, 10, 17, 64, 1000] {
            assert_eq!(
                decode_sizes(encoding, &body, size).unwrap(),
                data,
                "{encoding} {size}"
            );
        }
    }
}

#[test]
fn decoded_bodies_are_scrubbed() {
    let data = plain();
    let patterns = Arc::new(Patterns::new(&[KEY]));
    assert!(patterns.found_in(&data));
    let expected: Vec<u8> = {
        let text = String::from_utf8(data.clone()).unwrap();
        text.replace(KEY, std::str::from_utf8(MARKER).unwrap())
            .into_bytes()
    };
    for (encoding, body) in encoded_samples(&data) {
        for size in [1, 7, 100, body.len()] {
            let mut d = decoder(encoding);
            let mut scrubber = BodyScrubber::new(patterns.clone());
            let mut out = Vec::new();
            for chunk in body.chunks(size) {
                let mut plain = Vec::new();
                d.push(chunk, &mut plain).unwrap();
                scrubber.push(&plain, &mut out);
            }
            let mut plain = Vec::new();
            d.finish(&mut plain).unwrap();
            scrubber.push(&plain, &mut out);
            scrubber.finish(&mut out);
            assert_eq!(out, expected, "{encoding} {size}");
            assert_eq!(scrubber.replaced(), 1);
            assert!(!patterns.found_in(&out));
        }
    }
}

#[test]
fn decodes_multi_member_gzip() {
    let body = [gzip(b"first member, "), gzip(KEY.as_bytes())].concat();
    for size in [1, 4, body.len()] {
        let expected = [b"first member, ".as_slice(), KEY.as_bytes()].concat();
        assert_eq!(decode_sizes("gzip", &body, size).unwrap(), expected);
    }
}

#[test]
fn decodes_gzip_with_every_optional_header_field() {
    let mut body = Vec::new();
    {
        let mut e = flate2::GzBuilder::new()
            .filename("echo.json")
            .comment("reflected")
            .extra(vec![1, 2, 3, 4, 5])
            .write(&mut body, Compression::fast());
        e.write_all(KEY.as_bytes()).unwrap();
        e.finish().unwrap();
    }
    // Add a header CRC (flag 0x02) right after the comment's terminating zero.
    let header_end = body
        .windows(b"reflected\0".len())
        .position(|w| w == b"reflected\0")
        .unwrap()
        + b"reflected\0".len();
    body[3] |= 0x02;
    body.splice(header_end..header_end, [0xab, 0xcd]);
    for size in [1, 3, body.len()] {
        assert_eq!(decode_sizes("gzip", &body, size).unwrap(), KEY.as_bytes());
    }
}

#[test]
fn truncated_streams_are_refused_at_every_length() {
    let data = plain();
    for (encoding, body) in encoded_samples(&data) {
        for len in 1..body.len() {
            let result = decode_sizes(encoding, &body[..len], 7);
            assert!(
                matches!(result, Err(DecodeError::Truncated { .. })),
                "{encoding} cut to {len}: {result:?}"
            );
        }
    }
}

#[test]
fn empty_body_decodes_to_nothing() {
    for encoding in ["gzip", "deflate", "br", "gzip, br"] {
        assert_eq!(decode_sizes(encoding, b"", 1).unwrap(), b"");
    }
}

#[test]
fn gzip_checksum_size_magic_and_flag_errors_are_corrupt() {
    let good = gzip(KEY.as_bytes());
    let corrupt = Err(DecodeError::Corrupt {
        coding: Coding::Gzip,
    });
    let n = good.len();
    for (what, index) in [("crc", n - 8), ("size", n - 2), ("magic", 0), ("method", 2)] {
        let mut bad = good.clone();
        bad[index] ^= 0x01;
        assert_eq!(decode_sizes("gzip", &bad, 5), corrupt, "{what}");
    }
    let mut reserved = good.clone();
    reserved[3] |= 0x20;
    assert_eq!(decode_sizes("gzip", &reserved, 5), corrupt);
}

#[test]
fn zlib_checksum_error_is_corrupt() {
    let mut bad = zlib(KEY.as_bytes());
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert_eq!(
        decode_sizes("deflate", &bad, 5),
        Err(DecodeError::Corrupt {
            coding: Coding::Deflate
        })
    );
}

#[test]
fn data_after_the_stream_is_refused() {
    let cases = [
        ("gzip", gzip(KEY.as_bytes()), Coding::Gzip),
        ("deflate", zlib(KEY.as_bytes()), Coding::Deflate),
        ("deflate", raw_deflate(KEY.as_bytes()), Coding::Deflate),
        ("br", brotli(KEY.as_bytes()), Coding::Brotli),
    ];
    for (encoding, body, coding) in cases {
        let body = [body.as_slice(), b"junk"].concat();
        for size in [1, 3, body.len()] {
            assert_eq!(
                decode_sizes(encoding, &body, size),
                Err(DecodeError::TrailingData { coding }),
                "{encoding} {size}"
            );
        }
    }
}

#[test]
fn errors_are_sticky_and_finish_is_final() {
    let mut d = decoder("gzip");
    let mut out = Vec::new();
    let corrupt = Err(DecodeError::Corrupt {
        coding: Coding::Gzip,
    });
    assert_eq!(d.push(b"not gzip at all", &mut out), corrupt);
    assert_eq!(d.push(&gzip(b"fine"), &mut out), corrupt);
    assert_eq!(d.finish(&mut out), corrupt);
    assert!(out.is_empty());

    let mut d = decoder("br");
    d.push(&brotli(b"fine"), &mut out).unwrap();
    d.finish(&mut out).unwrap();
    assert_eq!(out, b"fine");
    assert_eq!(d.push(b"more", &mut out), Err(DecodeError::Finished));
    assert_eq!(d.finish(&mut out), Err(DecodeError::Finished));
}

#[test]
fn a_compressible_body_is_decoded_incrementally() {
    // Repetitive JSON compresses about 100x: far below the bomb ratio, decoded as it arrives.
    let record = b"{\"id\":12345,\"status\":\"ok\",\"tags\":[\"a\",\"b\",\"c\"]},";
    let plain: Vec<u8> = record
        .iter()
        .copied()
        .cycle()
        .take(8 * 1024 * 1024)
        .collect();
    let body = gzip(&plain);
    let mut d = decoder("gzip");
    let mut produced = Vec::new();
    let mut largest_push = 0usize;
    for chunk in body.chunks(512) {
        let mut out = Vec::new();
        d.push(chunk, &mut out).unwrap();
        largest_push = largest_push.max(out.len());
        produced.extend_from_slice(&out);
    }
    d.finish(&mut produced).unwrap();
    assert_eq!(produced, plain);
    assert!(largest_push < 1024 * 1024, "{largest_push}");
}

#[test]
fn decompression_bombs_are_refused_with_bounded_memory() {
    let zeros = vec![0u8; 64 * 1024 * 1024];
    for (coding, body) in [
        ("gzip", gzip(&zeros)),
        ("br", brotli(&zeros)),
        ("gzip, gzip", gzip(&gzip(&zeros))),
    ] {
        let mut d = decoder(coding);
        let mut fed = 0u64;
        let mut produced = 0u64;
        let mut refused = false;
        for chunk in body.chunks(16 * 1024) {
            fed += chunk.len() as u64;
            let mut out = Vec::new();
            match d.push(chunk, &mut out) {
                Ok(()) => produced += out.len() as u64,
                Err(e) => {
                    assert_eq!(e, DecodeError::TooLarge, "{coding}");
                    refused = true;
                    break;
                }
            }
            // Never more than the budget (plus one inflate step) at any point.
            assert!(
                produced <= MIN_BUDGET.max(fed * MAX_RATIO) + 64 * 1024,
                "{coding}"
            );
        }
        assert!(
            refused,
            "{coding}: a {}-byte body expanding to 64 MiB",
            body.len()
        );
    }
}

#[test]
fn coding_names_match_the_header_tokens() {
    assert_eq!(Coding::Gzip.to_string(), "gzip");
    assert_eq!(Coding::Deflate.to_string(), "deflate");
    assert_eq!(Coding::Brotli.to_string(), "br");
    assert_eq!(
        DecodeError::Truncated {
            coding: Coding::Brotli
        }
        .to_string(),
        "br stream ended early"
    );
}

proptest! {
    #[test]
    fn garbage_never_panics_and_errors_stay(
        encoding in proptest::sample::select(
            vec!["gzip", "deflate", "br", "gzip, br", "deflate, gzip"],
        ),
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        size in 1usize..300,
    ) {
        let mut d = decoder(encoding);
        let mut out = Vec::new();
        let mut failed = None;
        for chunk in body.chunks(size) {
            match d.push(chunk, &mut out) {
                Ok(()) => prop_assert!(failed.is_none()),
                Err(e) => {
                    if let Some(first) = &failed {
                        prop_assert_eq!(&e, first);
                    }
                    failed = Some(e);
                }
            }
        }
        let finished = d.finish(&mut out);
        if let Some(first) = failed {
            prop_assert_eq!(finished, Err(first));
        }
    }

    #[test]
    fn valid_prefix_then_garbage_never_panics(
        cut in 0usize..200,
        junk in proptest::collection::vec(any::<u8>(), 1..200),
        size in 1usize..50,
        pick in 0usize..7,
    ) {
        let data = plain();
        let samples = encoded_samples(&data);
        let (encoding, body) = &samples[pick];
        let cut = cut.min(body.len());
        let mixed = [&body[..cut], junk.as_slice()].concat();
        let _ = decode_sizes(encoding, &mixed, size);
    }

    #[test]
    fn any_body_round_trips_at_any_chunking(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        size in 1usize..500,
        pick in 0usize..7,
    ) {
        let (encoding, body) = encoded_samples(&data).swap_remove(pick);
        prop_assert_eq!(decode_sizes(encoding, &body, size).unwrap(), data);
    }
}
