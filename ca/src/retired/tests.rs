use super::*;

const ORIGIN: &str = "retired.pem";

fn cert_pem(byte: u8) -> String {
    // Content is not parsed as X.509 here, only as PEM.
    pem::encode("CERTIFICATE", &[byte; 40])
}

#[test]
fn render_then_parse_round_trips() {
    let list = vec![
        Retired {
            pem: cert_pem(1),
            trusted_until: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        },
        Retired {
            pem: cert_pem(2),
            trusted_until: UNIX_EPOCH + Duration::from_secs(1_900_000_000),
        },
    ];
    let text = render(&list);
    assert!(text.starts_with("trusted-until: 1800000000\n-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(parse(&text, ORIGIN).unwrap(), list);
    assert_eq!(parse("", ORIGIN).unwrap(), vec![]);
}

#[test]
fn trusted_at_is_strictly_before_the_end() {
    let r = Retired {
        pem: cert_pem(1),
        trusted_until: UNIX_EPOCH + Duration::from_secs(100),
    };
    assert!(r.trusted_at(UNIX_EPOCH + Duration::from_secs(99)));
    assert!(!r.trusted_at(UNIX_EPOCH + Duration::from_secs(100)));
}

#[test]
fn refuses_malformed_files_naming_the_line() {
    let cases = [
        (
            "trusted-until: -1\n",
            "retired.pem is not usable: line 1: trusted-until is not a number of seconds",
        ),
        (
            "hello\n",
            "retired.pem is not usable: line 1: unexpected text",
        ),
        (
            "trusted-until: 5\n-----BEGIN CERTIFICATE-----\nAAAA\n",
            "retired.pem is not usable: unterminated certificate block",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(
            parse(text, ORIGIN).unwrap_err().to_string(),
            message,
            "{text:?}"
        );
    }
    let without = cert_pem(3);
    assert_eq!(
        parse(&without, ORIGIN).unwrap_err().to_string(),
        format!(
            "retired.pem is not usable: line {}: certificate without a trusted-until line",
            without.lines().count()
        )
    );
}
