use serde_json::json;

use super::diff;
use crate::set::PolicySet;

const OLD: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: sandbox}
spec:
  limits: {burst: 100}
  destinations:
    - host: pypi.org
      rung: pass-through
    - host: github.com
      rung: pass-through
    - host: example.com
      ports: [443, 8080]
      rung: pass-through
    - host: artifacts.internal.example
      ports: [8443]
      addresses: [10.20.0.15]
      rung: pass-through
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: gone}
spec: {}
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: same}
spec:
  destinations:
    - host: pypi.org
      rung: pass-through
";

const NEW: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: sandbox}
spec:
  mode: report
  limits: {burst: 200}
  destinations:
    # moved down a line: not a change
    - host: pypi.org
      rung: pass-through
    - host: example.com
      ports: [80, 443]
      rung: pass-through
      upgrades: [websocket]
    - host: artifacts.internal.example
      ports: [8443]
      addresses: [10.20.0.15, 10.20.0.16]
      rung: pass-through
    - host: \"*.npmjs.org\"
      rung: pass-through
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: fresh}
spec:
  limits: {requests_per_second: 5, burst: 5, max_connections: 5, tunnel_idle_timeout: 1m, tunnel_max_lifetime: 10m}
  tripwire: {upload_bytes: 1GiB, distinct_destinations: 10, window: 5m, action: deny}
  destinations:
    - host: registry.npmjs.org
      rung: pass-through
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: same}
spec:
  destinations:
    - host: pypi.org
      rung: pass-through
";

fn load(name: &str, text: &str) -> PolicySet {
    PolicySet::from_sources(&[(name.to_owned(), text.to_owned())]).unwrap()
}

#[test]
fn a_reviewer_sees_every_change_per_profile() {
    let d = diff(&load("old.yaml", OLD), &load("new.yaml", NEW));
    assert_eq!(
        d.to_string(),
        "\
profile fresh: added
  + mode: enforce
  + limits.requests_per_second: 5
  + limits.burst: 5
  + limits.max_connections: 5
  + limits.tunnel_idle_timeout: 1m
  + limits.tunnel_max_lifetime: 10m
  + tripwire.upload_bytes: 1GiB
  + tripwire.distinct_destinations: 10
  + tripwire.window: 5m
  + tripwire.action: deny
  + destination registry.npmjs.org ports 443 rung pass-through (new.yaml:29)
profile gone: removed
  - mode: enforce
  - limits.requests_per_second: 50
  - limits.burst: 100
  - limits.max_connections: 64
  - limits.tunnel_idle_timeout: 5m
  - limits.tunnel_max_lifetime: 1h
  - tripwire.upload_bytes: 256MiB
  - tripwire.distinct_destinations: 200
  - tripwire.window: 10m
  - tripwire.action: alert
profile sandbox: changed
  ~ mode: enforce -> report
  ~ limits.burst: 100 -> 200
  + destination *.npmjs.org ports 443 rung pass-through (new.yaml:19)
  - destination github.com ports 443 rung pass-through (old.yaml:9)
  ~ destination example.com (new.yaml:11): ports +80 -8080; upgrades +websocket
  ~ destination artifacts.internal.example (new.yaml:15): addresses +10.20.0.16
1 profile(s) added, 1 removed, 1 changed
"
    );
    let value = serde_json::to_value(&d).unwrap();
    assert_eq!(
        value["profiles"][2],
        json!({
            "name": "sandbox",
            "change": "changed",
            "settings": [
                {"key": "mode", "old": "enforce", "new": "report"},
                {"key": "limits.burst", "old": "100", "new": "200"}
            ],
            "destinations_added": [{
                "id": "new.yaml:19", "host": "*.npmjs.org", "ports": [443],
                "rung": "pass-through", "addresses": [], "upgrades": [],
                "methods": [], "paths": [], "inject": []
            }],
            "destinations_removed": [{
                "id": "old.yaml:9", "host": "github.com", "ports": [443],
                "rung": "pass-through", "addresses": [], "upgrades": [],
                "methods": [], "paths": [], "inject": []
            }],
            "destinations_changed": [
                {
                    "host": "example.com", "id": "new.yaml:11",
                    "ports_added": [80], "ports_removed": [8080], "rung": null,
                    "addresses_added": [], "addresses_removed": [],
                    "upgrades_added": ["websocket"], "upgrades_removed": [],
                    "methods": null, "paths": null, "inject_added": [], "inject_removed": []
                },
                {
                    "host": "artifacts.internal.example", "id": "new.yaml:15",
                    "ports_added": [], "ports_removed": [], "rung": null,
                    "addresses_added": ["10.20.0.16"], "addresses_removed": [],
                    "upgrades_added": [], "upgrades_removed": [],
                    "methods": null, "paths": null, "inject_added": [], "inject_removed": []
                }
            ]
        })
    );
    assert_eq!(value["profiles"][1]["change"], "removed");
    assert_eq!(
        value["profiles"][1]["settings"][0],
        json!({"key": "mode", "old": "enforce", "new": null})
    );
}

