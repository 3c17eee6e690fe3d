use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::{AuthorityError, Destination, parse_authority};

fn v4(a: u8, b: u8, c: u8, d: u8) -> Destination {
    Destination::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

fn v6(text: &str) -> Destination {
    Destination::Ip(IpAddr::V6(text.parse::<Ipv6Addr>().unwrap()))
}

fn name(text: &str) -> Destination {
    Destination::Name(text.to_owned())
}

#[test]
fn every_ip_spelling_becomes_an_address() {
    let table: &[(&str, Destination, u16)] = &[
        ("127.0.0.1:443", v4(127, 0, 0, 1), 443),
        ("2130706433:443", v4(127, 0, 0, 1), 443),
        ("0177.0.0.1:443", v4(127, 0, 0, 1), 443),
        ("0x7f.1:443", v4(127, 0, 0, 1), 443),
        ("0X7F.1:443", v4(127, 0, 0, 1), 443),
        ("127.1:443", v4(127, 0, 0, 1), 443),
        ("0x7f000001:443", v4(127, 0, 0, 1), 443),
        ("127.0.0.1.:443", v4(127, 0, 0, 1), 443),
        ("169.254.169.254:80", v4(169, 254, 169, 254), 80),
        ("0:80", v4(0, 0, 0, 0), 80),
        ("１２７.０.０.１:443", v4(127, 0, 0, 1), 443),
        ("[::1]:443", v6("::1"), 443),
        ("[2001:DB8::1]:8443", v6("2001:db8::1"), 8443),
        ("[::ffff:127.0.0.1]:443", v6("::ffff:7f00:1"), 443),
        ("[::127.0.0.1]:443", v6("::7f00:1"), 443),
        ("[64:ff9b::a00:1]:443", v6("64:ff9b::a00:1"), 443),
    ];
    for (input, dest, port) in table {
        assert_eq!(
            parse_authority(input, None),
            Ok((dest.clone(), *port)),
            "{input}"
        );
    }
}

#[test]
fn names_are_normalised() {
    let table: &[(&str, Option<u16>, &str, u16)] = &[
        ("example.com:443", None, "example.com", 443),
        ("Example.COM:443", None, "example.com", 443),
        ("example.com.:443", None, "example.com", 443),
        ("example.com", Some(80), "example.com", 80),
        ("example.com.", Some(80), "example.com", 80),
        ("bücher.example:443", None, "xn--bcher-kva.example", 443),
        ("BÜCHER.example:443", None, "xn--bcher-kva.example", 443),
        (
            "xn--bcher-kva.example:443",
            None,
            "xn--bcher-kva.example",
            443,
        ),
        ("pypi.org:00443", None, "pypi.org", 443),
        ("a-b.c1.example:65535", None, "a-b.c1.example", 65535),
        ("123.example:1", None, "123.example", 1),
    ];
    for (input, default, host, port) in table {
        assert_eq!(
            parse_authority(input, *default),
            Ok((name(host), *port)),
            "{input}"
        );
    }
}

#[test]
fn malformed_authorities_are_refused() {
    use AuthorityError::*;
    let table: &[(&str, AuthorityError)] = &[
        ("", EmptyHost),
        (":443", EmptyHost),
        (".:443", EmptyHost),
        ("example.com:0", InvalidPort),
        ("example.com:65536", InvalidPort),
        ("example.com:99999999999999999999", InvalidPort),
        ("example.com:+80", InvalidPort),
        ("example.com:-1", InvalidPort),
        ("example.com:80a", InvalidPort),
        ("example.com:", InvalidPort),
        ("example.com:٤٤٣", InvalidPort),
        ("example.com", MissingPort),
        ("user@example.com:443", Userinfo),
        ("user:pass@example.com:443", Userinfo),
        ("@example.com:443", Userinfo),
        ("[fe80::1%25eth0]:443", ZoneId),
        ("[fe80::1%eth0]:443", ZoneId),
        ("[nonsense%25eth0]:443", InvalidIpv6),
        ("exa mple.com:443", InvalidCharacter),
        (" example.com:443", InvalidCharacter),
        ("example.com :443", InvalidCharacter),
        ("example.com:443\r\n", InvalidCharacter),
        ("example.com\0:443", InvalidCharacter),
        ("exa%6dple.com:443", InvalidCharacter),
        ("example.com/path:443", InvalidCharacter),
        ("[::1:443", InvalidIpv6),
        ("::1]:443", InvalidIpv6),
        ("[1.2.3.4]:443", InvalidIpv6),
        ("[::1]x:443", InvalidIpv6),
        ("[::1]:", InvalidPort),
        ("[::1]:0", InvalidPort),
        ("[::1]", MissingPort),
        ("a[::1]:443", InvalidIpv6),
        ("::1:443", TooManyColons),
        ("example.com:443:443", TooManyColons),
        ("1.2.3.4.5:443", InvalidIpv4),
        ("256.1.1.1:443", InvalidIpv4),
        ("09.1.1.1:443", InvalidIpv4),
        ("example.0x:443", InvalidIpv4),
        ("example.123:443", InvalidIpv4),
        ("a..example:443", InvalidHost),
        ("-a.example:443", InvalidHost),
        ("a_b.example:443", InvalidHost),
        ("*.example.com:443", InvalidHost),
        ("example.com..:443", InvalidHost),
    ];
    for (input, want) in table {
        assert_eq!(parse_authority(input, None), Err(*want), "{input:?}");
    }
    let long = format!("{}.com:443", "a".repeat(2000));
    assert_eq!(parse_authority(&long, None), Err(TooLong));
    let long_name = format!("{}:443", ["abcdefghi"; 26].join("."));
    assert_eq!(parse_authority(&long_name, None), Err(InvalidHost));
}

#[test]
fn errors_never_echo_the_input() {
    let err = parse_authority("user:hunter2@example.com:443", None).unwrap_err();
    assert!(!err.to_string().contains("hunter2"));
    assert_eq!(err.to_string(), "the authority carries userinfo");
}

#[test]
fn destinations_display_in_authority_form() {
    assert_eq!(name("example.com").to_string(), "example.com");
    assert_eq!(v4(10, 0, 0, 1).to_string(), "10.0.0.1");
    assert_eq!(v6("::1").to_string(), "[::1]");
}

proptest! {
    #[test]
    fn never_panics(input in ".{0,80}", default in proptest::option::of(any::<u16>())) {
        let _ = parse_authority(&input, default);
    }

    #[test]
    fn never_panics_on_authority_shaped_input(input in "[\\[\\]0-9a-fA-FxX.:%@ -]{0,40}") {
        let _ = parse_authority(&input, Some(443));
    }

    #[test]
    fn normalising_is_idempotent(input in "[a-zA-Z0-9.-]{1,30}(:[0-9]{1,5})?") {
        if let Ok((dest, port)) = parse_authority(&input, Some(443)) {
            let again = parse_authority(&format!("{dest}:{port}"), None);
            prop_assert_eq!(again, Ok((dest, port)));
        }
    }
}
