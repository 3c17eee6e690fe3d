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
        let got = Request::parse(text, *method, None).unwrap();
        assert_eq!(got.carried, *carried, "{text}");
        assert_eq!(got.method, *want_method, "{text}");
        assert_eq!(got.destination, *dest, "{text}");
        assert_eq!(got.port, *port, "{text}");
        assert_eq!(got.path.as_deref(), *path, "{text}");
    }
}

#[test]
fn requests_display_as_the_edge_receives_them() {
    let show = |t: &str, m: Option<&str>| Request::parse(t, m, None).unwrap().to_string();
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
        assert_eq!(
            Request::parse(text, *method, None),
            Err(want.clone()),
            "{text}"
        );
    }
    let with_path: &[(&str, Option<&str>, &str, RequestError)] = &[
        (
            "https://api.example.com/v1/",
            None,
            "/v2/",
            RequestError::PathWithUrl,
        ),
        (
            "api.example.com:443",
            None,
            "v1/x",
            RequestError::Path("v1/x".to_owned()),
        ),
        (
            "api.example.com:443",
            None,
            "/v1/a b",
            RequestError::Path("/v1/a b".to_owned()),
        ),
        (
            "api.example.com:443",
            None,
            "/v1/\r\nx",
            RequestError::Path("/v1/\r\nx".to_owned()),
        ),
        (
            "api.example.com:443",
            Some("CONNECT"),
            "/",
            RequestError::Method("CONNECT".to_owned()),
        ),
    ];
    for (text, method, path, want) in with_path {
        assert_eq!(
            Request::parse(text, *method, Some(path)),
            Err(want.clone()),
            "{text} {path}"
        );
    }
    assert_eq!(
        RequestError::NotARequest.to_string(),
        "write a URL (`https://pypi.org/simple/`, `http://example.com/`) or a CONNECT authority with its port (`github.com:443`)"
    );
    assert_eq!(
        Request::parse(&"a".repeat(9000), None, None),
        Err(RequestError::TooLong)
    );
}

#[test]
fn an_authority_with_a_method_or_path_is_a_request_inside_the_tunnel() {
    let bare = Request::parse("api.example.com:443", None, None).unwrap();
    assert_eq!(
        (bare.method.as_str(), bare.path.as_deref()),
        ("CONNECT", None)
    );
    assert_eq!(bare.inner(), ("GET", "/"));
    let with_method = Request::parse("api.example.com:443", Some("post"), None).unwrap();
    assert_eq!(with_method.carried, Carried::Tunnel);
    assert_eq!(with_method.inner(), ("post", "/"));
    let with_path = Request::parse("api.example.com:443", None, Some("/v1/x?y=1")).unwrap();
    assert_eq!(with_path.inner(), ("GET", "/v1/x?y=1"));
    assert_eq!(with_path.to_string(), "CONNECT api.example.com:443");
    let url = Request::parse("https://api.example.com/v1/m?q", Some("DELETE"), None).unwrap();
    assert_eq!(url.inner(), ("DELETE", "/v1/m?q"));
}

proptest! {
    #[test]
    fn parsing_never_panics(
        text in ".{0,100}",
        method in proptest::option::of("[A-Za-z ]{0,8}"),
        path in proptest::option::of(".{0,20}"),
    ) {
        let _ = Request::parse(&text, method.as_deref(), path.as_deref());
    }
}
