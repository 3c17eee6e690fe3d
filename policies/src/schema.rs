//! The JSON Schema of policy files (`kind: EgressProfile`) and of policy test files
//! (`kind: PolicyTests`), for editors: yaml-language-server completes and checks a file
//! that starts with `# yaml-language-server: $schema=<path to the schema>`.
//!
//! The types below mirror the files key for key; they exist only to generate the schema
//! (the loader reads files through the positioned tree in `compile`, which reports every
//! problem with its line and column). A test checks that each object's keys are exactly the
//! keys the loader knows, so the two cannot drift apart. The schema checks shape (keys,
//! types, enums, number ranges, patterns); `trust-edge policy check` checks the rest.

// The mirror types are never built: they only carry the schema.
#![allow(dead_code)]

mod suite;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::defaults;

/// The JSON Schema (draft 7, every subschema inline) of an `EgressProfile` document.
pub fn policy_schema() -> Value {
    generate::<EgressProfile>()
}

/// The JSON Schema (draft 7, every subschema inline) of a `PolicyTests` document.
pub fn tests_schema() -> Value {
    generate::<suite::PolicyTests>()
}

fn generate<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.inline_subschemas = true;
    let mut value = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    drop_null(&mut value);
    value
}

/// Removes the `null` that optional keys get: a key is optional by being left out, and the
/// loader refuses a written-but-empty limit.
fn drop_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    map.insert("type".to_owned(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(options)) = map.get_mut(key) {
                    options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
                }
            }
            map.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

fn schema(value: Value) -> Schema {
    match value {
        Value::Object(map) => Schema::from(map),
        _ => Schema::from(Map::new()),
    }
}

/// A host pattern: an exact lowercase name, `*.` and a suffix of at least two labels, or an
/// IP literal.
fn host_schema(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "pattern": "^(\\*\\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+\\.?$|^[0-9.]+$|^\\[?[0-9A-Fa-f:.]+\\]?$",
        "examples": ["pypi.org", "*.pythonhosted.org", "203.0.113.7"]
    }))
}

/// `30s`, `5m`, `1h30m`.
fn duration_schema(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "pattern": "^[0-9]+(h([0-9]+m)?([0-9]+s)?|m([0-9]+s)?|s)$",
        "examples": ["30s", "5m", "1h30m"]
    }))
}

/// A number of bytes, or a number with `B`, `KiB`, `MiB`, `GiB` or `TiB`.
fn size_schema(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": "^[0-9]+(B|KiB|MiB|GiB|TiB)?$"}
        ],
        "examples": ["256MiB", "1GiB"]
    }))
}

/// A list of IPv4 or IPv6 addresses (IPv6 optionally in brackets), at least one, no repeats.
fn addresses_schema(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "array",
        "minItems": 1,
        "uniqueItems": true,
        "items": {
            "type": "string",
            "pattern": "^[0-9.]+$|^\\[?[0-9A-Fa-f:.]+\\]?$"
        },
        "examples": [["10.20.0.15", "2001:db8::5"]]
    }))
}

/// One egress profile: which destinations a session with this profile may reach, how they
/// are carried, and at what rate. Several profiles may share a file, as separate YAML
/// documents; each profile name is unique across the policy directory.
#[derive(JsonSchema)]
#[schemars(title = "trust-edge EgressProfile", deny_unknown_fields)]
struct EgressProfile {
    /// The policy language version: `trust-edge/v1`.
    #[serde(rename = "apiVersion")]
    api_version: ApiVersion,
    /// The kind of document: `EgressProfile`.
    kind: ProfileKind,
    /// Identifies the profile.
    metadata: Metadata,
    /// What the profile allows.
    spec: Spec,
}

/// The policy language version.
#[derive(JsonSchema)]
enum ApiVersion {
    /// The only version: `trust-edge/v1`.
    #[serde(rename = "trust-edge/v1")]
    V1,
}

/// The kind of a policy document.
#[derive(JsonSchema)]
enum ProfileKind {
    /// An egress profile.
    EgressProfile,
}

