use std::time::Duration;

use super::*;

fn load() -> Load {
    Load {
        duration: Duration::from_millis(1500),
        warmup: Duration::from_millis(250),
        connections: 8,
        sessions: 2,
        body_bytes: 64,
        max_requests: 10,
        request_timeout: Duration::from_secs(1),
    }
}

#[test]
fn settings_state_the_load_in_seconds() {
    assert_eq!(
        load().settings(),
        LoadSettings {
            duration_s: 1.5,
            warmup_s: 0.25,
            connections: 8,
            sessions: 2,
            body_bytes: 64,
        }
    );
}

#[test]
fn phases_measure_after_the_warm_up_for_the_duration() {
    let phases = load().phases();
    assert_eq!(
        phases.measure_start - phases.start,
        Duration::from_millis(250)
    );
    assert_eq!(phases.window(), Duration::from_millis(1500));
}

#[test]
fn a_load_without_connections_sessions_or_duration_is_refused() {
    assert!(load().validate().is_ok());
    for broken in [
        Load {
            connections: 0,
            ..load()
        },
        Load {
            sessions: 0,
            ..load()
        },
        Load {
            duration: Duration::ZERO,
            ..load()
        },
    ] {
        assert!(
            matches!(broken.validate(), Err(Error::Config(_))),
            "{broken:?}"
        );
    }
}
