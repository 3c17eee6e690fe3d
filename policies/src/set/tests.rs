use std::time::Duration;

use proptest::prelude::*;

use super::PolicySet;
use crate::{
    Deployment, HostPattern, HttpRules, Limits, Mode, Rung, Tripwire, TripwireAction, Upgrade,
    defaults,
};

/// Five lines; rules start on line 6 with `    - ` (a rule's first key is at column 7).
const HEAD: &str =
    "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: t}\nspec:\n  destinations:\n";

fn load(files: &[(&str, &str)]) -> Result<PolicySet, Vec<String>> {
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    PolicySet::from_sources(&sources).map_err(|errs| errs.iter().map(ToString::to_string).collect())
}

fn errors_of(text: &str) -> Vec<String> {
    load(&[("p.yaml", text)]).err().unwrap_or_default()
}

#[test]
fn each_error_class_has_its_exact_position() {
    let table: &[(&str, &str)] = &[
        (
            "    - host: pypi.org\n      port: [443]\n      rung: pass-through\n",
            "p.yaml:7:7: unknown key `port` in `spec.destinations[0]`; did you mean `ports`?",
        ),
        (
            "    - host: pypi.org\n      ports: 443\n      rung: pass-through\n",
            "p.yaml:7:14: `spec.destinations[0].ports` must be a list of port numbers, found `443`",
        ),
        (
            "    - host: pypi.org\n      ports: [\"443\"]\n      rung: pass-through\n",
            "p.yaml:7:15: `spec.destinations[0].ports` must be a whole number, found the quoted string `443`",
        ),
        (
            "    - host: pypi.org\n      ports: [0]\n      rung: pass-through\n",
            "p.yaml:7:15: `spec.destinations[0].ports`: 0 is not a port; ports run from 1 to 65535",
        ),
        (
            "    - host: pypi.org\n      ports: [443, 65536]\n      rung: pass-through\n",
            "p.yaml:7:20: `spec.destinations[0].ports`: 65536 is not a port; ports run from 1 to 65535",
        ),
        (
            "    - host: \"*.com\"\n      rung: pass-through\n",
            "p.yaml:6:13: `spec.destinations[0].host`: wildcard `*.com` is too broad; a wildcard needs at least two labels after `*.`, like `*.example.com`",
        ),
        (
            "    - host: a.*.com\n      rung: pass-through\n",
            "p.yaml:6:13: `spec.destinations[0].host`: `a.*.com` is not a valid host; a wildcard is only allowed as a leading `*.`, like `*.example.com`",
        ),
        (
            "    - host: PyPI.org\n      rung: pass-through\n",
            "p.yaml:6:13: `spec.destinations[0].host`: host `PyPI.org` must be lowercase; write `pypi.org`",
        ),
        (
            "    - host: pypi.org\n",
            "p.yaml:6:7: `spec.destinations[0]` is missing `rung` (for example `rung: pass-through`)",
        ),
        (
            "    - rung: pass-through\n",
            "p.yaml:6:7: `spec.destinations[0]` is missing `host` (for example `host: pypi.org`)",
        ),
        (
            "    - host: pypi.org\n      rung: bumped\n",
            "p.yaml:7:13: `spec.destinations[0].rung` cannot be `bumped`; did you mean `bump`?",
        ),
        (
            "    - host: pypi.org\n      rung: passthrough\n",
            "p.yaml:7:13: `spec.destinations[0].rung` cannot be `passthrough`; did you mean `pass-through`?",
        ),
        (
            "    - host: pypi.org\n      rung: pass-through\n      http: {methods: [GET]}\n",
            "p.yaml:8:7: `spec.destinations[0].http`: method and path rules cannot be enforced on a `pass-through` rule, which carries requests without reading them; they need rung `bump` (TLS interception): set `rung: bump` or remove `http`",
        ),
        (
            "    - host: pypi.org\n      rung: pass-through\n    - host: pypi.org.\n      rung: pass-through\n",
            "p.yaml:8:13: host `pypi.org` is already listed at line 6 of this profile; merge the two rules",
        ),
        (
            "    - host: 203.0.113.7\n      rung: pass-through\n",
            "p.yaml:6:7: `spec.destinations[0]` names an IP address but no `ports`; a rule for an exact address must list its exact ports (for example `ports: [443]`)",
        ),
        (
            "    - host: \"*.example.com\"\n      ports: [443]\n      addresses: [10.0.0.1]\n      rung: pass-through\n",
            "p.yaml:8:18: `spec.destinations[0].addresses` is only allowed on a rule naming one exact host, not `*.example.com`",
        ),
        (
            "    - host: a.example\n      ports: [443]\n      addresses: [10.0.0.0/8]\n      rung: pass-through\n",
            "p.yaml:8:19: `spec.destinations[0].addresses`: `10.0.0.0/8` is not an IP address (write e.g. `10.20.0.15` or `2001:db8::5`; no ranges, no zone ids)",
        ),
        (
            "    - host: a.example\n      rung: pass-through\n      upgrades: [websockets]\n",
            "p.yaml:8:18: `spec.destinations[0].upgrades` cannot be `websockets`; did you mean `websocket`?",
        ),
        (
            "    - host: a.example\n      rung: pass-through\n      host: b.example\n",
            "p.yaml:8:7: key `host` is repeated in `spec.destinations[0]` (first at line 6)",
        ),
        (
            "    - pypi.org\n",
            "p.yaml:6:7: `spec.destinations[0]` must be a mapping, found `pypi.org`",
        ),
    ];
    for (rules, want) in table {
        assert_eq!(
            errors_of(&format!("{HEAD}{rules}")),
            vec![(*want).to_owned()],
            "{rules}"
        );
    }
}

