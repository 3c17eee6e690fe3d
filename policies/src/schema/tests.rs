use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{policy_schema, tests_schema};
use crate::{compile, rule, suite};

/// Every `properties` map in `schema`, by the path of keys leading to it.
fn objects<'s>(
    schema: &'s Value,
    path: &str,
    out: &mut Vec<(String, &'s serde_json::Map<String, Value>)>,
) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                out.push((path.to_owned(), props));
                for (key, value) in props {
                    objects(value, &format!("{path}.{key}"), out);
                }
            }
            if let Some(items) = map.get("items") {
                objects(items, &format!("{path}[]"), out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| objects(i, path, out)),
        _ => {}
    }
}

fn keys(props: &serde_json::Map<String, Value>) -> BTreeSet<&str> {
    props.keys().map(String::as_str).collect()
}

fn set<'a>(list: &[&'a str]) -> BTreeSet<&'a str> {
    list.iter().copied().collect()
}

#[test]
fn the_schema_knows_exactly_the_keys_the_loader_knows() {
    let schema = policy_schema();
    let mut found = Vec::new();
    objects(&schema, "", &mut found);
    let by_path: Vec<(&str, BTreeSet<&str>)> = found
        .iter()
        .map(|(p, props)| (p.as_str(), keys(props)))
        .collect();
    assert_eq!(
        by_path,
        [
            ("", set(compile::TOP_KEYS)),
            (".metadata", set(compile::METADATA_KEYS)),
            (".spec", set(compile::SPEC_KEYS)),
            (".spec.destinations[]", set(rule::KEYS)),
            (".spec.destinations[].http", set(rule::HTTP_KEYS)),
            (".spec.destinations[].inject[]", set(rule::INJECT_KEYS)),
            (".spec.limits", set(compile::LIMIT_KEYS)),
            (".spec.tripwire", set(compile::TRIPWIRE_KEYS)),
        ]
    );
    let tests = tests_schema();
    let mut found = Vec::new();
    objects(&tests, "", &mut found);
    let by_path: Vec<(&str, BTreeSet<&str>)> = found
        .iter()
        .map(|(p, props)| (p.as_str(), keys(props)))
        .collect();
    assert_eq!(
        by_path,
        [
            ("", set(suite::TOP_KEYS)),
            (".cases[]", set(suite::CASE_KEYS)),
            (".cases[].expect", set(suite::EXPECT_KEYS)),
        ]
    );
}

#[test]
fn every_key_has_a_description() {
    for schema in [policy_schema(), tests_schema()] {
        let mut found = Vec::new();
        objects(&schema, "", &mut found);
        for (path, props) in found {
            for (key, value) in props {
                let text = value
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                assert!(text.len() > 10, "{path}.{key} has no description");
            }
        }
        assert!(schema["title"].as_str().unwrap().starts_with("trust-edge "));
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    }
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .collect()
}

fn shipped_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["default", "examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    files
}

#[test]
fn the_shipped_files_validate_against_the_schemas() {
    let policy = jsonschema::validator_for(&policy_schema()).unwrap();
    let tests = jsonschema::validator_for(&tests_schema()).unwrap();
    let (mut policies, mut test_files) = (0, 0);
    for file in shipped_files() {
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        let validator = if crate::is_test_file_name(&name) {
            test_files += 1;
            &tests
        } else if crate::is_policy_file_name(&name) {
            policies += 1;
            &policy
        } else {
            continue;
        };
        for doc in documents(&file) {
            let errors: Vec<String> = validator
                .iter_errors(&doc)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }
    assert!(policies >= 3 && test_files >= 2, "{policies} {test_files}");
}

#[test]
fn the_schema_refuses_what_the_loader_refuses() {
    let policy = jsonschema::validator_for(&policy_schema()).unwrap();
    let base = "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: t}\nspec:\n  destinations:\n";
    let good = format!("{base}    - {{host: pypi.org, rung: pass-through, ports: [443]}}\n");
    let doc = |text: &str| {
        Value::deserialize(serde_yaml::Deserializer::from_str(text).next().unwrap()).unwrap()
    };
    assert!(policy.is_valid(&doc(&good)));
    let bump = good.replace(
        "rung: pass-through, ports: [443]}",
        "rung: bump, ports: [443], http: {methods: [GET, POST], paths: [/v1/]}, inject: [{secret: anthropic-api-key, header: x-api-key}, {secret: t, header: authorization, format: \"Bearer {secret}\"}]}",
    );
    assert!(policy.is_valid(&doc(&bump)), "{bump}");
    for bad in [
        good.replace("ports: [443]", "port: [443]"),
        good.replace("443", "70000"),
        good.replace("443", "0"),
        good.replace("pass-through", "tunnel"),
        good.replace("ports: [443]}", "ports: [443], http: {methods: [get]}}"),
        good.replace("ports: [443]}", "ports: [443], http: {paths: [v1/]}}"),
        good.replace("ports: [443]}", "ports: [443], http: {methods: []}}"),
        good.replace(
            "ports: [443]}",
            "ports: [443], inject: [{secret: k, header: x-api-key, format: Bearer}]}",
        ),
        good.replace("ports: [443]}", "ports: [443], inject: [{secret: k}]}"),
        good.replace(
            "ports: [443]}",
            "ports: [443], inject: [{secret: \"a b\", header: x-api-key}]}",
        ),
        good.replace(
            "ports: [443]}",
            "ports: [443], inject: [{secret: k, header: x-api-key, value: v}]}",
        ),
        good.replace("pypi.org", "PyPI.org"),
        good.replace("pypi.org", "\"*.com\""),
        good.replace("pypi.org", "\"a.*.example.com\""),
        good.replace("name: t", "name: T_1"),
        good.replace("trust-edge/v1", "trust-edge/v2"),
        good.replace("spec:", "spec:\n  limits: {burst: 0}"),
        good.replace("spec:", "spec:\n  limits: {tunnel_idle_timeout: 5 minutes}"),
        good.replace("spec:", "spec:\n  tripwire: {upload_bytes: lots}"),
        good.replace("spec:", "spec:\n  mode: enforced"),
    ] {
        assert!(!policy.is_valid(&doc(&bad)), "{bad}");
    }
}

#[test]
fn the_shipped_schema_files_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    for (schema, file, flag) in [
        (policy_schema(), "egress-profile.schema.json", ""),
        (tests_schema(), "policy-tests.schema.json", " --tests"),
    ] {
        let shipped = std::fs::read_to_string(dir.join(file)).unwrap();
        let current = format!("{}\n", serde_json::to_string_pretty(&schema).unwrap());
        assert!(
            shipped == current,
            "policies/schema/{file} is stale: regenerate it with `trust-edge policy schema{flag} > policies/schema/{file}`"
        );
    }
}

#[test]
fn docs_policies_md_documents_every_key() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/policies.md");
    let text = std::fs::read_to_string(docs).unwrap();
    for schema in [policy_schema(), tests_schema()] {
        let mut found = Vec::new();
        objects(&schema, "", &mut found);
        for (path, props) in found {
            for key in props.keys() {
                assert!(
                    [format!("`{key}`"), format!("`{key}."), format!(".{key}`")]
                        .iter()
                        .any(|written| text.contains(written)),
                    "docs/policies.md does not document `{key}` ({path})"
                );
            }
        }
    }
}
