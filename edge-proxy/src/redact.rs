//! Nothing injected flows back: on a response to a request that carried an injected value, every
//! header or trailer holding any form of the value is removed, and the body is decoded (when the
//! upstream compressed it anyway) and scanned as it streams, each occurrence replaced with
//! [`scrub::MARKER`]. The body's length may change, so it is re-framed as chunked.

use bytes::Bytes;
use http::HeaderMap;
use pingora_http::ResponseHeader;
use scrub::{BodyScrubber, Decoder, Patterns};
use std::sync::Arc;
use trust_core::DenyReason;

/// The response-side state of one request that carried injected values.
pub(crate) struct Redactor {
    patterns: Arc<Patterns>,
    decoder: Option<Decoder>,
    /// Decoded bytes of the current chunk (reused across chunks).
    plain: Vec<u8>,
    scrubber: BodyScrubber,
    /// Headers and trailers removed.
    headers_removed: u64,
}

impl Redactor {
    /// Scrubs the response head and prepares the body scan. `Err` when the body is encoded in a
    /// way the edge cannot look inside.
    pub(crate) fn start(
        patterns: Arc<Patterns>,
        resp: &mut ResponseHeader,
        has_body: bool,
    ) -> Result<Redactor, DenyReason> {
        // Removal goes through pingora so its header-case map agrees.
        let carriers = carriers(&patterns, &resp.headers);
        for name in &carriers {
            resp.remove_header(name.as_str());
        }
        let mut decoder = None;
        if has_body {
            // Only chunked framing is undone before the body reaches the edge; any other
            // transfer coding would hide the bytes.
            let transfer = resp
                .headers
                .get_all(http::header::TRANSFER_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .any(|t| !t.eq_ignore_ascii_case("chunked"));
            if transfer {
                return Err(DenyReason::ResponseNotInspectable);
            }
            let encoding = resp
                .headers
                .get_all(http::header::CONTENT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",");
            if !encoding.is_empty() {
                decoder = Decoder::for_content_encoding(&encoding)
                    .map_err(|_| DenyReason::ResponseNotInspectable)?;
                if decoder.is_some() {
                    resp.remove_header(&http::header::CONTENT_ENCODING);
                }
            }
            resp.remove_header(&http::header::CONTENT_LENGTH);
            resp.remove_header(&http::header::TRANSFER_ENCODING);
            let _ = resp.insert_header(http::header::TRANSFER_ENCODING, "chunked");
        }
        Ok(Redactor {
            scrubber: BodyScrubber::new(patterns.clone()),
            patterns,
            decoder,
            plain: Vec::new(),
            headers_removed: carriers.len() as u64,
        })
    }

    /// Decodes and scrubs one body chunk in place; on the last one, flushes what was held back.
    pub(crate) fn body(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), DenyReason> {
        let mut out = Vec::new();
        let input = body.take().unwrap_or_default();
        match self.decoder.as_mut() {
            Some(d) => {
                self.plain.clear();
                d.push(&input, &mut self.plain)
                    .map_err(|_| DenyReason::ResponseNotInspectable)?;
                if end {
                    d.finish(&mut self.plain)
                        .map_err(|_| DenyReason::ResponseNotInspectable)?;
                }
                self.scrubber.push(&self.plain, &mut out);
            }
            None => self.scrubber.push(&input, &mut out),
        }
        if end {
            self.scrubber.finish(&mut out);
        }
        if !out.is_empty() || end {
            *body = Some(Bytes::from(out));
        }
        Ok(())
    }

    /// Keeps the removals counted on an earlier (informational, 1xx) head of the same response.
    pub(crate) fn carry(&mut self, earlier: &Redactor) {
        self.headers_removed += earlier.redactions();
    }

    /// Removes trailers that carry a value.
    pub(crate) fn trailers(&mut self, trailers: &mut HeaderMap) {
        for name in carriers(&self.patterns, trailers) {
            trailers.remove(name.as_str());
            self.headers_removed += 1;
        }
    }

    /// Headers and trailers removed plus body occurrences replaced, so far.
    pub(crate) fn redactions(&self) -> u64 {
        self.headers_removed + self.scrubber.replaced()
    }
}

/// Names of the headers whose name or any value holds a form of an injected value.
fn carriers(patterns: &Patterns, headers: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .filter(|(name, value)| {
            patterns.found_in_name(name.as_str().as_bytes()) || patterns.found_in(value.as_bytes())
        })
        .map(|(name, _)| name.as_str().to_owned())
        .collect();
    names.dedup();
    names
}
