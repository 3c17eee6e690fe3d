//! One `destinations:` entry: from its YAML node to a checked [`Rule`].

use std::net::{IpAddr, Ipv6Addr};

use crate::defaults;
use crate::host;
use crate::model::{HostPattern, Rule, Rung, Upgrade};
use crate::walker::Walker;
use crate::yaml::{Node, Pos};

/// Keys of a destination rule. `http` and `inject` are known so they get a precise refusal.
const KEYS: &[&str] = &[
    "host",
    "ports",
    "rung",
    "addresses",
    "upgrades",
    "http",
    "inject",
];

/// Keys that need the `bump` rung, which this edge does not support yet.
const NEEDS_BUMP: &[&str] = &["http", "inject"];

const RUNGS: &[(&str, Option<Rung>)] = &[("pass-through", Some(Rung::PassThrough)), ("bump", None)];

const UPGRADES: &[(&str, Upgrade)] = &[("websocket", Upgrade::WebSocket), ("h2c", Upgrade::H2c)];

/// Checks the rule at `node` (`destinations[index]`); `None` when it has any error, all of
/// them recorded. Also returns where its host is written, for duplicate reports.
pub(crate) fn compile(w: &mut Walker<'_>, node: &Node, index: usize) -> Option<(Rule, Pos)> {
    let what = format!("spec.destinations[{index}]");
    let errors_before = w.error_count();
    let fields = w.mapping(node, &what, KEYS)?;
    for key in NEEDS_BUMP {
        if let Some(key_node) = fields.key(key) {
            w.error(
                key_node.pos,
                format!(
                    "`{key}` needs rung `bump` (TLS interception), which this edge does not support \
                     yet; remove `{key}` from `{what}`"
                ),
            );
        }
    }
    let host_node = fields.get("host");
    let host = match host_node {
        Some(node) => w
            .string(node, &format!("{what}.host"))
            .and_then(|text| match parse_pattern(text) {
                Ok(pattern) => Some(pattern),
                Err(message) => {
                    w.error(node.pos, format!("`{what}.host`: {message}"));
                    None
                }
            }),
        None => {
            w.missing(&fields, &what, "host", "host: pypi.org");
            None
        }
    };
    let rung = match fields.get("rung") {
        Some(node) => match w.keyword(node, &format!("{what}.rung"), RUNGS) {
            Some(None) => {
                w.error(
                    node.pos,
                    format!(
                        "`{what}.rung`: `bump` (TLS interception) is not supported yet; this edge \
                         refuses the rule rather than carry it as `pass-through`"
                    ),
                );
                None
            }
            other => other.flatten(),
        },
        None => {
            w.missing(&fields, &what, "rung", "rung: pass-through");
            None
        }
    };
    let ports_node = fields.get("ports");
    let ports = match ports_node {
        Some(node) => ports(w, node, &format!("{what}.ports")),
        None => Some(defaults::PORTS.to_vec()),
    };
    let addresses = match fields.get("addresses") {
        Some(node) => addresses(w, node, &format!("{what}.addresses")),
        None => Some(Vec::new()),
    };
    let upgrades = match fields.get("upgrades") {
        Some(node) => upgrades(w, node, &format!("{what}.upgrades")),
        None => Some(Vec::new()),
    };
    let needs_ports = matches!(host, Some(HostPattern::Ip(_)))
        || addresses.as_ref().is_some_and(|a| !a.is_empty());
    if needs_ports && ports_node.is_none() {
        w.missing(&fields, &what, "ports", "ports: [443]");
    }
    if let (Some(host), Some(addresses), Some(node)) = (&host, &addresses, fields.get("addresses"))
        && !addresses.is_empty()
        && !matches!(host, HostPattern::Exact(_))
    {
        w.error(
            node.pos,
            format!(
                "`{what}.addresses` is only allowed on a rule naming one exact host, not `{host}`"
            ),
        );
    }
    if w.error_count() != errors_before {
        return None;
    }
    let rule = Rule {
        id: format!("{}:{}", w.file(), node.pos.line),
        host: host?,
        ports: ports?,
        rung: rung?,
        addresses: addresses?,
        upgrades: upgrades?,
    };
    Some((rule, host_node.map_or(node.pos, |n| n.pos)))
}

