//! What may be logged: pingora writes whole request and response heads and bodies at `debug` and
//! `trace` (its HTTP/1 client and server), which on a bumped request would hold an injected
//! credential. Whatever level an operator asks for, events from pingora above `info` are dropped.
//! The binary's subscriber applies this as a filter; so do the tests that search the logs.

/// Whether an event from `target` at `level` may be written.
pub fn log_allowed(target: &str, level: &tracing::Level) -> bool {
    !(target.starts_with("pingora") && *level > tracing::Level::INFO)
}

#[cfg(test)]
mod tests {
    use super::log_allowed;
    use tracing::Level;

    #[test]
    fn pingora_is_capped_at_info_and_nothing_else_is() {
        let pingora = "pingora_core::protocols::http::v1::client";
        assert!(!log_allowed(pingora, &Level::TRACE));
        assert!(!log_allowed(pingora, &Level::DEBUG));
        assert!(log_allowed(pingora, &Level::INFO));
        assert!(log_allowed(pingora, &Level::ERROR));
        assert!(log_allowed("edge_proxy::bump", &Level::TRACE));
    }
}
