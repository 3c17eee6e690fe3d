//! The mirror of a policy test file (`kind: PolicyTests`), for its JSON Schema.

use schemars::JsonSchema;

use super::ApiVersion;

/// Table-driven tests of the policies in the same directory, run by
/// `trust-edge policy test`. Name the file `<anything>.tests.yaml`: the policy loader skips
/// such files.
#[derive(JsonSchema)]
#[schemars(title = "trust-edge PolicyTests", deny_unknown_fields)]
pub(super) struct PolicyTests {
    /// The policy language version: `trust-edge/v1`.
    #[serde(rename = "apiVersion")]
    api_version: ApiVersion,
    /// The kind of document: `PolicyTests`.
    kind: TestsKind,
    /// The profile every case tests unless it names its own.
    profile: Option<String>,
    /// The cases, run in order; each needs a unique name.
    cases: Vec<Case>,
}

/// The kind of a policy test document.
#[derive(JsonSchema)]
enum TestsKind {
    /// Policy tests.
    PolicyTests,
}

/// One request and what the policy should do with it. Give exactly one of `url` and
/// `connect`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Case {
    /// What the case shows, in a few words; unique in the file.
    name: String,
    /// The profile (a session token's `profile` claim); defaults to the file's `profile`.
    profile: Option<String>,
    /// A URL: `https://host[:port]/path` reaches the edge as `CONNECT host:443` (only a
    /// `bump` rule sees the method and path inside), `http://host[:port]/path` as a forwarded
    /// request.
    url: Option<String>,
    /// A CONNECT authority, `host:port` (the port is required).
    connect: Option<String>,
    /// The method of a `url` request, or of the request inside a `connect` tunnel (default
    /// `GET`).
    method: Option<String>,
    /// The path (and query) of the request inside a `connect` tunnel (default `/`); a `url`
    /// carries its own.
    path: Option<String>,
    /// The addresses the host resolves to, screened against the mandatory deny-set (and the
    /// rule's exact `addresses:`). Leave out to test host and port only.
    #[schemars(length(min = 1))]
    resolve: Option<Vec<String>>,
    /// What the policy should decide; every key given is checked.
    expect: Expect,
}

/// The expected outcome; keys left out are not checked.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Expect {
    /// `allow` or `deny`. A report-mode profile allows what enforce mode would deny: expect
    /// `allow` with `enforce_would_deny: true`.
    decision: DecisionName,
    /// The deny reason code: `unknown_profile`, `ip_literal_not_allowed`,
    /// `destination_not_allowed`, `port_not_allowed`, `resolved_address_denied`,
    /// `method_not_allowed` or `path_not_allowed`. Required
    /// with `decision: deny`; with `enforce_would_deny: true`, the reason enforce mode would
    /// give.
    reason: Option<ReasonName>,
    /// True when a report-mode profile lets through what enforce mode would deny (default
    /// false: a plain allow).
    enforce_would_deny: Option<bool>,
    /// The rung of the deciding rule, e.g. `pass-through`.
    rung: Option<String>,
    /// The deciding rule: its id (`file.yaml:LINE`) or its host pattern (`*.example.com`).
    rule: Option<String>,
    /// True when the rule's exact addresses (or an IP-literal rule) let the request past
    /// the deny-set (needs `resolve`, or an IP-literal request).
    deny_set_override: Option<bool>,
    /// The secret names the edge would inject (any order; `[]`: none). Only a `bump` rule
    /// injects, and never on a request let through only by report mode.
    inject: Option<Vec<String>>,
}

/// Allow or deny.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum DecisionName {
    /// The edge carries the request.
    Allow,
    /// The edge refuses it.
    Deny,
}

/// A deny reason a policy decides.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ReasonName {
    /// The token names a profile the policies do not define.
    UnknownProfile,
    /// An IP-literal destination that no rule names (never relaxed by report mode).
    IpLiteralNotAllowed,
    /// No rule names the host.
    DestinationNotAllowed,
    /// Rules name the host, but none on this port.
    PortNotAllowed,
    /// A resolved address is in the deny-set (or not among the rule's exact addresses).
    ResolvedAddressDenied,
    /// A `bump` rule does not allow the method inside the tunnel.
    MethodNotAllowed,
    /// A `bump` rule does not allow the path inside the tunnel (or it is unsafe).
    PathNotAllowed,
}
