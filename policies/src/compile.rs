//! One `EgressProfile` document: from its YAML tree to a compiled [`Profile`], runs once at
//! load. Every problem in the document is recorded; none stops the walk.

use crate::defaults;
use crate::model::{HostPattern, Limits, Mode, Profile, Rung, Tripwire, TripwireAction};
use crate::rule;
use crate::units;
use crate::walker::{Fields, Walker};
use crate::yaml::{Node, Pos, Value};

/// The only `apiVersion` this edge reads.
pub const API_VERSION: &str = "trust-edge/v1";

/// The only `kind` this edge reads.
pub const KIND: &str = "EgressProfile";

/// Longest profile name (a DNS label's length).
const MAX_NAME_LEN: usize = 63;

pub(crate) const TOP_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
pub(crate) const METADATA_KEYS: &[&str] = &["name"];
pub(crate) const SPEC_KEYS: &[&str] = &["mode", "limits", "tripwire", "destinations"];
pub(crate) const LIMIT_KEYS: &[&str] = &[
    "requests_per_second",
    "burst",
    "max_connections",
    "tunnel_idle_timeout",
    "tunnel_max_lifetime",
];
pub(crate) const TRIPWIRE_KEYS: &[&str] =
    &["upload_bytes", "distinct_destinations", "window", "action"];
const MODES: &[(&str, Mode)] = &[("enforce", Mode::Enforce), ("report", Mode::Report)];
const ACTIONS: &[(&str, TripwireAction)] = &[
    ("alert", TripwireAction::Alert),
    ("deny", TripwireAction::Deny),
];

/// What one document yielded.
pub(crate) struct Compiled {
    /// The profile name and where it is written, when readable (even if the rest is not).
    pub(crate) name: Option<(String, Pos)>,
    /// The profile, when the document has no error at all.
    pub(crate) profile: Option<Profile>,
}

/// Compiles one document, recording every problem in `w`.
pub(crate) fn document(w: &mut Walker<'_>, doc: &Node) -> Compiled {
    let errors_before = w.error_count();
    let Some(top) = w.mapping(doc, "the document", TOP_KEYS) else {
        return Compiled {
            name: None,
            profile: None,
        };
    };
    expect_constant(w, &top, "apiVersion", API_VERSION);
    expect_constant(w, &top, "kind", KIND);
    let name = match top.get("metadata") {
        Some(node) => metadata(w, node),
        None => {
            w.missing(
                &top,
                "the document",
                "metadata",
                "metadata: {name: sandbox-default}",
            );
            None
        }
    };
    let profile = match top.get("spec") {
        Some(node) => {
            let key_pos = top.key("spec").map_or(node.pos, |k| k.pos);
            spec(w, node, key_pos, name.as_ref().map(|(n, _)| n.clone()))
        }
        None => {
            w.missing(&top, "the document", "spec", "spec: {destinations: []}");
            None
        }
    };
    let profile = profile.filter(|_| w.error_count() == errors_before);
    Compiled { name, profile }
}

fn expect_constant(w: &mut Walker<'_>, top: &Fields<'_>, key: &str, want: &str) {
    let Some(node) = top.get(key) else {
        w.missing(top, "the document", key, &format!("{key}: {want}"));
        return;
    };
    if let Some(text) = w.string(node, key)
        && text != want
    {
        w.error(
            node.pos,
            format!("`{key}` must be `{want}`, found `{text}`"),
        );
    }
}

fn metadata(w: &mut Walker<'_>, node: &Node) -> Option<(String, Pos)> {
    let fields = w.mapping(node, "metadata", METADATA_KEYS)?;
    let Some(name_node) = fields.get("name") else {
        w.missing(&fields, "metadata", "name", "name: sandbox-default");
        return None;
    };
    let name = w.string(name_node, "metadata.name")?;
    if !is_valid_profile_name(name) {
        w.error(
            name_node.pos,
            format!(
                "profile name `{name}` is not valid; use 1 to {MAX_NAME_LEN} lowercase letters, \
                 digits or `-`, starting and ending with a letter or digit"
            ),
        );
        return None;
    }
    Some((name.to_owned(), name_node.pos))
}

fn is_valid_profile_name(name: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| alnum(&b) || b == b'-')
        && name.bytes().next().as_ref().is_some_and(alnum)
        && name.bytes().last().as_ref().is_some_and(alnum)
}

