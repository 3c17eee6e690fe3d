//! A real SDS server in-process (Unix socket, file source) holding generic secrets that tests
//! write and rotate the way operators do: a file per value plus the manifest, replaced atomically.

use sds_server::config::FilesConfig;
use sds_server::{Config, SdsHandle};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use trust_core::audit::AuditWriter;

/// A running SDS server.
pub struct SecretServer {
    handle: Option<SdsHandle>,
    dir: TempDir,
    names: Vec<(String, Kind)>,
    _writer: AuditWriter,
}

/// How a secret is written into the file source.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One value file.
    Generic,
    /// A PEM chain file and a PEM key file.
    Tls,
}

impl SecretServer {
    /// Starts a server whose file source holds `secrets` (name, value).
    pub async fn start(secrets: &[(&str, &str)]) -> SecretServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.admin_listen = "127.0.0.1:0".parse().unwrap();
        let files_dir = dir.path().join("secrets");
        std::fs::create_dir_all(&files_dir).unwrap();
        let mut files = FilesConfig::new(&files_dir);
        files.debounce = Duration::from_millis(30);
        files.rescan_interval = Duration::from_millis(200);
        config.files = Some(files);
        let (audit, writer) = trust_core::audit::start(trust_core::audit::AuditConfig::new(
            dir.path().join("audit"),
        ))
        .unwrap();
        for (name, value) in secrets {
            write_atomic(&files_dir, &format!("{name}.value"), value);
        }
        let names: Vec<(String, Kind)> = secrets
            .iter()
            .map(|(n, _)| ((*n).to_owned(), Kind::Generic))
            .collect();
        write_manifest(&files_dir, &names);
        let handle = sds_server::run(config, audit).await.unwrap();
        SecretServer {
            handle: Some(handle),
            dir,
            names,
            _writer: writer,
        }
    }

    /// The server's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.handle
            .as_ref()
            .unwrap()
            .socket_path()
            .unwrap()
            .to_owned()
    }

    /// Replaces the value of `name` (adding it to the manifest if new).
    pub fn set(&mut self, name: &str, value: &str) {
        let dir = self.dir.path().join("secrets");
        write_atomic(&dir, &format!("{name}.value"), value);
        self.register(name, Kind::Generic);
    }

    /// Replaces the `tls_certificate` `name` (adding it to the manifest if new).
    pub fn set_tls(&mut self, name: &str, chain_pem: &str, key_pem: &str) {
        let dir = self.dir.path().join("secrets");
        write_atomic(&dir, &format!("{name}.crt"), chain_pem);
        write_atomic(&dir, &format!("{name}.key"), key_pem);
        self.register(name, Kind::Tls);
    }

    fn register(&mut self, name: &str, kind: Kind) {
        if !self.names.iter().any(|(n, _)| n == name) {
            self.names.push((name.to_owned(), kind));
            write_manifest(&self.dir.path().join("secrets"), &self.names);
        }
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.stop().await;
        }
    }
}

fn write_manifest(dir: &Path, names: &[(String, Kind)]) {
    let mut yaml = String::from("secrets:\n");
    for (n, kind) in names {
        yaml.push_str(&match kind {
            Kind::Generic => {
                format!("  - name: {n}\n    kind: generic_secret\n    file: {n}.value\n")
            }
            Kind::Tls => format!(
                "  - name: {n}\n    kind: tls_certificate\n    certificate: {n}.crt\n    private_key: {n}.key\n"
            ),
        });
    }
    write_atomic(dir, "manifest.yaml", &yaml);
}

fn write_atomic(dir: &Path, file: &str, contents: &str) {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(tmp, dir.join(file)).unwrap();
}
