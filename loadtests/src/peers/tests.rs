use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    for template in [
        ENVOY_TEMPLATE,
        SQUID_TEMPLATE,
        TINYPROXY_TEMPLATE,
        NGINX_PROXY_TEMPLATE,
    ] {
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
    let nginx = render(NGINX_PROXY_TEMPLATE, &values()).unwrap();
    assert!(nginx.contains("listen 127.0.0.1:3128;\n"));
    assert!(nginx.contains("server 127.0.0.1:8080;\n"));
    assert!(nginx.contains("pid /run/x/nginx.pid;\n"));
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

#[test]
fn nginx_proxy_forwards_an_absolute_form_request_over_a_pooled_upstream() {
    let locations = Locations {
        path: std::env::var_os("PATH"),
        extra_dirs: SBIN_DIRS.iter().map(PathBuf::from).collect(),
        ..Locations::default()
    };
    let bin = locations
        .peer(Peer::NginxProxy)
        .expect("nginx is installed by the test command (scripts/test.sh)");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let upstream = crate::upstream::ServerThread::start("upstream", move |stream| {
        counter.fetch_add(1, Ordering::SeqCst);
        crate::upstream::answer_requests(stream, false, |_| {
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nxxxxx"[..]
        })
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = crate::process::free_port().unwrap();
    let mut proxy = start(
        Peer::NginxProxy,
        &bin,
        &dir.path().join("nginx-proxy"),
        port,
        upstream.addr().port(),
        Pin::None,
    )
    .unwrap();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!(
        "GET http://127.0.0.1:{}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        upstream.addr().port()
    );
    let mut answers = Vec::new();
    for _ in 0..3 {
        std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = 0;
        while !buf[..got].ends_with(b"xxxxx") {
            let n = std::io::Read::read(&mut stream, &mut buf[got..]).unwrap();
            assert!(n > 0, "nginx closed the connection");
            got += n;
        }
        answers.push(String::from_utf8_lossy(&buf[..got]).into_owned());
    }
    proxy.stop();
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "three requests, one pooled upstream connection"
    );
}
