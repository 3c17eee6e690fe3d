use std::time::Duration;

use proptest::prelude::*;

use super::{format_duration, format_size, parse_duration, parse_size};

#[test]
fn durations_parse_in_hours_minutes_seconds() {
    let table: &[(&str, u64)] = &[
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2h5m10s", 7510),
        ("90m", 5400),
        ("0s", 0),
    ];
    for (text, secs) in table {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_secs(*secs)),
            "{text}"
        );
    }
}

#[test]
fn bad_durations_are_refused() {
    for text in [
        "", "5", "5x", "m", "1m1h", "1h1h", "1.5h", "-5m", " 5m", "5m ", "5 m", "1d", "5ms",
    ] {
        assert!(parse_duration(text).is_err(), "{text:?} should be refused");
    }
    assert_eq!(
        parse_duration("300"),
        Err("duration `300` needs a unit; write e.g. `300s` or `300m`".to_owned())
    );
    assert!(parse_duration("99999999999999999999s").is_err());
    assert_eq!(
        parse_duration("9999999999999999999h"),
        Err("duration `9999999999999999999h` is too large".to_owned())
    );
}

#[test]
fn sizes_parse_with_iec_units() {
    let table: &[(&str, u64)] = &[
        ("1000", 1000),
        ("1000B", 1000),
        ("4KiB", 4096),
        ("256MiB", 256 << 20),
        ("1GiB", 1 << 30),
        ("2TiB", 2 << 40),
        ("0", 0),
    ];
    for (text, bytes) in table {
        assert_eq!(parse_size(text), Ok(*bytes), "{text}");
    }
}

#[test]
fn bad_sizes_are_refused() {
    for text in [
        "",
        "MiB",
        "1MB",
        "1 MiB",
        "1.5GiB",
        "-1",
        "1mib",
        "99999999999TiB",
    ] {
        assert!(parse_size(text).is_err(), "{text:?} should be refused");
    }
}

#[test]
fn durations_and_sizes_render_as_written() {
    let durations: &[(u64, &str)] = &[
        (0, "0s"),
        (30, "30s"),
        (300, "5m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (7510, "2h5m10s"),
        (86400, "24h"),
    ];
    for (secs, text) in durations {
        assert_eq!(format_duration(Duration::from_secs(*secs)), *text);
    }
    let sizes: &[(u64, &str)] = &[
        (0, "0"),
        (1000, "1000"),
        (1024, "1KiB"),
        (1536, "1536"),
        (256 << 20, "256MiB"),
        (1 << 30, "1GiB"),
        (3 << 40, "3TiB"),
    ];
    for (bytes, text) in sizes {
        assert_eq!(format_size(*bytes), *text);
    }
}

proptest! {
    #[test]
    fn rendered_durations_parse_back(secs in 0u64..10_000_000) {
        let d = Duration::from_secs(secs);
        prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }

    #[test]
    fn rendered_sizes_parse_back(bytes in any::<u64>()) {
        prop_assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
    }
}