/// `[443, 8443]`: each 1..=65535, at least one, no repeats; returned ascending.
fn ports(w: &mut Walker<'_>, node: &Node, field: &str) -> Option<Vec<u16>> {
    let items = w.list(node, field, "port numbers")?;
    if items.is_empty() {
        w.error(node.pos, format!("`{field}` must list at least one port"));
        return None;
    }
    let mut ports = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(value) = w.integer(item, field) else {
            ok = false;
            continue;
        };
        match u16::try_from(value) {
            Ok(port) if port != 0 && !ports.contains(&port) => ports.push(port),
            Ok(port) if port != 0 => {
                w.error(item.pos, format!("`{field}` lists port {port} twice"));
                ok = false;
            }
            _ => {
                w.error(
                    item.pos,
                    format!("`{field}`: {value} is not a port; ports run from 1 to 65535"),
                );
                ok = false;
            }
        }
    }
    ports.sort_unstable();
    ok.then_some(ports)
}

/// `[10.20.0.15, "2001:db8::5"]`: exact addresses, at least one, no repeats.
fn addresses(w: &mut Walker<'_>, node: &Node, field: &str) -> Option<Vec<IpAddr>> {
    let items = w.list(node, field, "IP addresses")?;
    if items.is_empty() {
        w.error(
            node.pos,
            format!("`{field}` must list at least one address (or be left out)"),
        );
        return None;
    }
    let mut addresses = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(text) = w.string(item, field) else {
            ok = false;
            continue;
        };
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        match bare.parse::<IpAddr>() {
            Ok(ip) if addresses.contains(&ip) => {
                w.error(item.pos, format!("`{field}` lists {ip} twice"));
                ok = false;
            }
            Ok(ip) => addresses.push(ip),
            Err(_) => {
                w.error(item.pos, format!("`{field}`: `{text}` is not an IP address (write e.g. `10.20.0.15` or `2001:db8::5`; no ranges, no zone ids)"));
                ok = false;
            }
        }
    }
    ok.then_some(addresses)
}

/// `[websocket, h2c]`, no repeats.
fn upgrades(w: &mut Walker<'_>, node: &Node, field: &str) -> Option<Vec<Upgrade>> {
    let items = w.list(node, field, "upgrade protocols")?;
    let mut upgrades = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        match w.keyword(item, field, UPGRADES) {
            Some(u) if upgrades.contains(&u) => {
                w.error(item.pos, format!("`{field}` lists `{}` twice", u.as_str()));
                ok = false;
            }
            Some(u) => upgrades.push(u),
            None => ok = false,
        }
    }
    ok.then_some(upgrades)
}

/// Parses a rule's `host`: an exact name, `*.suffix`, or an IP literal.
///
/// # Errors
/// A sentence saying what is wrong and how to write it.
pub(crate) fn parse_pattern(text: &str) -> Result<HostPattern, String> {
    if text.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("`{text}` is not a valid bracketed IPv6 address"))?;
        if inner.contains('%') {
            return Err(format!(
                "`{text}` carries a zone id, which a rule cannot name"
            ));
        }
        let ip = inner
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("`{text}` is not a valid IPv6 address"))?;
        return Ok(HostPattern::Ip(IpAddr::V6(ip)));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip));
    }
    if text.contains(':') {
        return Err(format!(
            "`{text}` is not a host name or IP address; put ports in `ports`"
        ));
    }
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "host `{text}` must be lowercase; write `{}`",
            text.to_ascii_lowercase()
        ));
    }
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if let Some(suffix) = trimmed.strip_prefix("*.") {
        let name = name(suffix, text)?;
        if !name.contains('.') {
            return Err(format!(
                "wildcard `{text}` is too broad; a wildcard needs at least two labels after `*.`, like `*.example.com`"
            ));
        }
        return Ok(HostPattern::Wildcard(name));
    }
    Ok(HostPattern::Exact(name(trimmed, text)?))
}

/// A name part of a host pattern, normalised; `written` is the host as written, for messages.
fn name(part: &str, written: &str) -> Result<String, String> {
    if part.contains('*') {
        return Err(format!(
            "`{written}` is not a valid host; a wildcard is only allowed as a leading `*.`, like `*.example.com`"
        ));
    }
    let ascii = host::to_ascii(part)
        .filter(|ascii| host::is_valid_name(ascii) || host::ends_in_number(ascii))
        .ok_or_else(|| {
            format!(
                "`{written}` is not a valid host name; labels are 1 to 63 letters, digits or `-`, \
                 not starting or ending with `-`, at most 253 characters in all"
            )
        })?;
    if host::ends_in_number(&ascii) {
        return Err(format!(
            "`{written}` ends in a number, so clients read it as an IPv4 address; write the address as a dotted quad like `203.0.113.7`"
        ));
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests;
