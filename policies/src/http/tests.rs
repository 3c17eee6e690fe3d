use proptest::prelude::*;
use trust_core::DenyReason::{self, MethodNotAllowed, PathNotAllowed};

use super::{HttpRules, unsafe_path, unsafe_target};
use crate::defaults;
use crate::model::{HostPattern, Rule, Rung};

fn rule(methods: &[&str], paths: &[&str]) -> Rule {
    Rule {
        id: "t.yaml:8".to_owned(),
        host: HostPattern::Exact("api.example.com".to_owned()),
        ports: defaults::PORTS.to_vec(),
        rung: Rung::Bump,
        addresses: Vec::new(),
        upgrades: Vec::new(),
        http: HttpRules {
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        },
        inject: Vec::new(),
    }
}

const OK: Result<(), DenyReason> = Ok(());

#[test]
fn methods_are_exact_upper_case_and_never_connect() {
    let listed = rule(&["GET", "POST"], &[]);
    let any = rule(&[], &[]);
    let with_trace = rule(&["GET", "TRACE"], &[]);
    let table: &[(&Rule, &str, Result<(), DenyReason>)] = &[
        (&listed, "GET", OK),
        (&listed, "POST", OK),
        (&listed, "PUT", Err(MethodNotAllowed)),
        (&listed, "get", Err(MethodNotAllowed)),
        (&listed, "Get", Err(MethodNotAllowed)),
        (&listed, "GET ", Err(MethodNotAllowed)),
        (&listed, " GET", Err(MethodNotAllowed)),
        (&listed, "", Err(MethodNotAllowed)),
        (&listed, "TRACE", Err(MethodNotAllowed)),
        (&listed, "CONNECT", Err(MethodNotAllowed)),
        (&any, "GET", OK),
        (&any, "DELETE", OK),
        (&any, "PROPFIND", OK),
        (&any, "M-SEARCH", OK),
        (&any, "get", Err(MethodNotAllowed)),
        (&any, "TRACE", Err(MethodNotAllowed)),
        (&any, "trace", Err(MethodNotAllowed)),
        (&any, "CONNECT", Err(MethodNotAllowed)),
        (&any, "connect", Err(MethodNotAllowed)),
        (&any, "GE\tT", Err(MethodNotAllowed)),
        (&any, "G\u{0}ET", Err(MethodNotAllowed)),
        (&any, "GÉT", Err(MethodNotAllowed)),
        (
            &any,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Err(MethodNotAllowed),
        ),
        (&with_trace, "TRACE", OK),
        (&with_trace, "trace", Err(MethodNotAllowed)),
    ];
    for (rule, method, want) in table {
        assert_eq!(
            rule.check_request(method, "/"),
            *want,
            "{method:?} with methods {:?}",
            rule.http.methods
        );
    }
}

#[test]
fn the_method_is_checked_before_the_path() {
    let r = rule(&["GET"], &["/v1/"]);
    assert_eq!(
        r.check_request("PUT", "/v1/../admin"),
        Err(MethodNotAllowed)
    );
    assert_eq!(r.check_request("GET", "/v1/../admin"), Err(PathNotAllowed));
}

#[test]
fn paths_match_prefixes_on_segment_boundaries_as_sent() {
    let slash = rule(&[], &["/v1/"]);
    let bare = rule(&[], &["/v1"]);
    let exact = rule(&[], &["/v1/messages"]);
    let root = rule(&[], &["/"]);
    let two = rule(&[], &["/v1/", "/health"]);
    let table: &[(&Rule, &str, Result<(), DenyReason>)] = &[
        (&slash, "/v1/messages", OK),
        (&slash, "/v1/", OK),
        (&slash, "/v1/a/b/c", OK),
        (&slash, "/v1/messages?beta=true", OK),
        (&slash, "/v1/messages?next=/../admin", OK),
        (&slash, "/v1", Err(PathNotAllowed)),
        (&slash, "/v1?x=/v1/", Err(PathNotAllowed)),
        (&slash, "/v2/messages", Err(PathNotAllowed)),
        (&slash, "/V1/messages", Err(PathNotAllowed)),
        (&slash, "/%761/messages", Err(PathNotAllowed)),
        (&slash, "//v1/messages", Err(PathNotAllowed)),
        (&slash, "/", Err(PathNotAllowed)),
        (&bare, "/v1", OK),
        (&bare, "/v1/x", OK),
        (&bare, "/v1?x=1", OK),
        (&bare, "/v1x", Err(PathNotAllowed)),
        (&bare, "/v1.json", Err(PathNotAllowed)),
        (&bare, "/v1;x", Err(PathNotAllowed)),
        (&bare, "/v10/x", Err(PathNotAllowed)),
        (&exact, "/v1/messages", OK),
        (&exact, "/v1/messages/1", OK),
        (&exact, "/v1/messages?x", OK),
        (&exact, "/v1/messagesX", Err(PathNotAllowed)),
        (&exact, "/v1/models", Err(PathNotAllowed)),
        (&root, "/anything/at/all", OK),
        (&root, "/", OK),
        (&two, "/health", OK),
        (&two, "/healthz", Err(PathNotAllowed)),
        (&two, "/v1/x", OK),
    ];
    for (rule, path, want) in table {
        assert_eq!(
            rule.check_request("GET", path),
            *want,
            "{path:?} with paths {:?}",
            rule.http.paths
        );
    }
}

