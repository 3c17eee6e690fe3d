//! One `EgressProfile` document: from its YAML tree to a compiled [`Profile`], runs once at
//! load. Every problem in the document is recorded; none stops the walk.

use crate::defaults;
use crate::model::{HostPattern, Limits, Mode, Profile, Tripwire, TripwireAction};
use crate::rule;
use crate::walker::{Fields, Walker};
use crate::yaml::{Node, Pos};

/// The only `apiVersion` this edge reads.
pub const API_VERSION: &str = "trust-edge/v1";

/// The only `kind` this edge reads.
pub const KIND: &str = "EgressProfile";

/// Longest profile name (a DNS label's length).
const MAX_NAME_LEN: usize = 63;

const TOP_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: &[&str] = &["name"];
const SPEC_KEYS: &[&str] = &["mode", "limits", "tripwire", "destinations"];
const LIMIT_KEYS: &[&str] = &[
    "requests_per_second",
    "burst",
    "max_connections",
    "tunnel_idle_timeout",
    "tunnel_max_lifetime",
];
const TRIPWIRE_KEYS: &[&str] = &["upload_bytes", "distinct_destinations", "window", "action"];
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
        Some(node) => spec(w, node, name.as_ref().map(|(n, _)| n.clone())),
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

fn spec(w: &mut Walker<'_>, node: &Node, name: Option<String>) -> Option<Profile> {
    let fields = w.mapping(node, "spec", SPEC_KEYS)?;
    let mode = match fields.get("mode") {
        Some(node) => w.keyword(node, "spec.mode", MODES),
        None => Some(defaults::MODE),
    };
    let limits = limits(w, fields.get("limits"));
    let tripwire = tripwire(w, fields.get("tripwire"));
    let mut rules = Vec::new();
    let mut seen: Vec<(HostPattern, usize)> = Vec::new();
    let items = match fields.get("destinations") {
        Some(node) => w
            .list(node, "spec.destinations", "destination rules")
            .unwrap_or_default(),
        None => &[],
    };
    for (index, item) in items.iter().enumerate() {
        let Some((rule, host_pos)) = rule::compile(w, item, index) else {
            continue;
        };
        if let Some((_, line)) = seen.iter().find(|(host, _)| *host == rule.host) {
            w.error(
                host_pos,
                format!("host `{}` is already listed at line {line} of this profile; merge the two rules", rule.host),
            );
            continue;
        }
        seen.push((rule.host.clone(), host_pos.line));
        rules.push(rule);
    }
    Some(Profile::new(name?, mode?, limits?, tripwire?, rules))
}

fn limits(w: &mut Walker<'_>, node: Option<&Node>) -> Option<Limits> {
    let fields = match node {
        Some(node) => Some(w.mapping(node, "spec.limits", LIMIT_KEYS)?),
        None => None,
    };
    let get = |key: &str| fields.as_ref().and_then(|f| f.get(key));
    let u32_or = |w: &mut Walker<'_>, key: &str, default: u32| match get(key) {
        Some(node) => w.positive_u32(node, &format!("spec.limits.{key}")),
        None => Some(default),
    };
    let requests_per_second = u32_or(w, "requests_per_second", defaults::REQUESTS_PER_SECOND);
    let burst = u32_or(w, "burst", defaults::BURST);
    let max_connections = u32_or(w, "max_connections", defaults::MAX_CONNECTIONS);
    let duration_or = |w: &mut Walker<'_>, key: &str, default| match get(key) {
        Some(node) => w.duration(node, &format!("spec.limits.{key}")),
        None => Some(default),
    };
    let tunnel_idle_timeout = duration_or(w, "tunnel_idle_timeout", defaults::TUNNEL_IDLE_TIMEOUT);
    let tunnel_max_lifetime = duration_or(w, "tunnel_max_lifetime", defaults::TUNNEL_MAX_LIFETIME);
    Some(Limits {
        requests_per_second: requests_per_second?,
        burst: burst?,
        max_connections: max_connections?,
        tunnel_idle_timeout: tunnel_idle_timeout?,
        tunnel_max_lifetime: tunnel_max_lifetime?,
    })
}

fn tripwire(w: &mut Walker<'_>, node: Option<&Node>) -> Option<Tripwire> {
    let fields = match node {
        Some(node) => Some(w.mapping(node, "spec.tripwire", TRIPWIRE_KEYS)?),
        None => None,
    };
    let get = |key: &str| fields.as_ref().and_then(|f| f.get(key));
    let upload_bytes = match get("upload_bytes") {
        Some(node) => w.size(node, "spec.tripwire.upload_bytes"),
        None => Some(defaults::TRIPWIRE_UPLOAD_BYTES),
    };
    let distinct_destinations = match get("distinct_destinations") {
        Some(node) => w.positive_u32(node, "spec.tripwire.distinct_destinations"),
        None => Some(defaults::TRIPWIRE_DISTINCT_DESTINATIONS),
    };
    let window = match get("window") {
        Some(node) => w.duration(node, "spec.tripwire.window"),
        None => Some(defaults::TRIPWIRE_WINDOW),
    };
    let action = match get("action") {
        Some(node) => w.keyword(node, "spec.tripwire.action", ACTIONS),
        None => Some(defaults::TRIPWIRE_ACTION),
    };
    Some(Tripwire {
        upload_bytes: upload_bytes?,
        distinct_destinations: distinct_destinations?,
        window: window?,
        action: action?,
    })
}
