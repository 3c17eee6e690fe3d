//! The minted-leaf source: `tls_certificate` secrets `<prefix><host>` holding a leaf for exactly
//! that host, minted from the deployment CA, for Envoy fleets that bump TLS themselves.
//!
//! Every configured name is registered and minted at start, so it is served from the first
//! request. A task then re-reads the CA every `check_interval`: a changed CA (a rotation) re-mints
//! every leaf; otherwise only leaves in the last quarter of their life are re-minted. A CA that
//! cannot be read keeps the last good leaves (until they expire, when the store's checks refuse
//! them) and alarms. Access is the grants' business, as for every other source.

use crate::config::MintedLeavesConfig;
use crate::error::{SdsError, SourceError};
use crate::secret::{SecretKind, SecretValue};
use crate::store::{Registration, SourceKind, Store};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trust_ca::Authority;
use zeroize::Zeroizing;

/// The name in errors and `SdsError::Source`.
const SOURCE_NAME: &str = "minted_leaves";

/// One served leaf: its secret name, its host and when it stops being fresh.
struct Served {
    name: String,
    host: String,
    /// `None` until a mint succeeded.
    not_after: Option<SystemTime>,
}

struct MintedSource {
    config: MintedLeavesConfig,
    store: Arc<Store>,
    authority: Authority,
    served: Vec<Served>,
    ca_error: Option<String>,
}

/// Loads the CA, registers and mints every configured leaf, then keeps them fresh in a task.
///
/// # Errors
/// The CA cannot be loaded, a host is not an exact name (wildcards are refused), or a name is
/// already served by another source.
pub(crate) fn start(
    config: MintedLeavesConfig,
    store: Arc<Store>,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, SdsError> {
    let source_error = |message: String| SdsError::Source {
        source_name: SOURCE_NAME,
        message,
    };
    let authority = Authority::load(&config.ca_dir).map_err(|e| source_error(e.to_string()))?;
    let mut served = Vec::with_capacity(config.hosts.len());
    for host in &config.hosts {
        // A mint both validates the name and proves the CA can sign before anything is served.
        authority
            .mint(host, config.leaf_validity)
            .map_err(|e| source_error(e.to_string()))?;
        let name = format!("{}{host}", config.prefix);
        store
            .register(
                &name,
                Registration {
                    kind: SecretKind::TlsCertificate,
                    source: SourceKind::Minted,
                    max_age: None,
                },
            )
            .map_err(SdsError::Config)?;
        served.push(Served {
            name,
            host: host.clone(),
            not_after: None,
        });
    }
    let mut source = MintedSource {
        config,
        store,
        authority,
        served,
        ca_error: None,
    };
    source.mint(SystemTime::now(), true);
    Ok(tokio::spawn(source.run(shutdown)))
}

impl MintedSource {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let tick = self
            .config
            .check_interval
            .min(self.config.leaf_validity / 8)
            .max(Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.changed() => return,
            }
            let rotated = self.reload_ca();
            self.mint(SystemTime::now(), rotated);
        }
    }

    /// Re-reads the CA; `true` when it changed (every leaf must then be re-minted).
    fn reload_ca(&mut self) -> bool {
        match Authority::load(&self.config.ca_dir) {
            Ok(authority) => {
                if self.ca_error.take().is_some() {
                    tracing::info!(source = SOURCE_NAME, "the CA is readable again");
                }
                if authority.cert_pem() == self.authority.cert_pem() {
                    return false;
                }
                tracing::info!(
                    source = SOURCE_NAME,
                    "the CA changed; re-minting every leaf"
                );
                self.authority = authority;
                true
            }
            Err(e) => {
                let message = e.to_string();
                if self.ca_error.as_ref() != Some(&message) {
                    self.store
                        .report_source_problem(SourceKind::Minted, &message);
                }
                self.ca_error = Some(message);
                false
            }
        }
    }

    /// Mints every leaf that is missing, in the last quarter of its life, or (with `all`) every
    /// leaf, and offers them to the store.
    fn mint(&mut self, now: SystemTime, all: bool) {
        let validity = self.config.leaf_validity;
        for served in &mut self.served {
            let fresh = served.not_after.is_some_and(|not_after| {
                not_after
                    .duration_since(now)
                    .is_ok_and(|left| left > validity / 4)
            });
            if fresh && !all {
                continue;
            }
            let read = match self.authority.mint(&served.host, validity) {
                Ok(leaf) => {
                    served.not_after = Some(leaf.not_after);
                    Ok((
                        SecretValue::TlsCertificate {
                            chain_pem: Zeroizing::new(leaf.cert_pem.into_bytes()),
                            key_pem: Zeroizing::new(leaf.key_pem.as_bytes().to_vec()),
                        },
                        None,
                    ))
                }
                Err(e) => Err(SourceError::Unreachable(format!("minting failed: {e}"))),
            };
            self.store.offer(&served.name, read);
        }
    }
}
