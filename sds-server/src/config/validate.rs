//! [`validate`]: the file model to a [`Config`], every issue collected, sorted by path.

use super::file::{AwsSection, FileConfig, GrantSection, SecretSection, TcpSection, VaultSection};
use super::{
    AwsConfig, AwsCredentials, Config, ConfigIssue, FilesConfig, MintedLeavesConfig, RemoteSource,
    SecretSpec, TcpConfig, TlsConfig, VaultAuth, VaultConfig,
};
use crate::access::{Grant, Pattern, PeerMatch};
use crate::defaults;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        });
    }

    fn duration(&mut self, path: &str, text: Option<&str>, default: Duration) -> Duration {
        match text {
            None => default,
            Some(t) => match humantime::parse_duration(t) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    self.add(path, "must be greater than 0");
                    default
                }
                Err(e) => {
                    self.add(path, format!("invalid duration {t:?}: {e}"));
                    default
                }
            },
        }
    }

    fn addr(&mut self, path: &str, text: &str) -> Option<SocketAddr> {
        text.parse()
            .map_err(|_| self.add(path, format!("invalid socket address {text:?}")))
            .ok()
    }
}

fn under(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Turns the file model into a [`Config`], collecting every issue.
///
/// # Errors
/// Every invalid value, sorted by key path.
pub fn validate(file: FileConfig) -> Result<Config, Vec<ConfigIssue>> {
    let mut issues = Issues(Vec::new());
    let data_dir = file
        .data_dir
        .unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR));
    let mut config = Config::new(&data_dir);
    if let Some(a) = file
        .admin_listen
        .as_deref()
        .and_then(|a| issues.addr("admin_listen", a))
    {
        config.admin_listen = a;
    }
    if let Some(n) = file.max_streams_per_connection {
        if n == 0 {
            issues.add("max_streams_per_connection", "must be greater than 0");
        }
        config.max_streams_per_connection = n;
    }
    config.unix_socket = match file.unix.enabled {
        Some(false) => None,
        _ => Some(under(
            &data_dir,
            file.unix
                .path
                .as_deref()
                .unwrap_or(Path::new(defaults::UNIX_SOCKET)),
        )),
    };
    if let Some(tcp) = file.tcp {
        config.tcp = tcp_config(&mut issues, &data_dir, tcp);
    }
    if config.unix_socket.is_none() && config.tcp.is_none() {
        issues.add(
            "unix.enabled",
            "with the unix socket disabled a [tcp] listener is required",
        );
    }
    if let Some(files) = file.files {
        let manifest = files
            .manifest
            .unwrap_or_else(|| PathBuf::from(defaults::MANIFEST));
        config.files = Some(FilesConfig {
            manifest: under(&files.dir, &manifest),
            debounce: issues.duration(
                "files.debounce",
                files.debounce.as_deref(),
                defaults::DEBOUNCE,
            ),
            rescan_interval: issues.duration(
                "files.rescan_interval",
                files.rescan_interval.as_deref(),
                defaults::RESCAN_INTERVAL,
            ),
            dir: files.dir,
        });
    }
    if let Some(minted) = file.minted_leaves {
        let mut leaves = MintedLeavesConfig::new(minted.ca_dir, minted.hosts);
        if let Some(prefix) = minted.prefix {
            leaves.prefix = prefix;
        }
        leaves.leaf_validity = issues.duration(
            "minted_leaves.leaf_validity",
            minted.leaf_validity.as_deref(),
            leaves.leaf_validity,
        );
        leaves.check_interval = issues.duration(
            "minted_leaves.check_interval",
            minted.check_interval.as_deref(),
            leaves.check_interval,
        );
        if leaves.hosts.is_empty() {
            issues.add("minted_leaves.hosts", "name at least one host");
        }
        config.minted_leaves = Some(leaves);
    }
    if let Some(vault) = file.vault {
        config.vault = vault_config(&mut issues, vault);
    }
    if let Some(aws) = file.aws {
        config.aws = aws_config(&mut issues, aws);
    }
    config.grants = file
        .grants
        .into_iter()
        .enumerate()
        .filter_map(|(i, g)| grant(&mut issues, i, g))
        .collect();
    let mut seen = HashSet::new();
    for (i, s) in file.secrets.into_iter().enumerate() {
        let path = format!("secrets[{i}]");
        if !seen.insert(s.name.clone()) {
            issues.add(
                format!("{path}.name"),
                format!("duplicate secret name {:?}", s.name),
            );
        }
        if let Some(spec) = secret(&mut issues, &path, &config, s) {
            config.secrets.push(spec);
        }
    }
    if issues.0.is_empty() {
        Ok(config)
    } else {
        issues.0.sort_by(|a, b| a.path.cmp(&b.path));
        Err(issues.0)
    }
}

fn tcp_config(issues: &mut Issues, data_dir: &Path, tcp: TcpSection) -> Option<TcpConfig> {
    let listen = issues.addr("tcp.listen", &tcp.listen)?;
    if tcp.insecure_loopback == Some(true) {
        if !listen.ip().is_loopback() {
            issues.add(
                "tcp.insecure_loopback",
                "plain TCP is only allowed on a loopback address",
            );
            return None;
        }
        if tcp.cert.is_some() || tcp.key.is_some() || tcp.client_ca.is_some() {
            issues.add(
                "tcp.insecure_loopback",
                "cannot be combined with cert, key or client_ca",
            );
            return None;
        }
        return Some(TcpConfig { listen, tls: None });
    }
    match (tcp.cert, tcp.key, tcp.client_ca) {
        (Some(cert), Some(key), Some(client_ca)) => Some(TcpConfig {
            listen,
            tls: Some(TlsConfig {
                cert: under(data_dir, &cert),
                key: under(data_dir, &key),
                client_ca: under(data_dir, &client_ca),
            }),
        }),
        _ => {
            issues.add(
                "tcp",
                "cert, key and client_ca are required: TCP peers must present a client certificate",
            );
            None
        }
    }
}

