//! `trust-edge ca …` end to end: init, export, env and rotate against a temporary directory,
//! comparing the binary's exact output, exit codes and files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_trust-edge");

/// Runs `trust-edge ca ARGS` in `cwd`.
fn ca(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(cwd)
        .args(["--log", "warn", "ca"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn certificates(pem: &str) -> usize {
    pem.matches("-----BEGIN CERTIFICATE-----").count()
}

#[test]
fn init_creates_once_and_export_prints_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let d = dir.to_str().unwrap();

    let first = ca(tmp.path(), &["init", "--dir", d]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let lines: Vec<String> = stdout(&first).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with(&format!("CA created in {d} (expires ")));
    assert_eq!(lines[1], format!("bundle {d}/bundle.pem"));
    assert_eq!(stderr(&first), "");
    let mode = std::fs::metadata(dir.join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let again = ca(tmp.path(), &["init", "--dir", d]);
    assert!(stdout(&again).starts_with(&format!("CA exists in {d} (expires ")));

    let export = ca(tmp.path(), &["export", "--dir", d]);
    assert_eq!(export.status.code(), Some(0));
    assert_eq!(stdout(&export), read(&dir.join("bundle.pem")));
    assert_eq!(stdout(&export), read(&dir.join("ca.pem")));
    assert_eq!(certificates(&stdout(&export)), 1);
    assert_eq!(stderr(&export), "");
    assert!(!stdout(&export).contains("PRIVATE"));
}

#[test]
fn export_warns_on_stderr_when_the_ca_expires_soon() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("ca");
    let d = d.to_str().unwrap();
    let init = ca(tmp.path(), &["init", "--dir", d, "--validity", "10d"]);
    assert!(stderr(&init).starts_with("warning: the CA expires at "));
    let export = ca(tmp.path(), &["export", "--dir", d]);
    assert_eq!(export.status.code(), Some(0));
    assert_eq!(certificates(&stdout(&export)), 1);
    let warning = stderr(&export);
    assert!(
        warning.starts_with("warning: the CA expires at "),
        "{warning}"
    );
    assert!(
        warning.ends_with("; run `trust-edge ca rotate`\n"),
        "{warning}"
    );
}

#[test]
fn env_prints_the_variables_sandbox_clients_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let d = dir.to_str().unwrap();
    ca(tmp.path(), &["init", "--dir", d]);
    let bundle = dir.join("bundle.pem");
    let b = bundle.to_str().unwrap();
    let expected = format!(
        "SSL_CERT_FILE={b}\nREQUESTS_CA_BUNDLE={b}\nNODE_EXTRA_CA_CERTS={b}\n\
         CURL_CA_BUNDLE={b}\nGIT_SSL_CAINFO={b}\nPIP_CERT={b}\n"
    );
    let out = ca(tmp.path(), &["env", "--dir", d]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), expected);
    // A relative --dir still prints an absolute path.
    let relative = ca(tmp.path(), &["env", "--dir", "ca"]);
    assert_eq!(stdout(&relative), expected);

    let inside = ca(tmp.path(), &["env", "--path", "/etc/trust-edge/ca.pem"]);
    assert_eq!(
        stdout(&inside),
        "SSL_CERT_FILE=/etc/trust-edge/ca.pem\nREQUESTS_CA_BUNDLE=/etc/trust-edge/ca.pem\n\
         NODE_EXTRA_CA_CERTS=/etc/trust-edge/ca.pem\nCURL_CA_BUNDLE=/etc/trust-edge/ca.pem\n\
         GIT_SSL_CAINFO=/etc/trust-edge/ca.pem\nPIP_CERT=/etc/trust-edge/ca.pem\n"
    );
    // An empty path is a usage error.
    assert_eq!(
        ca(tmp.path(), &["env", "--path", ""]).status.code(),
        Some(2)
    );
    for unsafe_path in ["/tmp/a b.pem", "/tmp/$(id).pem", "/tmp/a\nX=1", "/tmp/'x'"] {
        let out = ca(tmp.path(), &["env", "--path", unsafe_path]);
        assert_eq!(out.status.code(), Some(1), "{unsafe_path:?}");
        assert_eq!(stdout(&out), "", "{unsafe_path:?}");
        assert!(stderr(&out).contains("needs quoting"), "{}", stderr(&out));
    }
}

#[test]
fn rotate_keeps_the_old_certificate_in_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let d = dir.to_str().unwrap();
    ca(tmp.path(), &["init", "--dir", d]);
    let old = read(&dir.join("ca.pem"));
    let out = ca(tmp.path(), &["rotate", "--dir", d, "--overlap", "2h"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with(&format!("CA rotated in {d} (expires ")));
    assert_eq!(
        lines[1],
        format!("the previous certificate stays in {d}/bundle.pem for 2h")
    );
    let new = read(&dir.join("ca.pem"));
    assert_ne!(new, old);
    let export = ca(tmp.path(), &["export", "--dir", d]);
    assert_eq!(stdout(&export), format!("{new}{old}"));
    let mode = std::fs::metadata(dir.join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Zero overlap: the old certificate leaves the bundle at once.
    let again = ca(tmp.path(), &["rotate", "--dir", d, "--overlap", "0s"]);
    assert_eq!(again.status.code(), Some(0));
    let newest = read(&dir.join("ca.pem"));
    assert_eq!(
        stdout(&ca(tmp.path(), &["export", "--dir", d])),
        format!("{newest}{old}")
    );
}

#[test]
fn commands_without_a_ca_fail_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("nothing");
    let key = d.join("ca.key");
    for args in [&["export"][..], &["env"], &["rotate"]] {
        let mut full = args.to_vec();
        full.extend(["--dir", d.to_str().unwrap()]);
        let out = ca(tmp.path(), &full);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stdout(&out), "");
        assert_eq!(
            stderr(&out),
            format!(
                "trust-edge: {} does not exist: no CA here (run `trust-edge ca init`)\n",
                key.display()
            )
        );
    }
    assert!(!d.exists());
    std::fs::create_dir(&d).unwrap();
    std::fs::write(&key, "not a key").unwrap();
    std::fs::write(d.join("ca.pem"), "not a cert").unwrap();
    let out = ca(tmp.path(), &["export", "--dir", d.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!(
            "trust-edge: {} is not usable",
            d.join("ca.pem").display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_default_directory_is_ca_in_the_default_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ca(tmp.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("CA created in .trust-edge/ca (expires "));
    assert!(tmp.path().join(".trust-edge/ca/ca.key").is_file());
    let env = ca(tmp.path(), &["env"]);
    let expected_path = tmp
        .path()
        .canonicalize()
        .unwrap()
        .join(".trust-edge/ca/bundle.pem");
    assert_eq!(
        stdout(&env).lines().next().unwrap(),
        format!("SSL_CERT_FILE={}", expected_path.display())
    );
}
