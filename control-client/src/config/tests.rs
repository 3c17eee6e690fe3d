use super::*;

fn tls() -> TlsSettings {
    TlsSettings::from_pem("ca".into(), "cert".into(), "key".into())
}

#[test]
fn parses_https_host_port() {
    let endpoint = Endpoint::parse("https://127.0.0.1:7071", Some(tls())).unwrap();
    let Endpoint::Tls { address, tls } = endpoint else {
        panic!("expected tls")
    };
    assert_eq!(address, "127.0.0.1:7071");
    assert_eq!(tls.server_name, "trust-edge-control");
    let endpoint = Endpoint::parse("https://control.internal:443/", Some(self::tls())).unwrap();
    assert!(matches!(endpoint, Endpoint::Tls { address, .. } if address == "control.internal:443"));
}

#[test]
fn parses_unix_paths_in_both_forms() {
    for url in ["unix:/run/te/sync.sock", "unix:///run/te/sync.sock"] {
        let Endpoint::Unix(path) = Endpoint::parse(url, None).unwrap() else {
            panic!("expected unix")
        };
        assert_eq!(path, PathBuf::from("/run/te/sync.sock"));
    }
}

#[test]
fn refuses_other_forms() {
    let cases = [
        (
            "http://127.0.0.1:7071",
            "expected https://host:port or unix:/path",
        ),
        ("https://127.0.0.1", "missing port"),
        ("https://127.0.0.1:notaport", "expected https://host:port"),
        ("https://:7071", "expected https://host:port"),
        ("https://h:1/path", "expected https://host:port"),
        ("unix:relative.sock", "a unix socket path must be absolute"),
    ];
    for (url, expected) in cases {
        match Endpoint::parse(url, Some(tls())) {
            Err(SyncError::InvalidUrl { reason, .. }) => assert_eq!(reason, expected, "{url}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    match Endpoint::parse("https://h:1", None) {
        Err(SyncError::InvalidUrl { reason, .. }) => {
            assert_eq!(reason, "https needs the control CA and an edge certificate")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn debug_never_prints_the_key() {
    let settings = TlsSettings::from_pem("ca".into(), "cert".into(), "SECRET-KEY".into());
    let text = format!("{settings:?}");
    assert!(!text.contains("SECRET-KEY"), "{text}");
    assert!(text.contains("***"));
}

#[test]
fn from_dir_reads_the_three_files() {
    let dir = std::env::temp_dir().join(format!("cc-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in TlsSettings::FILE_NAMES.iter().zip(["A", "B", "C"]) {
        std::fs::write(dir.join(name), body).unwrap();
    }
    let settings = TlsSettings::from_dir(&dir).unwrap();
    assert_eq!(
        (
            settings.ca_pem.as_str(),
            settings.cert_pem.as_str(),
            settings.key_pem.as_str()
        ),
        ("A", "B", "C")
    );
    std::fs::remove_file(dir.join("edge.key")).unwrap();
    assert!(
        matches!(TlsSettings::from_dir(&dir), Err(SyncError::Io { path, .. }) if path.ends_with("edge.key"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