#[test]
fn unsafe_targets_are_refused_whatever_the_prefixes() {
    let any = rule(&[], &[]);
    let slash = rule(&[], &["/v1/"]);
    let refused = [
        "/v1/../admin",
        "/v1/..",
        "/v1/./x",
        "/v1/.",
        "/./v1/x",
        "/../v1/x",
        "/v1/%2e%2e/x",
        "/v1/%2E%2E/x",
        "/v1/.%2e/x",
        "/v1/%2e./x",
        "/v1/%2e/x",
        "/v1/%252e%252e/x",
        "/v1/..;/admin",
        "/v1/.;x/admin",
        "/v1%2Fadmin",
        "/v1/x%2fy",
        "/v1/x%252Fy",
        "/v1/%5Cadmin",
        "/v1/%5cadmin",
        "/v1/a\\b",
        "/v1\\..\\admin",
        "/v1/%00",
        "/v1/a%00.json",
        "/v1/%zz",
        "/v1/%2",
        "/v1/%",
        "/v1/a b",
        "/v1/a\tb",
        "/v1/a\r\nHost: evil",
        "/v1/\u{7f}",
        "/v1/é",
        "/v1/x#/../admin",
        "/v1/x?q=1#frag",
        "/v1/x?q=a b",
        "v1/x",
        "",
        "*",
        "http://api.example.com/v1/x",
        "?x=1",
    ];
    for path in refused {
        assert_eq!(
            any.check_request("GET", path),
            Err(PathNotAllowed),
            "{path:?} (no prefixes)"
        );
        assert_eq!(
            slash.check_request("GET", path),
            Err(PathNotAllowed),
            "{path:?} (/v1/)"
        );
    }
    let allowed = [
        "/v1/messages",
        "/v1/a.b/c..d/...",
        "/v1/.well-known/x",
        "/v1/%41%42",
        "/v1/x?next=../../admin",
        "/v1/x?path=%2Fetc%2Fpasswd",
        "/v1/x?a=\\",
        "/v1/a;b=c",
        "/v1//x",
        "/v1/~user/",
    ];
    for path in allowed {
        assert_eq!(any.check_request("GET", path), OK, "{path:?}");
        assert_eq!(slash.check_request("GET", path), OK, "{path:?}");
    }
}

#[test]
fn unsafe_paths_say_why() {
    let table: &[(&str, Option<&str>)] = &[
        ("/v1/x", None),
        ("v1", Some("does not start with `/`")),
        ("/a\\b", Some("holds a backslash")),
        (
            "/a%2",
            Some("holds a `%` that is not followed by two hex digits"),
        ),
        (
            "/a%2Fb",
            Some("holds an encoded `/` or `\\` (`%2F`, `%5C`)"),
        ),
        ("/a%00", Some("holds an encoded NUL (`%00`)")),
        (
            "/a/%2e%2e/b",
            Some("holds a dot-segment (`.` or `..`, also percent-encoded)"),
        ),
    ];
    for (path, want) in table {
        assert_eq!(unsafe_path(path), *want, "{path:?}");
    }
    assert_eq!(
        unsafe_target("/a#b"),
        Some("holds a fragment (`#`), which a request never sends")
    );
    assert_eq!(
        unsafe_target("/a\nb"),
        Some("holds a space, a control character or a non-ASCII byte")
    );
    assert_eq!(unsafe_target("/a?b=%2F..\\"), None);
}

#[test]
fn a_pass_through_rule_has_no_method_or_path_rules() {
    let mut r = rule(&[], &[]);
    r.rung = Rung::PassThrough;
    assert_eq!(r.check_request("GET", "/anything"), OK);
    assert_eq!(r.check_request("TRACE", "/"), Err(MethodNotAllowed));
    assert_eq!(r.check_request("GET", "/a/../b"), Err(PathNotAllowed));
}

proptest! {
    #[test]
    fn checking_never_panics(method in "\\PC{0,12}", path in "\\PC{0,40}") {
        let r = rule(&["GET"], &["/v1/"]);
        let _ = r.check_request(&method, &path);
    }

    #[test]
    fn an_allowed_path_is_under_a_prefix_and_never_climbs_out(
        segments in proptest::collection::vec("[a-z.%2eEfF5cC;]{0,6}", 0..6),
    ) {
        let r = rule(&[], &["/v1/"]);
        let path = format!("/v1/{}", segments.join("/"));
        if r.check_request("GET", &path).is_ok() {
            // What a server that decodes once and resolves dot-segments would read.
            let decoded = path.to_ascii_lowercase().replace("%2e", ".");
            let mut stack: Vec<&str> = Vec::new();
            for seg in decoded.split('/').skip(1) {
                let name = seg.split(';').next().unwrap_or_default();
                match name {
                    ".." => { stack.pop(); }
                    "." => {}
                    _ => stack.push(seg),
                }
            }
            prop_assert_eq!(stack.first().copied(), Some("v1"), "{}", path);
        }
    }
}
