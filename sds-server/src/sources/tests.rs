use super::manifest::{Files, Manifest};
use super::*;
use std::path::{Path, PathBuf};

fn map(json: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(json).unwrap()
}

#[test]
fn fields_build_each_kind() {
    let m = map(
        r#"{"value":"k1","api_key":"k2","certificate":"c","private_key":"p","trusted_ca":"ca"}"#,
    );
    let g = from_fields(SecretKind::GenericSecret, None, "value", &m).unwrap();
    assert_eq!(g.generic(), Some(&b"k1"[..]));
    let g = from_fields(SecretKind::GenericSecret, Some("api_key"), "value", &m).unwrap();
    assert_eq!(g.generic(), Some(&b"k2"[..]));
    let t = from_fields(SecretKind::TlsCertificate, None, "value", &m).unwrap();
    assert_eq!(t.tls_certificate(), Some((&b"c"[..], &b"p"[..])));
    let v = from_fields(SecretKind::ValidationContext, None, "value", &m).unwrap();
    assert_eq!(v.trusted_ca(), Some(&b"ca"[..]));
}

#[test]
fn missing_or_non_string_fields_are_content_errors() {
    let m = map(r#"{"value": 3}"#);
    assert_eq!(
        from_fields(SecretKind::GenericSecret, None, "value", &m),
        Err(ContentError::Format("a string field"))
    );
    assert_eq!(
        from_fields(SecretKind::TlsCertificate, None, "value", &m),
        Err(ContentError::MissingField("certificate".to_owned()))
    );
}

#[test]
fn the_manifest_names_kinds_and_files() {
    let text = r#"
secrets:
  - name: cert
    kind: tls_certificate
    certificate: tls.crt
    private_key: /abs/tls.key
    max_age: 2h
  - name: key
    kind: generic_secret
    file: key.txt
    trim: false
  - name: ca
    kind: validation_context
    trusted_ca: ca.pem
"#;
    let m = Manifest::parse(text, Path::new("/d")).unwrap();
    assert_eq!(m.secrets.len(), 3);
    assert_eq!(m.secrets[0].max_age, Some(Duration::from_secs(7200)));
    assert_eq!(
        m.secrets[0].files,
        Files::Tls {
            certificate: PathBuf::from("/d/tls.crt"),
            private_key: PathBuf::from("/abs/tls.key"),
        }
    );
    assert_eq!(
        m.secrets[1].files,
        Files::Generic {
            file: PathBuf::from("/d/key.txt"),
            trim: false,
        }
    );
    assert_eq!(m.paths().len(), 4);
}

#[test]
fn manifest_problems_are_all_reported() {
    let text = r#"
secrets:
  - name: a
    kind: generic_secret
    certificate: x
  - name: a
    kind: generic_secret
    file: y
  - name: a
    kind: validation_context
    trusted_ca: z
"#;
    assert_eq!(
        Manifest::parse(text, Path::new("/d")).unwrap_err(),
        "secrets[0]: a generic_secret needs `file` and nothing else; secrets[1].name: duplicate \"a\"; secrets[2].name: duplicate \"a\""
    );
    let err = Manifest::parse(
        "secrets: [ {name: x, kind: nope, file: f} ]",
        Path::new("/d"),
    )
    .unwrap_err();
    assert!(err.starts_with("1:"), "{err}");
}

#[test]
fn generic_files_lose_their_trailing_newline_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), "sk-1\r\n").unwrap();
    let text = "secrets:\n  - {name: k, kind: generic_secret, file: k}\n";
    let m = Manifest::parse(text, dir.path()).unwrap();
    assert_eq!(m.secrets[0].read().unwrap().generic(), Some(&b"sk-1"[..]));
    let missing = Manifest::parse(
        "secrets:\n  - {name: k, kind: generic_secret, file: gone}\n",
        dir.path(),
    )
    .unwrap();
    assert!(matches!(
        missing.secrets[0].read(),
        Err(SourceError::Read { .. })
    ));
}