#[test]
fn identical_sets_have_no_changes() {
    let d = diff(&load("a.yaml", OLD), &load("b.yaml", OLD));
    assert!(d.is_empty());
    assert_eq!(d.to_string(), "no changes\n");
    assert_eq!(serde_json::to_value(&d).unwrap(), json!({"profiles": []}));
}

const BUMP_OLD: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: llm}
spec:
  destinations:
    - host: api.anthropic.com
      rung: pass-through
    - host: api.github.com
      rung: bump
      http: {methods: [GET], paths: [/repos/]}
      inject:
        - {secret: github-token, header: authorization, format: \"Bearer {secret}\"}
        - {secret: github-app, header: x-app}
    - host: api.openai.com
      rung: bump
      inject: [{secret: openai-key, header: authorization, format: \"Bearer {secret}\"}]
";

const BUMP_NEW: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: llm}
spec:
  destinations:
    - host: api.anthropic.com
      rung: bump
      http: {methods: [GET, POST], paths: [/v1/]}
      inject: [{secret: anthropic-api-key, header: x-api-key}]
    - host: api.github.com
      rung: bump
      inject:
        - {secret: github-token-2, header: authorization, format: \"token {secret}\"}
        - {secret: github-app, header: x-app}
    - host: api.openai.com
      rung: pass-through
";

#[test]
fn rungs_method_path_rules_and_credentials_are_changes_by_name() {
    let d = diff(&load("old.yaml", BUMP_OLD), &load("new.yaml", BUMP_NEW));
    assert_eq!(
        d.to_string(),
        "\
profile llm: changed
  ~ destination api.anthropic.com (new.yaml:6): rung pass-through -> bump; methods any -> GET, POST; paths any -> /v1/; inject +x-api-key: {anthropic-api-key}
  ~ destination api.github.com (new.yaml:10): methods GET -> any; paths /repos/ -> any; inject +authorization: token {github-token-2} -authorization: Bearer {github-token}
  ~ destination api.openai.com (new.yaml:15): rung bump -> pass-through; inject -authorization: Bearer {openai-key}
0 profile(s) added, 0 removed, 1 changed
"
    );
    let value = serde_json::to_value(&d).unwrap();
    assert_eq!(
        value["profiles"][0]["destinations_changed"][0],
        json!({
            "host": "api.anthropic.com", "id": "new.yaml:6",
            "ports_added": [], "ports_removed": [],
            "rung": {"key": "rung", "old": "pass-through", "new": "bump"},
            "addresses_added": [], "addresses_removed": [],
            "upgrades_added": [], "upgrades_removed": [],
            "methods": {"key": "http.methods", "old": "any", "new": "GET, POST"},
            "paths": {"key": "http.paths", "old": "any", "new": "/v1/"},
            "inject_added": [{"secret": "anthropic-api-key", "header": "x-api-key", "format": "{secret}"}],
            "inject_removed": []
        })
    );
    let added = diff(&PolicySet::empty(), &load("new.yaml", BUMP_NEW));
    assert_eq!(
        added.to_string().lines().nth(11),
        Some(
            "  + destination api.anthropic.com ports 443 rung bump methods GET, POST paths /v1/ inject x-api-key: {anthropic-api-key} (new.yaml:6)"
        )
    );
}
