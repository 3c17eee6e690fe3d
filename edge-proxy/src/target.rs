//! What a request asks to reach: the CONNECT authority or the absolute-form URI, parsed before
//! anything else is decided (parse errors are `malformed_request`).

use crate::head::RequestHead;
use policies::{AuthorityError, Destination};

/// How the request travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `CONNECT host:port`: a tunnel.
    Connect,
    /// An absolute-form plain-HTTP request; `path` is the origin-form target sent upstream.
    Forward {
        /// Path and query, always starting with `/`.
        path: String,
    },
}

/// A parsed request target.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Tunnel or forward.
    pub(crate) kind: Kind,
    /// The destination, or `None` for an IPv6 literal with a zone id (always refused as an IP
    /// literal once the token has been checked).
    pub(crate) destination: Option<Destination>,
    /// The port.
    pub(crate) port: u16,
    /// The authority as the upstream should see it in `Host`.
    pub(crate) authority: String,
}

/// Parses the request line's target; `Err` is a malformed request.
pub(crate) fn parse(head: &RequestHead) -> Result<Target, &'static str> {
    if head.method == "CONNECT" {
        // A CONNECT target is authority-form and must carry a port.
        let (destination, port) = authority(&head.target, None)?;
        return Ok(Target {
            kind: Kind::Connect,
            destination,
            port,
            authority: head.target.clone(),
        });
    }
    let rest =
        strip_scheme(&head.target).ok_or("a forward proxy needs an absolute http:// target")?;
    let (auth, path) = match rest.find(['/', '?']) {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, "/"),
    };
    if auth.contains('#') || path.contains('#') {
        return Err("fragment in request target");
    }
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let (destination, port) = authority(auth, Some(80))?;
    Ok(Target {
        kind: Kind::Forward { path },
        destination,
        port,
        authority: auth.to_owned(),
    })
}

fn strip_scheme(target: &str) -> Option<&str> {
    let prefix = target.get(..7)?;
    prefix
        .eq_ignore_ascii_case("http://")
        .then(|| target.get(7..))
        .flatten()
}

fn authority(
    text: &str,
    default_port: Option<u16>,
) -> Result<(Option<Destination>, u16), &'static str> {
    match policies::parse_authority(text, default_port) {
        Ok((d, port)) => Ok((Some(d), port)),
        Err(AuthorityError::ZoneId) => Ok((None, 0)),
        Err(_) => Err("malformed authority"),
    }
}
