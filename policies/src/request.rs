//! A request as a reviewer writes it for `policy explain` and policy test cases: a URL
//! (`https://pypi.org/simple/`, `http://example.com/`) or a CONNECT authority
//! (`github.com:22`), brought to what the edge sees.
//!
//! An `https://` URL reaches the edge as `CONNECT host:443` and then TLS: on a
//! `pass-through` rule the edge sees the host and port, never the method or path; on a `bump`
//! rule it also decides the method and path of the request inside. An `http://` URL reaches
//! it as an absolute-form request whose method and path it does see.

use std::fmt;

use serde::Serialize;

use crate::authority::{Destination, parse_authority};
use crate::error::AuthorityError;

/// Longest request text accepted (a URL with a long path).
const MAX_REQUEST_LEN: usize = 8192;

/// How the request reaches the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Carried {
    /// `CONNECT host:port`, then bytes the edge does not read (an `https://` URL, or a CONNECT
    /// authority).
    Tunnel,
    /// A plain-HTTP absolute-form request (`GET http://host/path`), forwarded by the edge.
    Forward,
}

/// A request, normalised as the edge would see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// How it reaches the edge.
    pub carried: Carried,
    /// The method: `CONNECT` for a bare CONNECT authority, else the given method (default
    /// `GET`). For an `https://` URL (or an authority given with a method or path) this is the
    /// method inside the tunnel, which only a `bump` rule sees.
    pub method: String,
    /// The destination host, normalised (lowercase punycode, or an IP literal).
    #[serde(serialize_with = "serialize_display")]
    pub destination: Destination,
    /// The destination port.
    pub port: u16,
    /// The path and query (`/` when none), or `None` for a bare CONNECT authority.
    pub path: Option<String>,
}

/// Why a request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Neither `http://…`, `https://…` nor `host:port`.
    #[error(
        "write a URL (`https://pypi.org/simple/`, `http://example.com/`) or a CONNECT authority with its port (`github.com:443`)"
    )]
    NotARequest,
    /// A scheme other than `http` and `https`.
    #[error("only `http://` and `https://` URLs can be explained, not `{0}://`")]
    Scheme(String),
    /// The authority is malformed (the edge would answer `malformed_request`).
    #[error("the authority is malformed: {0}")]
    Authority(AuthorityError),
    /// The method is not an HTTP token.
    #[error("`{0}` is not an HTTP method")]
    Method(String),
    /// A path was given with a URL, which carries its own.
    #[error(
        "the URL carries the path; give the path in the URL, or a CONNECT authority and a path"
    )]
    PathWithUrl,
    /// The path is not an origin-form request-target.
    #[error(
        "`{0}` is not a request path: it must start with `/` and hold no spaces or control characters"
    )]
    Path(String),
    /// The text is too long.
    #[error("the request is longer than {MAX_REQUEST_LEN} characters")]
    TooLong,
}

impl Request {
    /// Reads a URL or, when `text` has no `://`, a CONNECT authority. `method` (default `GET`)
    /// is the method of a URL, or of the request inside the tunnel of an authority; `path`
    /// (default `/`) goes with an authority only, a URL carrying its own. An authority given
    /// with neither is a bare CONNECT.
    ///
    /// # Errors
    /// [`RequestError`] saying what is wrong.
    pub fn parse(
        text: &str,
        method: Option<&str>,
        path: Option<&str>,
    ) -> Result<Request, RequestError> {
        if text.len() > MAX_REQUEST_LEN || path.is_some_and(|p| p.len() > MAX_REQUEST_LEN) {
            return Err(RequestError::TooLong);
        }
        match text.split_once("://") {
            Some(_) if path.is_some() => Err(RequestError::PathWithUrl),
            Some((scheme, rest)) => Request::url(scheme, rest, method),
            None if method.is_none() && path.is_none() => Request::connect(text),
            None => {
                let mut request = Request::connect(text)?;
                request.method = checked_method(method)?;
                let path = path.unwrap_or("/");
                if !path.starts_with('/') || path.bytes().any(|b| !b.is_ascii_graphic()) {
                    return Err(RequestError::Path(path.to_owned()));
                }
                request.path = Some(path.to_owned());
                Ok(request)
            }
        }
    }

    /// Reads a CONNECT authority, `host:port` (the port is required).
    ///
    /// # Errors
    /// [`RequestError`] saying what is wrong.
    pub fn connect(authority: &str) -> Result<Request, RequestError> {
        if authority.contains('/') || !authority.contains(':') {
            return Err(RequestError::NotARequest);
        }
        let (destination, port) =
            parse_authority(authority, None).map_err(RequestError::Authority)?;
        Ok(Request {
            carried: Carried::Tunnel,
            method: "CONNECT".to_owned(),
            destination,
            port,
            path: None,
        })
    }

    fn url(scheme: &str, rest: &str, method: Option<&str>) -> Result<Request, RequestError> {
        let (carried, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "https" => (Carried::Tunnel, 443),
            "http" => (Carried::Forward, 80),
            _ => return Err(RequestError::Scheme(scheme.to_owned())),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (destination, port) =
            parse_authority(authority, Some(default_port)).map_err(RequestError::Authority)?;
        let tail = tail.split('#').next().unwrap_or_default();
        let path = match tail {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        let method = checked_method(method)?;
        Ok(Request {
            carried,
            method,
            destination,
            port,
            path: Some(path),
        })
    }

    /// The method and request-target of the HTTP request the edge decides inside a bumped
    /// tunnel (or forwards): `GET /` for a bare CONNECT authority.
    pub fn inner(&self) -> (&str, &str) {
        match &self.path {
            Some(path) => (self.method.as_str(), path.as_str()),
            None => ("GET", "/"),
        }
    }

    /// The destination as `host:port` (IPv6 in brackets).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.destination, self.port)
    }
}

impl fmt::Display for Request {
    /// What the edge receives: `CONNECT pypi.org:443`, or `GET http://example.com:80/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.carried {
            Carried::Tunnel => write!(f, "CONNECT {}", self.authority()),
            Carried::Forward => write!(
                f,
                "{} http://{}{}",
                self.method,
                self.authority(),
                self.path.as_deref().unwrap_or("/")
            ),
        }
    }
}

/// The method given (default `GET`): an RFC 9110 token, not `CONNECT` in any case.
fn checked_method(method: Option<&str>) -> Result<String, RequestError> {
    let method = match method {
        Some(m) if crate::http::is_method(m) => m.to_owned(),
        Some(m) => return Err(RequestError::Method(m.to_owned())),
        None => "GET".to_owned(),
    };
    if method.eq_ignore_ascii_case("CONNECT") {
        return Err(RequestError::Method(method));
    }
    Ok(method)
}

pub(crate) fn serialize_display<T: fmt::Display, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

#[cfg(test)]
mod tests;
