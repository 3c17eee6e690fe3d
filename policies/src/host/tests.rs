use std::net::Ipv4Addr;

use super::{ends_in_number, is_valid_name, parse_ipv4, to_ascii};

#[test]
fn whatwg_ipv4_spellings() {
    let table: &[(&str, Option<[u8; 4]>)] = &[
        ("127.0.0.1", Some([127, 0, 0, 1])),
        ("2130706433", Some([127, 0, 0, 1])),
        ("0177.0.0.1", Some([127, 0, 0, 1])),
        ("0x7f.1", Some([127, 0, 0, 1])),
        ("0x7F.1", Some([127, 0, 0, 1])),
        ("127.1", Some([127, 0, 0, 1])),
        ("127.0.1", Some([127, 0, 0, 1])),
        ("0x7f000001", Some([127, 0, 0, 1])),
        ("017700000001", Some([127, 0, 0, 1])),
        ("0x", Some([0, 0, 0, 0])),
        ("0", Some([0, 0, 0, 0])),
        ("255.255.255.255", Some([255, 255, 255, 255])),
        ("4294967295", Some([255, 255, 255, 255])),
        ("4294967296", None),
        ("256.0.0.1", None),
        ("1.2.3.256", None),
        ("1.2.65536", None),
        ("1.2.65535", Some([1, 2, 255, 255])),
        ("1.2.3.4.5", None),
        ("1..2", None),
        ("09", None),
        ("0x1g", None),
        ("08.1", None),
        ("", None),
        ("a.1", None),
        ("99999999999999999999999", None),
        ("0x+1", None),
        ("+1", None),
    ];
    for (host, want) in table {
        assert_eq!(parse_ipv4(host), want.map(Ipv4Addr::from), "{host}");
    }
}

#[test]
fn numeric_last_label_marks_an_address() {
    for host in ["1.2.3.4", "example.123", "x.0x", "x.0x1f", "0x"] {
        assert!(ends_in_number(host), "{host}");
    }
    for host in ["example.com", "1.2.3.a4", "x.0xg", "123.example", "x."] {
        assert!(!ends_in_number(host), "{host}");
    }
}

#[test]
fn names_are_lowercased_punycode_and_validated() {
    assert_eq!(to_ascii("Example.COM").as_deref(), Some("example.com"));
    assert_eq!(
        to_ascii("bücher.example").as_deref(),
        Some("xn--bcher-kva.example")
    );
    assert_eq!(to_ascii("a_b.example"), None);
    assert!(is_valid_name("a-b.example"));
    assert!(is_valid_name(&format!("{}.com", "a".repeat(63))));
    assert!(!is_valid_name(&format!("{}.com", "a".repeat(64))));
    assert!(!is_valid_name(&["a"; 127].join(".").replace('a', "ab")));
    assert!(!is_valid_name("-a.example"));
    assert!(!is_valid_name("a-.example"));
    assert!(!is_valid_name("a..example"));
    assert!(!is_valid_name("Example.com"));
    assert!(!is_valid_name(""));
}
