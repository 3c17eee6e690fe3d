use super::{Hello, HelloError, parse};

/// Builds a minimal ClientHello record carrying `sni` (if any), optionally split in two records.
fn hello(sni: Option<&str>, split: bool) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0u8];
        entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
        entry.extend_from_slice(name.as_bytes());
        let mut list = (entry.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&entry);
        exts.extend_from_slice(&0u16.to_be_bytes());
        exts.extend_from_slice(&(list.len() as u16).to_be_bytes());
        exts.extend_from_slice(&list);
    }
    exts.extend_from_slice(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]); // supported_versions
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let record = |frag: &[u8]| {
        let mut r = vec![22, 3, 1];
        r.extend_from_slice(&(frag.len() as u16).to_be_bytes());
        r.extend_from_slice(frag);
        r
    };
    if split {
        let (a, b) = hs.split_at(10);
        [record(a), record(b)].concat()
    } else {
        record(&hs)
    }
}

#[test]
fn reads_sni_in_one_or_several_records() {
    for split in [false, true] {
        let raw = hello(Some("API.Example.com."), split);
        assert_eq!(
            parse(&raw).unwrap(),
            Some(Hello::Sni("api.example.com".into()))
        );
        for cut in 0..raw.len() {
            assert_eq!(parse(&raw[..cut]).unwrap(), None, "cut at {cut}");
        }
    }
}

#[test]
fn reports_a_hello_without_sni() {
    assert_eq!(parse(&hello(None, false)).unwrap(), Some(Hello::NoSni));
}

#[test]
fn refuses_non_tls_bytes() {
    assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Err(HelloError::NotTls));
    assert_eq!(parse(&[22, 3, 1, 0, 0]), Err(HelloError::NotTls));
}

proptest::proptest! {
    #[test]
    fn never_panics(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let _ = parse(&raw);
        let mut framed = vec![22, 3, 1];
        framed.extend_from_slice(&(raw.len() as u16).to_be_bytes());
        framed.extend_from_slice(&raw);
        let _ = parse(&framed);
    }
}
