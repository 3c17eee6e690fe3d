use super::Config;
use std::time::Duration;

#[test]
fn an_empty_file_takes_every_default() {
    let c = Config::from_toml("[resolver]\nuse_system_config = true\n").unwrap();
    assert_eq!(c.proxy_listen.to_string(), crate::defaults::PROXY_LISTEN);
    assert_eq!(c.admin_listen.to_string(), crate::defaults::ADMIN_LISTEN);
    assert_eq!(c.header_read_timeout, crate::defaults::HEADER_READ_TIMEOUT);
    assert_eq!(c.issuer, "trust-edge");
}

#[test]
fn reports_every_bad_value_at_once() {
    let text = "[proxy]\nlisten = \"nope\"\nheader_read_timeout = \"soon\"\n[tokens]\nalgorithms = [\"HS256\"]\n[deny_set]\nadditions = [\"10.0.0.0/33\"]\n[resolver]\nnameservers = [\"x\"]\n";
    let issues = Config::from_toml(text).unwrap_err();
    let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "deny_set.additions",
            "proxy.header_read_timeout",
            "proxy.listen",
            "resolver.nameservers",
            "tokens.algorithms",
            "tokens.algorithms"
        ]
    );
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let issues =
        Config::from_toml("[proxy]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap_err();
    assert_eq!(issues.len(), 1);
    assert_eq!((issues[0].line, issues[0].column), (Some(3), Some(1)));
    assert!(issues[0].to_string().starts_with("3:1: "), "{}", issues[0]);
    assert!(
        issues[0].message.contains("unknown field `listen_port`"),
        "{}",
        issues[0].message
    );
}

#[test]
fn zero_durations_are_refused() {
    let issues = Config::from_toml(
        "[proxy]\nconnect_timeout = \"0s\"\n[resolver]\nuse_system_config = true\n",
    )
    .unwrap_err();
    assert_eq!(issues[0].path, "proxy.connect_timeout");
    let ok = Config::from_toml(
        "[proxy]\nconnect_timeout = \"2s\"\n[resolver]\nuse_system_config = true\n",
    )
    .unwrap();
    assert_eq!(ok.connect_timeout, Duration::from_secs(2));
    let issues = Config::from_toml(
        "[proxy]\nupstream_timeout = \"0s\"\n[resolver]\nuse_system_config = true\n",
    )
    .unwrap_err();
    assert_eq!(issues[0].path, "proxy.upstream_timeout");
    assert_eq!(
        Config::from_toml("[resolver]\nuse_system_config = true\n")
            .unwrap()
            .upstream_timeout,
        Duration::from_secs(300),
        "never unlimited by default"
    );
}

#[test]
fn a_resolver_that_could_resolve_nothing_is_refused() {
    let issues = Config::from_toml("[resolver]\nuse_system_config = false\n").unwrap_err();
    assert_eq!(issues[0].path, "resolver");
}

#[test]
fn the_documented_example_is_exactly_the_defaults() {
    let doc = include_str!("../../../docs/config.md");
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block");
    let documented = Config::from_toml(example).expect("the documented config is valid");
    let defaults = Config::from_toml("").expect("an empty config is valid");
    assert_eq!(
        format!("{documented:?}"),
        format!("{defaults:?}"),
        "docs/config.md drifted from the defaults"
    );
}

#[test]
fn bump_and_secrets_validate_together() {
    let ok = Config::from_toml(
        "[bump]\nca_dir = \"/x/ca\"\nleaf_validity = \"12h\"\ntls12 = false\n[secrets]\nsds = \"unix:/x/sds.sock\"\n",
    )
    .unwrap();
    let bump = ok.bump.unwrap();
    assert_eq!(bump.ca, super::CaSource::Dir("/x/ca".into()));
    assert_eq!(bump.leaf_validity, Duration::from_secs(12 * 3600));
    assert!(!bump.tls12);
    assert_eq!(
        ok.secrets.unwrap().sds_socket,
        std::path::PathBuf::from("/x/sds.sock")
    );

    let none = Config::from_toml("").unwrap();
    assert!(none.bump.is_none() && none.secrets.is_none());

    let text = "[bump]\nca_dir = \"/a\"\nca_secret = \"b\"\nleaf_validity = \"30d\"\nleaf_cache_size = 0\n[secrets]\nsds = \"tcp://1.2.3.4:9\"\n";
    let issues = Config::from_toml(text).unwrap_err();
    let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "bump",
            "bump.leaf_cache_size",
            "bump.leaf_validity",
            "secrets.sds"
        ]
    );

    let issues = Config::from_toml("[bump]\nca_secret = \"ca\"\n").unwrap_err();
    assert_eq!(issues[0].path, "bump.ca_secret");
    assert!(issues[0].message.contains("[secrets]"), "{}", issues[0]);

    let issues = Config::from_toml("[bump]\ntls12 = true\n").unwrap_err();
    assert!(issues[0].message.contains("without a CA"), "{}", issues[0]);
}
