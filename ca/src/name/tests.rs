use super::*;

#[test]
fn normalises_case_and_ip_forms() {
    let cases = [
        ("API.Example.COM", "api.example.com"),
        ("localhost", "localhost"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("_acme.example", "_acme.example"),
        ("10.0.0.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
    ];
    for (input, key) in cases {
        assert_eq!(LeafName::parse(input).unwrap().to_string(), key, "{input}");
    }
    assert_eq!(
        LeafName::parse("[::1]").unwrap(),
        LeafName::Ip("::1".parse().unwrap())
    );
}

#[test]
fn never_panics_on_odd_bytes() {
    for input in [
        "\0",
        "[",
        "]",
        "[]",
        "a\u{300}",
        "\u{202e}moc.elgoog",
        "..",
        ".",
        "a.-b",
        "a\nb",
    ] {
        assert!(LeafName::parse(input).is_err(), "{input:?}");
    }
}
