//! One `destinations:` entry: from its YAML node to a checked [`Rule`].

mod http;
mod inject;

use std::net::{IpAddr, Ipv6Addr};

use crate::defaults;
use crate::deployment::Need;
use crate::host;
use crate::http::HttpRules;
use crate::model::{HostPattern, Rule, Rung, Upgrade};
use crate::walker::{Fields, Walker};
use crate::yaml::{Node, Pos, Value};

#[cfg(test)]
pub(crate) use http::KEYS as HTTP_KEYS;
#[cfg(test)]
pub(crate) use inject::KEYS as INJECT_KEYS;

/// Keys of a destination rule.
pub(crate) const KEYS: &[&str] = &[
    "host",
    "ports",
    "rung",
    "addresses",
    "upgrades",
    "http",
    "inject",
];

const RUNGS: &[(&str, Rung)] = &[("pass-through", Rung::PassThrough), ("bump", Rung::Bump)];

const UPGRADES: &[(&str, Upgrade)] = &[("websocket", Upgrade::WebSocket), ("h2c", Upgrade::H2c)];

/// What one `destinations:` entry yielded: as much as could be read, for the checks across
/// rules (a host listed twice), and the rule itself when the entry has no error.
pub(crate) struct Parts {
    /// The host pattern and where it is written, when it parsed.
    pub(crate) host: Option<(HostPattern, Pos)>,
    /// The rung, when it is a known name.
    pub(crate) rung: Option<Rung>,
    /// The rule, when the entry has no error at all.
    pub(crate) rule: Option<Rule>,
}