/// `spec`; `key_pos` is where the `spec` key is written (a "not set" warning points there).
fn spec(w: &mut Walker<'_>, node: &Node, key_pos: Pos, name: Option<String>) -> Option<Profile> {
    let fields = w.mapping(node, "spec", SPEC_KEYS)?;
    let mode = match fields.get("mode") {
        Some(node) => w.keyword(node, "spec.mode", MODES),
        None => Some(defaults::MODE),
    };
    let items = match fields.get("destinations") {
        Some(node) => w
            .list(node, "spec.destinations", "destination rules")
            .unwrap_or_default(),
        None => &[],
    };
    // A profile with no destinations allows nothing, so its limits never apply: no warning.
    let warn_defaults = !items.is_empty();
    let limits = limits(w, &fields, key_pos, warn_defaults);
    let tripwire = tripwire(w, &fields, key_pos, warn_defaults);
    let mut rules = Vec::new();
    let mut seen: Vec<(HostPattern, usize, Option<Rung>)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let parts = rule::compile(w, item, index);
        let Some((host, host_pos)) = parts.host else {
            continue;
        };
        if let Some((_, line, rung)) = seen.iter().find(|(seen, _, _)| *seen == host) {
            let message = match (rung, parts.rung) {
                (Some(first), Some(here)) if *first != here => format!(
                    "host `{host}` is already listed at line {line} of this profile with rung \
                     `{}`, and here with rung `{}`; a host has one rung: merge the two rules",
                    first.as_str(),
                    here.as_str()
                ),
                _ => format!(
                    "host `{host}` is already listed at line {line} of this profile; merge the two rules"
                ),
            };
            w.error(host_pos, message);
            continue;
        }
        seen.push((host, host_pos.line, parts.rung));
        rules.extend(parts.rule);
    }
    Some(Profile::new(name?, mode?, limits?, tripwire?, rules))
}

/// Words people write for "no limit"; every limit is finite, so each gets a precise refusal.
const UNBOUNDED: &[&str] = &[
    "unlimited",
    "unbounded",
    "infinite",
    "infinity",
    "inf",
    ".inf",
    "none",
    "never",
    "off",
    "max",
    "-1",
];

/// The value of `key` in an optional mapping, refusing a written-but-empty value and the
/// "no limit" words; `Err(())` when refused (already recorded).
fn limit_value<'n>(
    w: &mut Walker<'_>,
    fields: Option<&Fields<'n>>,
    section: &str,
    key: &str,
    default: &str,
) -> Result<Option<&'n Node>, ()> {
    let Some(node) = fields.and_then(|f| f.get_raw(key)) else {
        return Ok(None);
    };
    let refused = node.is_null()
        || matches!(&node.value, Value::Scalar { text, .. }
            if UNBOUNDED.contains(&text.to_ascii_lowercase().as_str()));
    if refused {
        w.error(
            node.pos,
            format!(
                "`{section}.{key}` cannot be {}: there is no unlimited; write a value above zero, \
                 or leave `{key}` out for the default ({default})",
                node.describe()
            ),
        );
        return Err(());
    }
    Ok(Some(node))
}

/// Warns that the keys of `section` in `missing` take their defaults (each `(key, default)`).
fn warn_defaults(
    w: &mut Walker<'_>,
    pos: Pos,
    section: &str,
    written: bool,
    missing: &[(&str, String)],
) {
    if missing.is_empty() {
        return;
    }
    let values: Vec<String> = missing.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let what = if written {
        let keys: Vec<&str> = missing.iter().map(|(k, _)| *k).collect();
        format!("`{section}` leaves out {}", keys.join(", "))
    } else {
        format!("`{section}` is not set")
    };
    w.warn(
        pos,
        format!(
            "{what}; the documented defaults apply: {}; write them out so reviewers see them",
            values.join(", ")
        ),
    );
}

