//! A rule's `inject:` list: which secrets go on which headers, in which format.

use crate::deployment::Need;
use crate::inject::{Inject, InjectFormat, header_name, is_valid_secret_name};
use crate::walker::Walker;
use crate::yaml::Node;

/// Keys of one `inject:` entry.
pub(crate) const KEYS: &[&str] = &["secret", "header", "format"];

/// Checks `inject:` at `node`; `what` is its key path. Each valid secret name is recorded as
/// needing an SDS source.
pub(super) fn compile(w: &mut Walker<'_>, node: &Node, what: &str) -> Option<Vec<Inject>> {
    let items = w.list(node, what, "credentials `{secret, header}`")?;
    if items.is_empty() {
        w.error(
            node.pos,
            format!("`{what}` must list at least one credential (or be left out)"),
        );
        return None;
    }
    let mut out: Vec<Inject> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let at = format!("{what}[{index}]");
        match entry(w, item, &at) {
            Some((inject, header_node)) => {
                if let Some(first) = out.iter().position(|i| i.header == inject.header) {
                    w.error(
                        header_node.pos,
                        format!(
                            "`{at}.header`: `{}` is already set by `{what}[{first}]`; a header \
                             carries one credential",
                            inject.header
                        ),
                    );
                    ok = false;
                } else {
                    out.push(inject);
                }
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// One `{secret, header, format}` entry, and the node of its header (for a duplicate).
fn entry<'n>(w: &mut Walker<'_>, node: &'n Node, at: &str) -> Option<(Inject, &'n Node)> {
    let errors_before = w.error_count();
    let fields = w.mapping(node, at, KEYS)?;
    let secret = match fields.get("secret") {
        Some(n) => w.string(n, &format!("{at}.secret")).and_then(|text| {
            let field = format!("{at}.secret");
            if is_valid_secret_name(text) {
                w.site(n.pos, field, Need::Secret(text.to_owned()));
                Some(text.to_owned())
            } else {
                w.error(
                    n.pos,
                    format!(
                        "`{field}`: `{text}` is not a secret name (1 to 253 letters, digits, \
                         `.`, `_`, `/` or `-`, as the SDS source names it)"
                    ),
                );
                None
            }
        }),
        None => {
            w.missing(&fields, at, "secret", "secret: anthropic-api-key");
            None
        }
    };
    let header_node = fields.get("header");
    let header = match header_node {
        Some(n) => w
            .string(n, &format!("{at}.header"))
            .and_then(|text| match header_name(text) {
                Ok(name) => Some(name),
                Err(message) => {
                    w.error(n.pos, format!("`{at}.header`: {message}"));
                    None
                }
            }),
        None => {
            w.missing(&fields, at, "header", "header: x-api-key");
            None
        }
    };
    let format = match fields.get("format") {
        Some(n) => w
            .string(n, &format!("{at}.format"))
            .and_then(|text| match InjectFormat::parse(text) {
                Ok(format) => Some(format),
                Err(message) => {
                    w.error(n.pos, format!("`{at}.format` {message}"));
                    None
                }
            }),
        None => Some(InjectFormat::default()),
    };
    if w.error_count() != errors_before {
        return None;
    }
    Some((
        Inject {
            secret: secret?,
            header: header?,
            format: format?,
        },
        header_node?,
    ))
}
