use proptest::prelude::*;

use super::{Inject, InjectFormat, header_name, is_valid_secret_name};

fn inject(format: &str) -> Inject {
    Inject {
        secret: "anthropic-api-key".to_owned(),
        header: "x-api-key".to_owned(),
        format: InjectFormat::parse(format).unwrap(),
    }
}

#[test]
fn render_puts_the_value_where_the_placeholder_is() {
    assert_eq!(inject("{secret}").render(b"sk-1"), b"sk-1");
    assert_eq!(inject("Bearer {secret}").render(b"sk-1"), b"Bearer sk-1");
    assert_eq!(
        inject("token={secret};v=1").render(b"sk-1"),
        b"token=sk-1;v=1"
    );
    assert_eq!(inject("{secret}").render(b""), b"");
    // The value is never interpreted: a placeholder inside it stays as it is.
    assert_eq!(
        inject("Bearer {secret}").render(b"{secret}"),
        b"Bearer {secret}"
    );
    assert_eq!(InjectFormat::default().render(b"v"), b"v");
    assert_eq!(InjectFormat::default().template(), "{secret}");
}

#[test]
fn templates_round_trip_and_describe_by_name() {
    for template in ["{secret}", "Bearer {secret}", "a {secret} b", "{secret}x"] {
        let format = InjectFormat::parse(template).unwrap();
        assert_eq!(format.template(), template);
        assert_eq!(format.to_string(), template);
        assert_eq!(InjectFormat::parse(&format.template()), Ok(format));
    }
}

#[test]
fn bad_templates_say_why() {
    let missing = "must hold `{secret}` where the secret goes, like `Bearer {secret}`";
    let table: &[(&str, &str)] = &[
        ("", missing),
        ("Bearer", missing),
        ("Bearer {SECRET}", missing),
        ("Bearer {token}", missing),
        ("{secret}{secret}", "must hold `{secret}` exactly once"),
        ("{secret} and {secret}", "must hold `{secret}` exactly once"),
        (
            "Bearer {secret}\r\nX-Evil: 1",
            "may hold only printable ASCII and spaces (no control characters, line breaks or non-ASCII), so it can never split a header",
        ),
        (
            "Bearer\t{secret}",
            "may hold only printable ASCII and spaces (no control characters, line breaks or non-ASCII), so it can never split a header",
        ),
        (
            "Bärer {secret}",
            "may hold only printable ASCII and spaces (no control characters, line breaks or non-ASCII), so it can never split a header",
        ),
    ];
    for (template, want) in table {
        assert_eq!(
            InjectFormat::parse(template),
            Err((*want).to_owned()),
            "{template:?}"
        );
    }
    let long = format!("{}{{secret}}", "a".repeat(300));
    assert_eq!(
        InjectFormat::parse(&long),
        Err("is longer than 256 characters".to_owned())
    );
}

#[test]
fn header_names_are_tokens_stored_lower_case_and_never_the_edge_s_own() {
    assert_eq!(header_name("x-api-key"), Ok("x-api-key".to_owned()));
    assert_eq!(header_name("X-Api-Key"), Ok("x-api-key".to_owned()));
    assert_eq!(header_name("Authorization"), Ok("authorization".to_owned()));
    assert_eq!(header_name("cookie"), Ok("cookie".to_owned()));
    for owned in [
        "host",
        "Host",
        "content-length",
        "Transfer-Encoding",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "Proxy-Authorization",
        "proxy-authenticate",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        assert_eq!(
            header_name(owned),
            Err(format!(
                "`{owned}` is a header the edge owns (hop-by-hop, framing, routing or proxy authentication); a credential cannot go there"
            )),
            "{owned}"
        );
    }
    for bad in [
        "",
        "x api key",
        "x-api-key:",
        ":authority",
        "x-ké",
        "a\r\nb",
    ] {
        assert_eq!(
            header_name(bad),
            Err(format!(
                "`{bad}` is not a header name (an HTTP token of at most 64 characters, like `x-api-key`)"
            )),
            "{bad:?}"
        );
    }
    assert!(header_name(&"x".repeat(64)).is_ok());
    assert!(header_name(&"x".repeat(65)).is_err());
}

#[test]
fn secret_names_are_what_sds_names_them() {
    for good in ["anthropic-api-key", "prod/llm/key.v2", "A_B", "x"] {
        assert!(is_valid_secret_name(good), "{good}");
    }
    for bad in ["", "a b", "key*", "key:1", "ключ", "a\nb"] {
        assert!(!is_valid_secret_name(bad), "{bad:?}");
    }
    assert!(is_valid_secret_name(&"a".repeat(253)));
    assert!(!is_valid_secret_name(&"a".repeat(254)));
}

proptest! {
    #[test]
    fn parse_never_panics_and_render_keeps_prefix_and_suffix(text in "\\PC{0,40}", value in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(format) = InjectFormat::parse(&text) {
            let rendered = format.render(&value);
            let (prefix, suffix) = text.split_once("{secret}").unwrap();
            prop_assert!(rendered.starts_with(prefix.as_bytes()));
            prop_assert!(rendered.ends_with(suffix.as_bytes()));
            prop_assert_eq!(rendered.len(), prefix.len() + value.len() + suffix.len());
        }
    }
}