#[test]
fn profile_level_errors_have_their_exact_position() {
    let spec = |s: &str| {
        format!("apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: t}}\nspec:\n{s}")
    };
    let table: &[(String, &str)] = &[
        (spec("  limits: {burst: 0}\n"), "p.yaml:5:19: `spec.limits.burst` must be greater than zero, found 0 (there is no unlimited)"),
        (spec("  limits:\n    requests_per_second: -5\n"), "p.yaml:6:26: `spec.limits.requests_per_second` must be greater than zero, found -5 (there is no unlimited)"),
        (spec("  limits: {max_connections: 1.5}\n"), "p.yaml:5:29: `spec.limits.max_connections` must be a whole number, found `1.5`"),
        (
            spec("  limits: {tunnel_idle_timeout: 5 minutes}\n"),
            "p.yaml:5:33: `spec.limits.tunnel_idle_timeout`: `5 minutes` is not a duration; write whole hours, minutes and seconds in that order, e.g. `30s`, `5m`, `1h` or `1h30m`",
        ),
        (spec("  limits: {tunnel_max_lifetime: 0s}\n"), "p.yaml:5:33: `spec.limits.tunnel_max_lifetime` must be longer than zero"),
        (spec("  tripwire: {upload_bytes: 0}\n"), "p.yaml:5:28: `spec.tripwire.upload_bytes` must be greater than zero (there is no unlimited)"),
        (spec("  tripwire: {action: block}\n"), "p.yaml:5:22: `spec.tripwire.action` cannot be `block`; expected one of `alert` or `deny`"),
        (spec("  mode: enforced\n"), "p.yaml:5:9: `spec.mode` cannot be `enforced`; did you mean `enforce`?"),
        (spec("  destination: []\n"), "p.yaml:5:3: unknown key `destination` in `spec`; did you mean `destinations`?"),
        (spec("  destinations: {host: a}\n"), "p.yaml:5:17: `spec.destinations` must be a list of destination rules, found a mapping"),
        (
            "apiVersion: trust-edge/v2\nkind: EgressProfile\nmetadata: {name: t}\nspec: {}\n".to_owned(),
            "p.yaml:1:13: `apiVersion` must be `trust-edge/v1`, found `trust-edge/v2`",
        ),
        (
            "apiVersion: trust-edge/v1\nkind: Profile\nmetadata: {name: t}\nspec: {}\n".to_owned(),
            "p.yaml:2:7: `kind` must be `EgressProfile`, found `Profile`",
        ),
        (
            "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: Sandbox_1}\nspec: {}\n".to_owned(),
            "p.yaml:3:18: profile name `Sandbox_1` is not valid; use 1 to 63 lowercase letters, digits or `-`, starting and ending with a letter or digit",
        ),
        (
            "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: t}\n".to_owned(),
            "p.yaml:1:1: `the document` is missing `spec` (for example `spec: {destinations: []}`)",
        ),
        (
            "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: t}\nspec: {}\napiversion: x\n".to_owned(),
            "p.yaml:5:1: unknown key `apiversion` in `the document`; did you mean `apiVersion`?",
        ),
        ("- just\n- a list\n".to_owned(), "p.yaml:1:1: `the document` must be a mapping, found a list"),
        (
            "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: t\nspec: {}\n".to_owned(),
            "p.yaml:4:5: YAML syntax error: while parsing a flow mapping, did not find expected ',' or '}'",
        ),
    ];
    for (text, want) in table {
        assert_eq!(errors_of(text), vec![(*want).to_owned()], "{text}");
    }
}

