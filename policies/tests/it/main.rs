//! Integration tests: the shipped policy files compile and decide as documented.

// A test binary: its helpers may unwrap and panic like the tests they serve.
#![allow(clippy::unwrap_used, clippy::panic)]

mod check;

use std::path::Path;

use policies::check::check_paths;
use policies::suite::run_paths;
use policies::{Deployment, Destination, Mode, PolicySet, parse_authority};
use trust_core::DenyReason;

fn load(dir: &str) -> PolicySet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    match PolicySet::load_dir(&path) {
        Ok(set) => set,
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("{dir} does not compile:\n{}", lines.join("\n"));
        }
    }
}

fn decide(set: &PolicySet, profile: &str, authority: &str) -> Result<String, DenyReason> {
    let (dest, port) = parse_authority(authority, None).unwrap();
    let profile = set.profile(profile).unwrap();
    profile.decide(&dest, port).map(|rule| rule.id.clone())
}

#[test]
fn the_default_policy_compiles_and_allows_package_indexes() {
    let set = load("default");
    let names: Vec<&str> = set.profiles().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["sandbox-default"]);
    let p = "sandbox-default";
    assert_eq!(
        decide(&set, p, "pypi.org:443"),
        Ok("sandbox-default.yaml:28".to_owned())
    );
    assert!(decide(&set, p, "files.pythonhosted.org:443").is_ok());
    assert!(decide(&set, p, "registry.npmjs.org:443").is_ok());
    assert!(decide(&set, p, "github.com:443").is_ok());
    assert_eq!(
        decide(&set, p, "github.com:22"),
        Err(DenyReason::PortNotAllowed)
    );
    assert_eq!(
        decide(&set, p, "pypi.org:80"),
        Err(DenyReason::PortNotAllowed)
    );
    assert_eq!(
        decide(&set, p, "gist.github.com:443"),
        Err(DenyReason::DestinationNotAllowed)
    );
    assert_eq!(
        decide(&set, p, "169.254.169.254:80"),
        Err(DenyReason::IpLiteralNotAllowed)
    );
    assert_eq!(set.hash().len(), 64);
}

#[test]
fn the_examples_compile_and_mean_what_their_comments_say() {
    let set = load("examples");
    let names: Vec<&str> = set.profiles().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["browser-agent", "internal-build", "llm-agent", "offline"]
    );

    let build = set.profile("internal-build").unwrap();
    let (dest, port) = parse_authority("artifacts.internal.example:8443", None).unwrap();
    let rule = build.decide(&dest, port).unwrap();
    assert_eq!(
        rule.addresses,
        [
            "10.20.0.15".parse::<std::net::IpAddr>().unwrap(),
            "10.20.0.16".parse().unwrap()
        ]
    );

    let browser = set.profile("browser-agent").unwrap();
    assert_eq!(browser.mode, Mode::Report);
    assert!(decide(&set, "browser-agent", "en.wikipedia.org:443").is_ok());
    assert!(decide(&set, "browser-agent", "wikipedia.org:443").is_ok());
    assert!(decide(&set, "browser-agent", "3405803783:80").is_ok());
    assert_eq!(
        decide(&set, "browser-agent", "[::ffff:203.0.113.7]:80"),
        Err(DenyReason::IpLiteralNotAllowed)
    );
    let (ws, port) = parse_authority("stream.example.net:443", None).unwrap();
    assert!(
        browser
            .decide(&ws, port)
            .unwrap()
            .allows_upgrade(policies::Upgrade::WebSocket)
    );

    let llm = set.profile("llm-agent").unwrap();
    let (api, port) = parse_authority("api.anthropic.com:443", None).unwrap();
    let rule = llm.decide(&api, port).unwrap();
    assert_eq!(rule.rung, policies::Rung::Bump);
    assert_eq!(rule.check_request("POST", "/v1/messages"), Ok(()));
    assert_eq!(
        rule.check_request("POST", "/v1/../admin"),
        Err(DenyReason::PathNotAllowed)
    );
    assert_eq!(
        rule.check_request("post", "/v1/messages"),
        Err(DenyReason::MethodNotAllowed)
    );
    let [inject] = rule.inject.as_slice() else {
        panic!("{:?}", rule.inject)
    };
    assert_eq!(
        (inject.secret.as_str(), inject.header.as_str()),
        ("anthropic-api-key", "x-api-key")
    );
    assert_eq!(inject.render(b"sk-test"), b"sk-test");
    assert_eq!(
        set.secrets().into_iter().collect::<Vec<_>>(),
        ["anthropic-api-key"]
    );
    let no_ca = Deployment {
        ca_configured: Some(false),
        secrets: None,
    };
    let problems: Vec<String> = set
        .cross_check(&no_ca)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "llm-api.yaml:30:13: `spec.destinations[0].rung`: a `bump` rule needs the deployment CA, and the edge config configures none; set `ca_dir` or `ca_secret` in its `[bump]` table, or carry this host `pass-through`"
        ]
    );

    let offline = set.profile("offline").unwrap();
    let name = Destination::Name("pypi.org".to_owned());
    assert_eq!(
        offline.decide(&name, 443),
        Err(DenyReason::DestinationNotAllowed)
    );
}

#[test]
fn the_shipped_policies_pass_check_and_their_own_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [root.join("default"), root.join("examples")];
    let report = check_paths(&dirs, &Deployment::default());
    let lines: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| d.to_string().replace(&format!("{}/", root.display()), ""))
        .collect();
    // `internal-build` leaves its limits out on purpose, to show the defaults (and the warning).
    assert_eq!(
        lines,
        [
            "examples/internal-artifacts.yaml:12:1: warning: `spec.limits` is not set; the documented defaults apply: requests_per_second 50, burst 100, max_connections 64, tunnel_idle_timeout 5m, tunnel_max_lifetime 1h; write them out so reviewers see them",
            "examples/internal-artifacts.yaml:12:1: warning: `spec.tripwire` is not set; the documented defaults apply: upload_bytes 256MiB, distinct_destinations 200, window 10m, action alert; write them out so reviewers see them",
        ]
    );
    assert!(report.ok());
    assert_eq!((report.files, report.profiles), (4, 5));

    let run = run_paths(&dirs);
    assert!(run.ok(), "{run}");
    assert_eq!(run.files.len(), 4, "{run}");
    assert!(run.passed() >= 45, "{run}");
}