/// Identifies the profile.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Metadata {
    /// The profile name, which a session token's `profile` claim selects: 1 to 63 lowercase
    /// letters, digits or `-`, starting and ending with a letter or digit.
    #[schemars(regex(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    name: String,
}

/// What the profile allows. No destinations means deny-all.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Spec {
    /// `enforce` (the default) refuses what the profile does not allow; `report` trials the
    /// profile on live traffic: host and port refusals of names, and method and path
    /// refusals inside a `bump` tunnel, are let through and audited with
    /// `enforce_would_deny: true`. Report mode never relaxes tokens, the deny-set, IP
    /// literals, SNI/Host binding, limits or the kill switch, and never injects.
    mode: Option<ModeName>,
    /// Per-session limits. Each missing key takes its documented default (with a warning
    /// from `policy check`); there is no unlimited.
    limits: Option<Limits>,
    /// The per-session exfiltration tripwire: counters over a sliding window. Each missing
    /// key takes its documented default (with a warning from `policy check`).
    tripwire: Option<Tripwire>,
    /// The destinations sessions may reach; anything not listed is denied. Each host
    /// (pattern) appears at most once per profile.
    destinations: Option<Vec<Destination>>,
}

/// Whether the profile's decisions are enforced.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum ModeName {
    /// Refuse what the profile does not allow (the default).
    Enforce,
    /// Let host, port, method and path refusals through, audited as `enforce_would_deny`.
    Report,
}

/// Per-session limits; every value is finite and above zero.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Limits {
    /// Sustained requests per second for one session (default 50).
    #[schemars(range(min = 1, max = 4_294_967_295u32), extend("default" = defaults::REQUESTS_PER_SECOND))]
    requests_per_second: Option<u32>,
    /// Requests allowed at once above the sustained rate (default 100).
    #[schemars(range(min = 1, max = 4_294_967_295u32), extend("default" = defaults::BURST))]
    burst: Option<u32>,
    /// Concurrent connections of one session, tunnels and plain requests (default 64).
    #[schemars(range(min = 1, max = 4_294_967_295u32), extend("default" = defaults::MAX_CONNECTIONS))]
    max_connections: Option<u32>,
    /// A tunnel with no bytes either way for this long is closed (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema", extend("default" = "5m"))]
    tunnel_idle_timeout: Option<String>,
    /// A tunnel is closed after this long whatever its activity (default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema", extend("default" = "1h"))]
    tunnel_max_lifetime: Option<String>,
}

/// The exfiltration tripwire of one session.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Tripwire {
    /// Bytes uploaded within `window` that trip it (default `256MiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "size_schema", extend("default" = "256MiB"))]
    upload_bytes: Option<String>,
    /// Distinct destinations within `window` that trip it (default 200).
    #[schemars(range(min = 1, max = 4_294_967_295u32), extend("default" = defaults::TRIPWIRE_DISTINCT_DESTINATIONS))]
    distinct_destinations: Option<u32>,
    /// The counting window (default `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema", extend("default" = "10m"))]
    window: Option<String>,
    /// What a tripped tripwire does (default `alert`).
    action: Option<ActionName>,
}

/// What a tripped tripwire does.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum ActionName {
    /// Raise an alert (audit event and metric); traffic continues (the default).
    Alert,
    /// Refuse the session's further requests with `tripwire`.
    Deny,
}

