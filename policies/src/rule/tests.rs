use std::net::IpAddr;

use super::parse_pattern;
use crate::model::HostPattern;

fn exact(s: &str) -> Result<HostPattern, ()> {
    Ok(HostPattern::Exact(s.to_owned()))
}

fn wildcard(s: &str) -> Result<HostPattern, ()> {
    Ok(HostPattern::Wildcard(s.to_owned()))
}

fn ip(s: &str) -> Result<HostPattern, ()> {
    Ok(HostPattern::Ip(s.parse::<IpAddr>().unwrap()))
}

#[test]
fn host_patterns_table() {
    let table: &[(&str, Result<HostPattern, ()>)] = &[
        ("pypi.org", exact("pypi.org")),
        ("pypi.org.", exact("pypi.org")),
        ("bücher.example", Err(())),
        ("xn--bcher-kva.example", exact("xn--bcher-kva.example")),
        ("localhost", Err(())),
        ("com", Err(())),
        ("com.", Err(())),
        ("*.pythonhosted.org", wildcard("pythonhosted.org")),
        ("*.a.b.example.", wildcard("a.b.example")),
        ("203.0.113.7", ip("203.0.113.7")),
        ("2001:db8::1", ip("2001:db8::1")),
        ("[2001:db8::1]", ip("2001:db8::1")),
        ("::ffff:1.2.3.4", ip("::ffff:1.2.3.4")),
        ("", Err(())),
        ("*", Err(())),
        ("*.com", Err(())),
        ("*.", Err(())),
        ("a.*.com", Err(())),
        ("*.*.example.com", Err(())),
        ("**.example.com", Err(())),
        ("*example.com", Err(())),
        ("PyPI.org", Err(())),
        ("pypi.org:443", Err(())),
        ("127.1", Err(())),
        ("0x7f.0.0.1", Err(())),
        ("2130706433", Err(())),
        ("01.2.3.4", Err(())),
        ("example.123", Err(())),
        ("[fe80::1%eth0]", Err(())),
        ("[1.2.3.4]", Err(())),
        ("[::1", Err(())),
        ("a_b.example", Err(())),
        ("-a.example", Err(())),
        ("a..example", Err(())),
        ("https://pypi.org", Err(())),
        ("pypi.org/simple", Err(())),
    ];
    for (text, want) in table {
        assert_eq!(parse_pattern(text).map_err(|_| ()), *want, "{text:?}");
    }
}

#[test]
fn pattern_errors_say_how_to_fix() {
    let table: &[(&str, &str)] = &[
        (
            "PyPI.org",
            "host `PyPI.org` must be lowercase; write `pypi.org`",
        ),
        (
            "*.com",
            "wildcard `*.com` is too broad; a wildcard needs at least two labels after `*.`, like `*.example.com`",
        ),
        (
            "a.*.com",
            "`a.*.com` is not a valid host; a wildcard is only allowed as a leading `*.`, like `*.example.com`",
        ),
        (
            "127.1",
            "`127.1` ends in a number, so clients read it as an IPv4 address; write the address as a dotted quad like `203.0.113.7`",
        ),
        (
            "pypi.org:443",
            "`pypi.org:443` is not a host name or IP address; put ports in `ports`",
        ),
        (
            "[fe80::1%eth0]",
            "`[fe80::1%eth0]` carries a zone id, which a rule cannot name",
        ),
        (
            "bücher.example",
            "host `bücher.example` must be written in punycode, as it goes on the wire; write `xn--bcher-kva.example`",
        ),
        (
            "*.bücher.example.",
            "host `*.bücher.example.` must be written in punycode, as it goes on the wire; write `*.xn--bcher-kva.example.`",
        ),
        (
            "com",
            "`com` is a single label (a bare top-level domain or a local short name); write the full name, like `pypi.org`",
        ),
    ];
    for (text, message) in table {
        assert_eq!(parse_pattern(text), Err((*message).to_owned()), "{text:?}");
    }
}
