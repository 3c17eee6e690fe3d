use std::collections::BTreeSet;

use super::{Deployment, Need, Site, cross_check};
use crate::yaml::Pos;

fn site(line: usize, field: &str, need: Need) -> Site {
    Site {
        file: "p.yaml".to_owned(),
        pos: Pos { line, column: 13 },
        field: field.to_owned(),
        need,
    }
}

fn names(list: &[&str]) -> Option<BTreeSet<String>> {
    Some(list.iter().map(|n| (*n).to_owned()).collect())
}

fn sites() -> Vec<Site> {
    vec![
        site(
            12,
            "spec.destinations[1].inject[0].secret",
            Need::Secret("anthropic-api-kye".to_owned()),
        ),
        site(9, "spec.destinations[1].rung", Need::Ca),
        site(
            13,
            "spec.destinations[1].inject[1].secret",
            Need::Secret("github-token".to_owned()),
        ),
    ]
}

fn lines(deployment: &Deployment) -> Vec<String> {
    cross_check(&sites(), deployment)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn unknown_parts_of_the_deployment_are_not_checked() {
    assert_eq!(lines(&Deployment::default()), Vec::<String>::new());
    let ca = Deployment {
        ca_configured: Some(true),
        secrets: None,
    };
    assert_eq!(lines(&ca), Vec::<String>::new());
}

#[test]
fn a_bump_rule_needs_the_ca_and_a_secret_a_source() {
    let deployment = Deployment {
        ca_configured: Some(false),
        secrets: names(&["anthropic-api-key", "github-token"]),
    };
    assert_eq!(
        lines(&deployment),
        [
            "p.yaml:9:13: `spec.destinations[1].rung`: a `bump` rule needs the deployment CA, and the edge config configures none; set `ca_dir` or `ca_secret` in its `[bump]` table, or carry this host `pass-through`",
            "p.yaml:12:13: `spec.destinations[1].inject[0].secret`: `anthropic-api-kye` is defined by no SDS source (known: anthropic-api-key, github-token); did you mean `anthropic-api-key`?",
        ]
    );
}

#[test]
fn the_known_names_are_listed_up_to_ten() {
    let none = Deployment {
        ca_configured: None,
        secrets: names(&[]),
    };
    assert_eq!(
        lines(&none),
        [
            "p.yaml:12:13: `spec.destinations[1].inject[0].secret`: `anthropic-api-kye` is defined by no SDS source (the SDS sources define no secrets at all)",
            "p.yaml:13:13: `spec.destinations[1].inject[1].secret`: `github-token` is defined by no SDS source (the SDS sources define no secrets at all)",
        ]
    );
    let many: Vec<String> = (0..12).map(|i| format!("s{i:02}")).collect();
    let many = Deployment {
        ca_configured: None,
        secrets: Some(many.into_iter().collect()),
    };
    assert_eq!(
        lines(&many)[1],
        "p.yaml:13:13: `spec.destinations[1].inject[1].secret`: `github-token` is defined by no SDS source (known: s00, s01, s02, s03, s04, s05, s06, s07, s08, s09 and 2 more)"
    );
}