#[test]
fn duplicate_profiles_across_files_are_refused() {
    let doc = format!("{HEAD}    - host: pypi.org\n      rung: pass-through\n");
    let got = load(&[("b.yaml", &doc), ("a.yaml", &doc)]).unwrap_err();
    assert_eq!(
        got,
        ["b.yaml:3:18: profile `t` is already defined at a.yaml:3"]
    );
    let two_in_one = format!("{doc}---\n{doc}");
    let got = load(&[("a.yaml", &two_in_one)]).unwrap_err();
    assert_eq!(
        got,
        ["a.yaml:11:18: profile `t` is already defined at a.yaml:3"]
    );
}

#[test]
fn every_error_of_every_file_is_reported_in_order() {
    let broken = format!(
        "{HEAD}    - host: \"*.com\"\n      rung: bump\n    - host: ok.example\n      port: [80]\n      rung: pass-through\n    - host: x.example\n  limits: {{burst: 0, rps: 5}}\n"
    );
    let syntax = "apiVersion: [\n";
    let got = load(&[("z.yaml", &broken), ("a.yaml", syntax)]).unwrap_err();
    assert_eq!(
        got,
        [
            "a.yaml:2:1: YAML syntax error: while parsing a node, did not find expected node content",
            "z.yaml:6:13: `spec.destinations[0].host`: wildcard `*.com` is too broad; a wildcard needs at least two labels after `*.`, like `*.example.com`",
            "z.yaml:9:7: unknown key `port` in `spec.destinations[1]`; did you mean `ports`?",
            "z.yaml:11:7: `spec.destinations[2]` is missing `rung` (for example `rung: pass-through`)",
            "z.yaml:12:19: `spec.limits.burst` must be greater than zero, found 0 (there is no unlimited)",
            "z.yaml:12:22: unknown key `rps` in `spec.limits`; expected one of `requests_per_second`, `burst`, `max_connections`, `tunnel_idle_timeout` or `tunnel_max_lifetime`",
        ]
    );
}

#[test]
fn a_full_profile_compiles_to_the_model() {
    let text = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: full}
spec:
  mode: report
  limits: {requests_per_second: 5, burst: 7, max_connections: 3, tunnel_idle_timeout: 30s, tunnel_max_lifetime: 1h30m}
  tripwire: {upload_bytes: 1GiB, distinct_destinations: 9, window: 2m, action: deny}
  destinations:
    - host: artifacts.internal.example
      ports: [8443, 443]
      addresses: [10.20.0.15, \"[fd00::15]\"]
      rung: pass-through
      upgrades: [websocket, h2c]
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata:
  name: defaults
spec:
  destinations:
";
    let set = load(&[("dir.yaml", text)]).unwrap();
    let names: Vec<&str> = set.profiles().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["defaults", "full"]);
    let full = set.profile("full").unwrap();
    assert_eq!(full.mode, Mode::Report);
    let limits = Limits {
        requests_per_second: 5,
        burst: 7,
        max_connections: 3,
        tunnel_idle_timeout: Duration::from_secs(30),
        tunnel_max_lifetime: Duration::from_secs(5400),
    };
    assert_eq!(full.limits, limits);
    let tripwire = Tripwire {
        upload_bytes: 1 << 30,
        distinct_destinations: 9,
        window: Duration::from_secs(120),
        action: TripwireAction::Deny,
    };
    assert_eq!(full.tripwire, tripwire);
    let [rule] = full.rules() else {
        panic!("{:?}", full.rules())
    };
    assert_eq!(rule.id, "dir.yaml:9");
    assert_eq!(
        rule.host,
        HostPattern::Exact("artifacts.internal.example".to_owned())
    );
    assert_eq!(rule.ports, [443, 8443]);
    assert_eq!(
        rule.addresses,
        [
            "10.20.0.15".parse::<std::net::IpAddr>().unwrap(),
            "fd00::15".parse().unwrap()
        ]
    );
    assert_eq!(rule.rung, Rung::PassThrough);
    assert!(rule.allows_upgrade(Upgrade::WebSocket) && rule.allows_upgrade(Upgrade::H2c));

    let d = set.profile("defaults").unwrap();
    assert_eq!(d.mode, defaults::MODE);
    assert_eq!(
        d.limits,
        Limits {
            requests_per_second: 50,
            burst: 100,
            max_connections: 64,
            tunnel_idle_timeout: Duration::from_secs(300),
            tunnel_max_lifetime: Duration::from_secs(3600),
        }
    );
    assert_eq!(
        d.tripwire,
        Tripwire {
            upload_bytes: 256 << 20,
            distinct_destinations: 200,
            window: Duration::from_secs(600),
            action: TripwireAction::Alert,
        }
    );
    assert!(d.rules().is_empty());
}