fn limits(w: &mut Walker<'_>, spec: &Fields<'_>, spec_at: Pos, warn: bool) -> Option<Limits> {
    const SECTION: &str = "spec.limits";
    let written = spec.get("limits");
    let fields = match written {
        Some(node) => Some(w.mapping(node, SECTION, LIMIT_KEYS)?),
        None => None,
    };
    let mut missing = Vec::new();
    let mut number = |w: &mut Walker<'_>, key: &str, default: u32| match limit_value(
        w,
        fields.as_ref(),
        SECTION,
        key,
        &default.to_string(),
    ) {
        Ok(Some(node)) => w.positive_u32(node, &format!("{SECTION}.{key}")),
        Ok(None) => {
            missing.push((key.to_owned(), default.to_string()));
            Some(default)
        }
        Err(()) => None,
    };
    let requests_per_second = number(w, "requests_per_second", defaults::REQUESTS_PER_SECOND);
    let burst = number(w, "burst", defaults::BURST);
    let max_connections = number(w, "max_connections", defaults::MAX_CONNECTIONS);
    let mut duration = |w: &mut Walker<'_>, key: &str, default| {
        let shown = units::format_duration(default);
        match limit_value(w, fields.as_ref(), SECTION, key, &shown) {
            Ok(Some(node)) => w.duration(node, &format!("{SECTION}.{key}")),
            Ok(None) => {
                missing.push((key.to_owned(), shown));
                Some(default)
            }
            Err(()) => None,
        }
    };
    let tunnel_idle_timeout = duration(w, "tunnel_idle_timeout", defaults::TUNNEL_IDLE_TIMEOUT);
    let tunnel_max_lifetime = duration(w, "tunnel_max_lifetime", defaults::TUNNEL_MAX_LIFETIME);
    if warn {
        let pos = fields.as_ref().map_or(spec_at, |f| f.pos);
        let missing: Vec<(&str, String)> = missing
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        warn_defaults(w, pos, SECTION, fields.is_some(), &missing);
    }
    Some(Limits {
        requests_per_second: requests_per_second?,
        burst: burst?,
        max_connections: max_connections?,
        tunnel_idle_timeout: tunnel_idle_timeout?,
        tunnel_max_lifetime: tunnel_max_lifetime?,
    })
}

fn tripwire(w: &mut Walker<'_>, spec: &Fields<'_>, spec_at: Pos, warn: bool) -> Option<Tripwire> {
    const SECTION: &str = "spec.tripwire";
    let written = spec.get("tripwire");
    let fields = match written {
        Some(node) => Some(w.mapping(node, SECTION, TRIPWIRE_KEYS)?),
        None => None,
    };
    let f = fields.as_ref();
    let mut missing: Vec<(&str, String)> = Vec::new();
    let upload_default = units::format_size(defaults::TRIPWIRE_UPLOAD_BYTES);
    let upload_bytes = match limit_value(w, f, SECTION, "upload_bytes", &upload_default) {
        Ok(Some(node)) => w.size(node, "spec.tripwire.upload_bytes"),
        Ok(None) => {
            missing.push(("upload_bytes", upload_default));
            Some(defaults::TRIPWIRE_UPLOAD_BYTES)
        }
        Err(()) => None,
    };
    let count_default = defaults::TRIPWIRE_DISTINCT_DESTINATIONS.to_string();
    let distinct_destinations =
        match limit_value(w, f, SECTION, "distinct_destinations", &count_default) {
            Ok(Some(node)) => w.positive_u32(node, "spec.tripwire.distinct_destinations"),
            Ok(None) => {
                missing.push(("distinct_destinations", count_default));
                Some(defaults::TRIPWIRE_DISTINCT_DESTINATIONS)
            }
            Err(()) => None,
        };
    let window_default = units::format_duration(defaults::TRIPWIRE_WINDOW);
    let window = match limit_value(w, f, SECTION, "window", &window_default) {
        Ok(Some(node)) => w.duration(node, "spec.tripwire.window"),
        Ok(None) => {
            missing.push(("window", window_default));
            Some(defaults::TRIPWIRE_WINDOW)
        }
        Err(()) => None,
    };
    let action = match f.and_then(|f| f.get("action")) {
        Some(node) => w.keyword(node, "spec.tripwire.action", ACTIONS),
        None => {
            missing.push(("action", defaults::TRIPWIRE_ACTION.as_str().to_owned()));
            Some(defaults::TRIPWIRE_ACTION)
        }
    };
    if warn {
        let pos = f.map_or(spec_at, |f| f.pos);
        warn_defaults(w, pos, SECTION, f.is_some(), &missing);
    }
    Some(Tripwire {
        upload_bytes: upload_bytes?,
        distinct_destinations: distinct_destinations?,
        window: window?,
        action: action?,
    })
}