/// Checks the rule at `node` (`destinations[index]`), recording every problem in `w`.
pub(crate) fn compile(w: &mut Walker<'_>, node: &Node, index: usize) -> Parts {
    let what = format!("spec.destinations[{index}]");
    let errors_before = w.error_count();
    let Some(fields) = w.mapping(node, &what, KEYS) else {
        return Parts {
            host: None,
            rung: None,
            rule: None,
        };
    };
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
    let rung = rung(w, &fields, &what);
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
    let http = match fields.get("http") {
        Some(node) => http::compile(w, node, &format!("{what}.http")),
        None => Some(HttpRules::default()),
    };
    let inject = match fields.get("inject") {
        Some(node) => inject::compile(w, node, &format!("{what}.inject")),
        None => Some(Vec::new()),
    };
    bump_only_keys(w, &fields, &what, host.as_ref(), rung);
    if ports_node.is_none() {
        if matches!(host, Some(HostPattern::Ip(_))) {
            w.error(
                fields.pos,
                format!(
                    "`{what}` names an IP address but no `ports`; a rule for an exact address \
                     must list its exact ports (for example `ports: [443]`)"
                ),
            );
        } else if addresses.as_ref().is_some_and(|a| !a.is_empty()) {
            w.error(
                fields.pos,
                format!(
                    "`{what}` has `addresses` but no `ports`; a rule that names exact addresses \
                     must list its exact ports (for example `ports: [8443]`)"
                ),
            );
        }
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
    let host_at = host
        .clone()
        .map(|h| (h, host_node.map_or(node.pos, |n| n.pos)));
    let rule = match (host, ports, rung, addresses, upgrades, http, inject) {
        (
            Some(host),
            Some(ports),
            Some(rung),
            Some(addresses),
            Some(upgrades),
            Some(http),
            Some(inject),
        ) if w.error_count() == errors_before => Some(Rule {
            id: format!("{}:{}", w.file(), node.pos.line),
            host,
            ports,
            rung,
            addresses,
            upgrades,
            http,
            inject,
        }),
        _ => None,
    };
    Parts {
        host: host_at,
        rung,
        rule,
    }
}

/// The rung; a `bump` is recorded as needing the deployment CA.
fn rung(w: &mut Walker<'_>, fields: &Fields<'_>, what: &str) -> Option<Rung> {
    let Some(node) = fields.get("rung") else {
        w.missing(fields, what, "rung", "rung: pass-through");
        return None;
    };
    let field = format!("{what}.rung");
    let rung = w.keyword(node, &field, RUNGS)?;
    if rung == Rung::Bump {
        w.site(node.pos, field, Need::Ca);
    }
    Some(rung)
}

/// What only a `bump` rule may carry, and what a credential never goes with: `http:` and
/// `inject:` need the edge to read the traffic; a credential goes only to an exact host
/// name, and never on a connection that an `Upgrade` takes out of the edge's view.
fn bump_only_keys(
    w: &mut Walker<'_>,
    fields: &Fields<'_>,
    what: &str,
    host: Option<&HostPattern>,
    rung: Option<Rung>,
) {
    let pass_through = rung == Some(Rung::PassThrough);
    if let Some(key) = fields.key("http")
        && pass_through
    {
        w.error(
            key.pos,
            format!(
                "`{what}.http`: method and path rules cannot be enforced on a `pass-through` \
                 rule, which carries requests without reading them; they need rung `bump` (TLS \
                 interception): set `rung: bump` or remove `http`"
            ),
        );
    }
    let upgrades = fields.get("upgrades");
    let Some(key) = fields.key("inject") else {
        if rung == Some(Rung::Bump)
            && let Some(pos) = upgrades.and_then(|u| item_pos(u, "h2c"))
        {
            w.error(
                pos,
                format!(
                    "`{what}.upgrades`: `h2c` cannot be allowed on a `bump` rule: after the \
                     upgrade, requests travel as HTTP/2 frames that the edge does not check one \
                     by one; remove it"
                ),
            );
        }
        return;
    };
    match host {
        Some(host @ HostPattern::Wildcard(_)) => w.error(
            key.pos,
            format!(
                "`{what}.inject`: a credential is never injected for a wildcard host (`{host}`); \
                 write a rule for each exact host that needs it"
            ),
        ),
        Some(HostPattern::Ip(ip)) => w.error(
            key.pos,
            format!(
                "`{what}.inject`: a credential is injected only for a rule naming an exact host \
                 name, not the address `{ip}`: the edge validates the upstream's certificate \
                 for that name; write the host name"
            ),
        ),
        _ => {}
    }
    if pass_through {
        w.error(
            key.pos,
            format!(
                "`{what}.inject`: credentials are attached only on rung `bump` (TLS \
                 interception), never on a `pass-through` rule, whose traffic the edge does not \
                 read: set `rung: bump` or remove `inject`"
            ),
        );
    }
    if let Some(upgrades) = upgrades
        && let Some(key) = fields.key("upgrades")
        && matches!(&upgrades.value, Value::Seq(items) if !items.is_empty())
    {
        w.error(
            key.pos,
            format!(
                "`{what}.upgrades`: an `Upgrade` (WebSocket or h2c) is never allowed on an \
                 inject rule: after the upgrade the edge no longer reads the connection, so it \
                 could neither check its requests nor keep the credential from flowing back; \
                 remove `upgrades` or `inject`"
            ),
        );
    }
}

/// Where the scalar item `text` of the list `node` is written, if it is there.
fn item_pos(node: &Node, text: &str) -> Option<Pos> {
    let Value::Seq(items) = &node.value else {
        return None;
    };
    items
        .iter()
        .find(|i| matches!(&i.value, Value::Scalar { text: t, .. } if t == text))
        .map(|i| i.pos)
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
    let name = name(trimmed, text)?;
    if !name.contains('.') {
        return Err(format!(
            "`{text}` is a single label (a bare top-level domain or a local short name); write \
             the full name, like `pypi.org`"
        ));
    }
    Ok(HostPattern::Exact(name))
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
    if !part.is_ascii() {
        let written_ascii = match written.strip_suffix('.') {
            Some(_) => format!("{}.", with_prefix(written, &ascii)),
            None => with_prefix(written, &ascii),
        };
        return Err(format!(
            "host `{written}` must be written in punycode, as it goes on the wire; write `{written_ascii}`"
        ));
    }
    if host::ends_in_number(&ascii) {
        return Err(format!(
            "`{written}` ends in a number, so clients read it as an IPv4 address; write the address as a dotted quad like `203.0.113.7`"
        ));
    }
    Ok(ascii)
}

/// `ascii` with the `*.` of `written` in front, when it has one.
fn with_prefix(written: &str, ascii: &str) -> String {
    if written.starts_with("*.") {
        format!("*.{ascii}")
    } else {
        ascii.to_owned()
    }
}

#[cfg(test)]
mod tests;