const BUMP: &str = "\
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: llm}
spec:
  destinations:
    - host: api.anthropic.com
      rung: bump
      http: {methods: [GET, POST], paths: [/v1/]}
      inject:
        - {secret: anthropic-api-key, header: X-Api-Key}
        - {secret: anthropic-beta, header: anthropic-beta, format: \"beta={secret}\"}
    - host: pypi.org
      rung: pass-through
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {name: gh}
spec:
  destinations:
    - host: api.github.com
      rung: bump
      inject: [{secret: github-token, header: authorization, format: \"Bearer {secret}\"}]
    - host: uploads.github.com
      rung: bump
";

#[test]
fn a_bump_rule_compiles_with_its_http_rules_and_credentials() {
    let set = load(&[("b.yaml", BUMP)]).unwrap();
    let rule = &set.profile("llm").unwrap().rules()[0];
    assert_eq!(rule.rung, Rung::Bump);
    assert_eq!(rule.rung.as_str(), "bump");
    assert_eq!(
        rule.http,
        HttpRules {
            methods: vec!["GET".to_owned(), "POST".to_owned()],
            paths: vec!["/v1/".to_owned()],
        }
    );
    let injected: Vec<(&str, &str, String)> = rule
        .inject
        .iter()
        .map(|i| (i.secret.as_str(), i.header.as_str(), i.format.template()))
        .collect();
    assert_eq!(
        injected,
        [
            ("anthropic-api-key", "x-api-key", "{secret}".to_owned()),
            (
                "anthropic-beta",
                "anthropic-beta",
                "beta={secret}".to_owned()
            ),
        ]
    );
    assert_eq!(rule.inject[1].render(b"v2"), b"beta=v2");
    let pass = &set.profile("llm").unwrap().rules()[1];
    assert_eq!(pass.http, HttpRules::default());
    assert!(pass.inject.is_empty());
    assert_eq!(
        set.secrets().into_iter().collect::<Vec<_>>(),
        ["anthropic-api-key", "anthropic-beta", "github-token"]
    );
    assert!(set.has_bump_rules());
    assert!(!PolicySet::empty().has_bump_rules());
    assert!(PolicySet::empty().secrets().is_empty());
}

#[test]
fn cross_check_places_each_problem_at_its_key() {
    let set = load(&[("b.yaml", BUMP)]).unwrap();
    let show = |d: &Deployment| -> Vec<String> {
        set.cross_check(d).iter().map(ToString::to_string).collect()
    };
    assert_eq!(show(&Deployment::default()), Vec::<String>::new());
    let fits = Deployment {
        ca_configured: Some(true),
        secrets: Some(
            [
                "anthropic-api-key",
                "anthropic-beta",
                "github-token",
                "other",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        ),
    };
    assert_eq!(show(&fits), Vec::<String>::new());
    let bare = Deployment {
        ca_configured: Some(false),
        secrets: Some(["github-tokn".to_owned()].into_iter().collect()),
    };
    let ca = "a `bump` rule needs the deployment CA, and the edge config configures none; set `ca_dir` or `ca_secret` in its `[bump]` table, or carry this host `pass-through`";
    assert_eq!(
        show(&bare),
        [
            format!("b.yaml:7:13: `spec.destinations[0].rung`: {ca}"),
            "b.yaml:10:20: `spec.destinations[0].inject[0].secret`: `anthropic-api-key` is defined by no SDS source (known: github-tokn)".to_owned(),
            "b.yaml:11:20: `spec.destinations[0].inject[1].secret`: `anthropic-beta` is defined by no SDS source (known: github-tokn)".to_owned(),
            format!("b.yaml:21:13: `spec.destinations[0].rung`: {ca}"),
            "b.yaml:22:25: `spec.destinations[0].inject[0].secret`: `github-token` is defined by no SDS source (known: github-tokn); did you mean `github-tokn`?".to_owned(),
            format!("b.yaml:24:13: `spec.destinations[1].rung`: {ca}"),
        ]
    );
    // The same checks run while loading, in every file, even one with other errors.
    let broken = BUMP.replace("host: pypi.org", "host: \"*.org\"");
    let sources = [("b.yaml".to_owned(), broken)];
    let checked = PolicySet::check_sources_with(&sources, &bare);
    let errors: Vec<String> = checked
        .result
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 7, "{errors:#?}");
    assert_eq!(
        errors[0],
        format!("b.yaml:7:13: `spec.destinations[0].rung`: {ca}")
    );
    assert!(
        errors[3].starts_with("b.yaml:12:13: `spec.destinations[1].host`: "),
        "{errors:#?}"
    );
    assert!(PolicySet::check_sources(&sources).result.unwrap_err().len() == 1);
}

#[test]
fn default_ports_and_upgrades() {
    let set = load(&[(
        "p.yaml",
        &format!("{HEAD}    - host: pypi.org\n      rung: pass-through\n"),
    )])
    .unwrap();
    let rule = &set.profile("t").unwrap().rules()[0];
    assert_eq!(rule.ports, [443]);
    assert!(rule.addresses.is_empty());
    assert!(!rule.allows_upgrade(Upgrade::WebSocket));
    assert!(!rule.allows_upgrade(Upgrade::H2c));
}

#[test]
fn hash_covers_names_and_contents_in_any_order() {
    let a = (
        "a.yaml",
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: a}\nspec: {}\n",
    );
    let b = (
        "b.yaml",
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: b}\nspec: {}\n",
    );
    let ab = load(&[a, b]).unwrap();
    let ba = load(&[b, a]).unwrap();
    assert_eq!(ab.hash(), ba.hash());
    assert_eq!(ab.hash().len(), 64);
    let renamed = load(&[("c.yaml", a.1), b]).unwrap();
    assert_ne!(renamed.hash(), ab.hash());
    let edited = load(&[a, ("b.yaml", &format!("{}# comment\n", b.1))]).unwrap();
    assert_ne!(edited.hash(), ab.hash());
    // sha256 of no input
    assert_eq!(
        PolicySet::empty().hash(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn the_same_file_name_twice_is_refused() {
    let a = (
        "a.yaml",
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: a}\nspec: {}\n",
    );
    assert_eq!(
        load(&[a, a]).unwrap_err(),
        ["a.yaml:0:0: the file is given twice"]
    );
}

#[test]
fn load_dir_reads_yaml_files_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let doc = |name: &str| {
        format!(
            "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: {name}}}\nspec: {{}}\n"
        )
    };
    std::fs::write(dir.path().join("one.yaml"), doc("one")).unwrap();
    std::fs::write(dir.path().join("two.yml"), doc("two")).unwrap();
    std::fs::write(dir.path().join("README.md"), "not policy").unwrap();
    std::fs::write(dir.path().join(".hidden.yaml"), "broken: [").unwrap();
    std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();
    let set = PolicySet::load_dir(dir.path()).unwrap();
    let names: Vec<&str> = set.profiles().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["one", "two"]);

    std::fs::write(dir.path().join("bad.yaml"), [0xff, 0xfe]).unwrap();
    let errs = PolicySet::load_dir(dir.path()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].to_string(),
        "bad.yaml:0:0: the file is not UTF-8 text"
    );

    let missing = PolicySet::load_dir(&dir.path().join("nope")).unwrap_err();
    assert_eq!((missing[0].line, missing[0].column), (0, 0));
    assert!(
        missing[0]
            .message
            .starts_with("cannot read the policy directory: ")
    );
}

