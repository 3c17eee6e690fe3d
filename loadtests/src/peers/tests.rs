use super::*;

fn values() -> Vec<(&'static str, String)> {
    vec![
        ("LISTEN_PORT", "3128".into()),
        ("UPSTREAM_PORT", "8080".into()),
        ("RUN_DIR", "/run/x".into()),
        ("ADMIN_PORT", "9901".into()),
    ]
}

#[test]
fn every_template_renders_without_placeholders() {
    for template in [ENVOY_TEMPLATE, SQUID_TEMPLATE, TINYPROXY_TEMPLATE] {
        let out = render(template, &values()).unwrap();
        assert!(!out.contains("{{"), "{out}");
    }
}

#[test]
fn templates_put_the_ports_where_the_peers_read_them() {
    let envoy = render(ENVOY_TEMPLATE, &values()).unwrap();
    assert!(envoy.contains("port_value: 3128"));
    assert!(envoy.contains("port_value: 9901"));
    assert!(envoy.contains("allow_absolute_url: true"));
    let squid = render(SQUID_TEMPLATE, &values()).unwrap();
    assert!(squid.contains("http_port 127.0.0.1:3128\n"));
    assert!(squid.contains("acl test_ports port 8080\n"));
    assert!(squid.contains("pid_filename /run/x/squid.pid\n"));
    let tinyproxy = render(TINYPROXY_TEMPLATE, &values()).unwrap();
    assert!(tinyproxy.contains("Port 3128\n"));
    assert!(tinyproxy.contains("ConnectPort 8080\n"));
}

#[test]
fn a_missing_value_is_an_error() {
    let err = render("listen {{LISTEN_PORT}} {{OTHER}}", &values()).unwrap_err();
    assert!(err.to_string().contains("unreplaced placeholder"), "{err}");
}

fn executable(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&path, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn envoy_is_found_in_venv_then_env_then_path() {
    let root = tempfile::tempdir().unwrap();
    let on_path = executable(&root.path().join("bin"), "envoy");
    let from_env = executable(&root.path().join("env"), "envoy");
    let mut locations = Locations {
        workspace: root.path().join("ws"),
        envoy_bin: None,
        path: Some(root.path().join("bin").into_os_string()),
        extra_dirs: Vec::new(),
    };
    assert_eq!(locations.peer(Peer::Envoy), Some(on_path));
    locations.envoy_bin = Some(from_env.clone());
    assert_eq!(locations.peer(Peer::Envoy), Some(from_env));
    let venv = executable(&root.path().join("ws/.venv/bin"), "envoy");
    assert_eq!(locations.peer(Peer::Envoy), Some(venv));
}

#[test]
fn programs_are_found_in_extra_dirs_and_non_executables_are_ignored() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("squid"), "not executable").unwrap();
    let sbin = executable(&root.path().join("sbin"), "squid");
    let mut locations = Locations {
        workspace: root.path().into(),
        envoy_bin: None,
        path: Some(root.path().as_os_str().to_owned()),
        extra_dirs: Vec::new(),
    };
    assert_eq!(locations.peer(Peer::Squid), None);
    assert_eq!(locations.peer(Peer::Tinyproxy), None);
    locations.extra_dirs.push(root.path().join("sbin"));
    assert_eq!(locations.peer(Peer::Squid), Some(sbin));
}
