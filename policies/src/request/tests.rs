use std::net::IpAddr;

use proptest::prelude::*;

use super::{Carried, Request, RequestError};
use crate::authority::Destination;
use crate::error::AuthorityError;

fn name(n: &str) -> Destination {
    Destination::Name(n.to_owned())
}

#[test]
fn urls_and_authorities_become_what_the_edge_sees() {
    /// (text, method, carried, method seen, destination, port, path)
    type Row<'a> = (
        &'a str,
        Option<&'a str>,
        Carried,
        &'a str,
        Destination,
        u16,
        Option<&'a str>,
    );
    let table: &[Row<'_>] = &[
        (
            "https://pypi.org/simple/",
            None,
            Carried::Tunnel,
            "GET",
            name("pypi.org"),
            443,
            Some("/simple/"),
        ),
        (
            "https://PyPI.org.",
            Some("POST"),
            Carried::Tunnel,
            "POST",
            name("pypi.org"),
            443,
            Some("/"),
        ),
        (
            "http://example.com:8080/a?b=c#frag",
            None,
            Carried::Forward,
            "GET",
            name("example.com"),
            8080,
            Some("/a?b=c"),
        ),
        (
            "http://example.com?q",
            None,
            Carried::Forward,
            "GET",
            name("example.com"),
            80,
            Some("/?q"),
        ),
        (
            "HTTPS://bücher.example/",
            None,
            Carried::Tunnel,
            "GET",
            name("xn--bcher-kva.example"),
            443,
            Some("/"),
        ),
        (
            "github.com:22",
            None,
            Carried::Tunnel,
            "CONNECT",
            name("github.com"),
            22,
            None,
        ),
        (
            "[2001:db8::7]:443",
            None,
            Carried::Tunnel,
            "CONNECT",
            Destination::Ip("2001:db8::7".parse::<IpAddr>().unwrap()),
            443,
            None,
        ),
        (
            "http://2130706433/",
            None,
            Carried::Forward,
            "GET",
            Destination::Ip("127.0.0.1".parse::<IpAddr>().unwrap()),
            80,
            Some("/"),
        ),
    ];
    for (text, method, carried, want_method, dest, port, path) in table {
        let got = Request::parse(text, *method).unwrap();
        assert_eq!(got.carried, *carried, "{text}");
        assert_eq!(got.method, *want_method, "{text}");
        assert_eq!(got.destination, *dest, "{text}");
        assert_eq!(got.port, *port, "{text}");
        assert_eq!(got.path.as_deref(), *path, "{text}");
    }
}

#[test]
fn requests_display_as_the_edge_receives_them() {
    let show = |t: &str, m: Option<&str>| Request::parse(t, m).unwrap().to_string();
    assert_eq!(
        show("https://pypi.org/simple/", None),
        "CONNECT pypi.org:443"
    );
    assert_eq!(
        show("http://example.com/x", Some("PUT")),
        "PUT http://example.com:80/x"
    );
    assert_eq!(
        show("[2001:db8::7]:8443", None),
        "CONNECT [2001:db8::7]:8443"
    );
}

#[test]
fn bad_requests_say_what_is_wrong() {
    let table: &[(&str, Option<&str>, RequestError)] = &[
        ("pypi.org", None, RequestError::NotARequest),
        ("pypi.org/simple", None, RequestError::NotARequest),
        (
            "ftp://example.com/",
            None,
            RequestError::Scheme("ftp".to_owned()),
        ),
        ("github.com:22", Some("GET"), RequestError::MethodOnConnect),
        (
            "https://user:pw@example.com/",
            None,
            RequestError::Authority(AuthorityError::Userinfo),
        ),
        (
            "https://example.com:0/",
            None,
            RequestError::Authority(AuthorityError::InvalidPort),
        ),
        (
            "http://example.com/",
            Some("GE T"),
            RequestError::Method("GE T".to_owned()),
        ),
        (
            "http://example.com/",
            Some("CONNECT"),
            RequestError::Method("CONNECT".to_owned()),
        ),
    ];
    for (text, method, want) in table {
        assert_eq!(Request::parse(text, *method), Err(want.clone()), "{text}");
    }
    assert_eq!(
        RequestError::NotARequest.to_string(),
        "write a URL (`https://pypi.org/simple/`, `http://example.com/`) or a CONNECT authority with its port (`github.com:443`)"
    );
    assert_eq!(
        Request::parse(&"a".repeat(9000), None),
        Err(RequestError::TooLong)
    );
}

proptest! {
    #[test]
    fn parsing_never_panics(text in ".{0,100}", method in proptest::option::of("[A-Za-z ]{0,8}")) {
        let _ = Request::parse(&text, method.as_deref());
    }
}