fn vault_config(issues: &mut Issues, v: VaultSection) -> Option<VaultConfig> {
    let valid_address = v.address.parse::<http::Uri>().ok().is_some_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some()
    });
    if !valid_address {
        issues.add(
            "vault.address",
            format!("not an http(s) URL: {:?}", v.address),
        );
    }
    let auth = match (v.token_file, v.approle) {
        (Some(f), None) => VaultAuth::TokenFile(f),
        (None, Some(a)) => VaultAuth::AppRole {
            mount: a
                .mount
                .unwrap_or_else(|| defaults::APPROLE_MOUNT.to_owned()),
            role_id: a.role_id,
            secret_id_file: a.secret_id_file,
        },
        _ => {
            issues.add("vault", "exactly one of token_file and approle is required");
            return None;
        }
    };
    Some(VaultConfig {
        address: v.address,
        auth,
        ca_files: v.ca_files,
        namespace: v.namespace,
        poll_interval: issues.duration(
            "vault.poll_interval",
            v.poll_interval.as_deref(),
            defaults::POLL_INTERVAL,
        ),
        timeout: issues.duration(
            "vault.timeout",
            v.timeout.as_deref(),
            defaults::SOURCE_TIMEOUT,
        ),
    })
}

fn aws_config(issues: &mut Issues, a: AwsSection) -> Option<AwsConfig> {
    let credentials = match (a.access_key_id, a.secret_access_key_file) {
        (None, None) => AwsCredentials::DefaultChain,
        (Some(access_key_id), Some(secret_access_key_file)) => AwsCredentials::Static {
            access_key_id,
            secret_access_key_file,
        },
        _ => {
            issues.add(
                "aws",
                "access_key_id and secret_access_key_file go together",
            );
            return None;
        }
    };
    if let Some(e) = &a.endpoint
        && !e
            .parse::<http::Uri>()
            .ok()
            .is_some_and(|u| u.scheme().is_some() && u.authority().is_some())
    {
        issues.add("aws.endpoint", format!("not a URL: {e:?}"));
    }
    Some(AwsConfig {
        region: a.region,
        endpoint: a.endpoint,
        credentials,
        poll_interval: issues.duration(
            "aws.poll_interval",
            a.poll_interval.as_deref(),
            defaults::POLL_INTERVAL,
        ),
        timeout: issues.duration(
            "aws.timeout",
            a.timeout.as_deref(),
            defaults::SOURCE_TIMEOUT,
        ),
    })
}

fn grant(issues: &mut Issues, i: usize, g: GrantSection) -> Option<Grant> {
    let path = format!("grants[{i}]");
    let peers = [
        g.uid.map(PeerMatch::Uid),
        g.gid.map(PeerMatch::Gid),
        g.san.map(PeerMatch::San),
        g.insecure_loopback
            .filter(|b| *b)
            .map(|_| PeerMatch::InsecureLoopback),
    ];
    let mut chosen = peers.into_iter().flatten();
    let (Some(peer), None) = (chosen.next(), chosen.next()) else {
        issues.add(
            path,
            "exactly one of uid, gid, san and insecure_loopback is required",
        );
        return None;
    };
    if g.secrets.is_empty() {
        issues.add(
            format!("{path}.secrets"),
            "must name at least one secret or pattern",
        );
    }
    Some(Grant {
        name: g.name,
        peer,
        secrets: g.secrets.into_iter().map(Pattern::new).collect(),
        nodes: g.nodes.map(|n| n.into_iter().map(Pattern::new).collect()),
    })
}

fn secret(
    issues: &mut Issues,
    path: &str,
    config: &Config,
    s: SecretSection,
) -> Option<SecretSpec> {
    if s.name.is_empty() || s.name.contains('*') {
        issues.add(
            format!("{path}.name"),
            "must be non-empty and contain no '*'",
        );
    }
    let max_age = s
        .max_age
        .as_deref()
        .map(|t| issues.duration(&format!("{path}.max_age"), Some(t), Duration::from_secs(1)));
    let source = match (s.vault, s.aws) {
        (Some(v), None) => {
            if config.vault.is_none() {
                issues.add(format!("{path}.vault"), "a [vault] section is required");
            }
            match (v.mount, v.path) {
                (Some(mount), Some(p)) => RemoteSource::Vault {
                    mount,
                    path: p,
                    field: v.field,
                },
                _ => {
                    issues.add(format!("{path}.vault"), "mount and path are required");
                    return None;
                }
            }
        }
        (None, Some(a)) => {
            if config.aws.is_none() {
                issues.add(format!("{path}.aws"), "an [aws] section is required");
            }
            let Some(secret_id) = a.secret_id else {
                issues.add(format!("{path}.aws"), "secret_id is required");
                return None;
            };
            RemoteSource::Aws {
                secret_id,
                field: a.field,
            }
        }
        _ => {
            issues.add(
                path,
                "exactly one of vault and aws is required (file secrets go in the manifest)",
            );
            return None;
        }
    };
    Some(SecretSpec {
        name: s.name,
        kind: s.kind,
        max_age,
        source,
    })
}