proptest! {
    #[test]
    fn load_never_panics_on_arbitrary_text(text in ".{0,200}") {
        let _ = PolicySet::from_sources(&[("p.yaml".to_owned(), text)]);
    }

    #[test]
    fn load_never_panics_on_yaml_shaped_text(text in "[a-z:\\[\\]{}, \\n*.&!#|>'\"0-9-]{0,200}") {
        let _ = PolicySet::from_sources(&[("p.yaml".to_owned(), text)]);
    }

    #[test]
    fn load_never_panics_on_mutated_policies(
        line in 5usize..12,
        junk in "[a-zA-Z0-9:*.\\[\\]{} -]{0,20}",
    ) {
        let base = format!("{HEAD}    - host: pypi.org\n      ports: [443]\n      rung: pass-through\n  limits: {{burst: 5}}\n");
        let mut lines: Vec<String> = base.lines().map(str::to_owned).collect();
        if let Some(l) = lines.get_mut(line) {
            l.push_str(&junk);
        }
        let text = lines.join("\n");
        match PolicySet::from_sources(&[("p.yaml".to_owned(), text)]) {
            Ok(set) => prop_assert!(set.profile("t").is_some()),
            Err(errors) => prop_assert!(!errors.is_empty() && errors.iter().all(|e| e.line >= 1)),
        }
    }
}
