use super::{HeadError, find_head_end, parse};

fn malformed(raw: &[u8]) -> &'static str {
    match find_head_end(raw).and_then(|end| parse(&raw[..end.expect("complete head")])) {
        Err(HeadError::Malformed(why)) => why,
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn parses_absolute_form_with_the_fields_the_edge_uses() {
    let raw = b"GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\nProxy-Authorization: Bearer t\r\nUser-Agent: curl\r\nContent-Length: 3\r\n\r\nabc";
    let end = find_head_end(raw).unwrap().unwrap();
    let head = parse(&raw[..end]).unwrap();
    assert_eq!(head.method, "GET");
    assert_eq!(head.target, "http://a.example/x?y");
    assert!(head.http11);
    assert_eq!(head.host.as_deref(), Some("a.example"));
    assert_eq!(head.proxy_authorization.as_deref(), Some("Bearer t"));
    assert_eq!(head.content_length, Some(3));
    assert_eq!(head.len, raw.len() - 3);
}

#[test]
fn refuses_every_ambiguous_framing() {
    let cases: [(&[u8], &str); 9] = [
        (
            b"GET http://a/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Content-Length with Transfer-Encoding",
        ),
        (
            b"GET http://a/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "repeated Content-Length",
        ),
        (
            b"GET http://a/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            "obsolete line folding",
        ),
        (
            b"GET http://a/ HTTP/1.1\nHost: a\n\n",
            "bare LF line ending",
        ),
        (
            b"GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "duplicate Host",
        ),
        (
            b"GET http://a/ HTTP/1.1\r\nProxy-Authorization: a\r\nProxy-Authorization: b\r\n\r\n",
            "duplicate Proxy-Authorization",
        ),
        (
            b"GET http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "unsupported transfer coding",
        ),
        (
            b"GET http://a/ HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            b"GET http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "unsupported transfer coding",
        ),
    ];
    for (raw, why) in cases {
        assert_eq!(malformed(raw), why, "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn stray_cr_is_refused_and_partial_heads_wait() {
    assert!(matches!(
        find_head_end(b"GET / HTTP/1.1\rX"),
        Err(HeadError::Malformed(_))
    ));
    assert_eq!(
        find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap(),
        None
    );
}

/// The byte-at-a-time definition the SIMD scan must agree with.
fn reference_head_end(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    let mut prev = 0u8;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'\n' if prev != b'\r' => return Err("bare LF line ending"),
            b'\n' if i >= 3 && &buf[i - 3..=i] == b"\r\n\r\n" => return Ok(Some(i + 1)),
            b'\n' => {}
            _ if prev == b'\r' => return Err("CR not followed by LF"),
            _ => {}
        }
        prev = b;
    }
    Ok(None)
}

proptest::proptest! {
    #[test]
    fn the_line_scan_agrees_with_the_byte_at_a_time_definition(
        raw in proptest::collection::vec(proptest::sample::select(&b"\r\nAB :"[..]), 0..64)
    ) {
        let got = match find_head_end(&raw) {
            Ok(end) => Ok(end),
            Err(HeadError::Malformed(why)) => Err(why),
            Err(other) => panic!("unexpected {other:?}"),
        };
        proptest::prop_assert_eq!(got, reference_head_end(&raw));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        if let Ok(Some(end)) = find_head_end(&raw) {
            let _ = parse(&raw[..end]);
        }
        let _ = parse(&raw);
    }
}