/// One destination rule.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Destination {
    /// The host: an exact lowercase punycode name (`pypi.org`), `*.` and a suffix of at
    /// least two labels for any sub-domain at any depth but not the suffix itself
    /// (`*.pythonhosted.org`), or an IP literal (`203.0.113.7`, `"[2001:db8::7]"`; needs
    /// `ports`). An exact host wins over a wildcard, a longer wildcard over a shorter one.
    #[schemars(schema_with = "host_schema")]
    host: String,
    /// Allowed ports, 1 to 65535 (default `[443]`). Required with `addresses` and for an IP
    /// literal. A port a rule does not list falls through to the next less specific rule.
    #[schemars(length(min = 1), inner(range(min = 1, max = 65535)), extend("uniqueItems" = true, "default" = [443]))]
    ports: Option<Vec<u16>>,
    /// How traffic is carried. `pass-through`: for CONNECT the TLS SNI must equal the
    /// CONNECT host, then bytes are spliced unread; plain HTTP is forwarded with `Host`
    /// from the absolute URI. `bump`: TLS interception with the deployment CA; every request
    /// inside is decided on its own (Host, `http` rules) and may get `inject` credentials.
    rung: RungName,
    /// Exact addresses this rule may reach even though the mandatory deny-set holds them
    /// (an internal service): only on an exact host, only with `ports`; every resolved
    /// address must be one of these. Audited as an exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "addresses_schema")]
    addresses: Option<Vec<String>>,
    /// HTTP `Upgrade` protocols allowed on this destination (none by default). Never on a
    /// rule with `inject`; `h2c` never on a `bump` rule.
    #[schemars(extend("uniqueItems" = true))]
    upgrades: Option<Vec<UpgradeName>>,
    /// Method and path rules for the requests inside a `bump` tunnel (only with rung
    /// `bump`). Left out: any method but TRACE and CONNECT, any safe path.
    http: Option<Http>,
    /// Credentials the edge attaches to every request this rule allows inside a `bump`
    /// tunnel, read from its SDS cache: only with rung `bump`, only on an exact host name.
    /// The sandbox never sees them.
    #[schemars(length(min = 1))]
    inject: Option<Vec<InjectEntry>>,
}

/// Method and path rules of a `bump` rule.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Http {
    /// Allowed methods, upper-case and compared exactly as sent (`get` is not `GET`). Left
    /// out: any method but TRACE and CONNECT. TRACE only when listed; CONNECT never.
    #[schemars(length(min = 1), inner(regex(pattern = "^[A-Z0-9!#$%&'*+.^_`|~-]{1,32}$")), extend("uniqueItems" = true, "examples" = [["GET", "POST"]]))]
    methods: Option<Vec<String>>,
    /// Allowed path prefixes, matched on segment boundaries of the path as sent: `/v1/`
    /// matches `/v1/messages`; `/v1` matches `/v1` and `/v1/x`, not `/v1x`. Left out: any
    /// path. A request path with a dot-segment, an encoded `/` or `\`, a backslash or an
    /// encoded NUL is always refused.
    #[schemars(length(min = 1), inner(regex(pattern = "^/[!-~]*$")), extend("uniqueItems" = true, "examples" = [["/v1/"]]))]
    paths: Option<Vec<String>>,
}

/// One credential: which secret goes on which header, in which format.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct InjectEntry {
    /// The secret's name at the SDS server (`policy check --sds-config` checks that a source
    /// defines it). Only the name is in the policy, never the value.
    #[schemars(regex(pattern = "^[A-Za-z0-9._/-]{1,253}$"))]
    secret: String,
    /// The request header it is written to (any value the sandbox sent there is replaced).
    /// Not a hop-by-hop, framing or routing header (`host`, `content-length`,
    /// `transfer-encoding`, `connection`, `proxy-authorization`, …).
    #[schemars(regex(pattern = "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$"), extend("examples" = ["x-api-key", "authorization"]))]
    header: String,
    /// The header value, with `{secret}` exactly once where the secret goes (default
    /// `{secret}`); printable ASCII only.
    #[schemars(regex(pattern = "^[ -~]*\\{secret\\}[ -~]*$"), extend("default" = "{secret}", "examples" = ["Bearer {secret}"]))]
    format: Option<String>,
}

/// How traffic to a destination is carried.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum RungName {
    /// SNI == CONNECT host, then spliced unread; plain HTTP forwarded with `Host` rewritten.
    PassThrough,
    /// TLS interception with the deployment CA: each request inside is decided, and may get
    /// credentials.
    Bump,
}

/// An HTTP `Upgrade` protocol.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum UpgradeName {
    /// `Upgrade: websocket`.
    #[serde(rename = "websocket")]
    WebSocket,
    /// `Upgrade: h2c` (cleartext HTTP/2).
    H2c,
}

#[cfg(test)]
mod tests;
