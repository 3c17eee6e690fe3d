//! The credentials the edge injects: fed by the SDS server over the delta protocol
//! ([`sds_server::client::SdsClient`]), subscribed to exactly the names the active policy set's
//! `inject` rules reference, and kept with the compiled patterns that find each value (in any
//! encoding) in responses. Values are zeroised by the client when replaced; nothing here logs,
//! prints or counts a value, only names.

use crate::config::SecretsConfig;
use scrub::Patterns;
use sds_server::client::{ClientConfig, ClientSecret, SdsClient};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

/// One usable credential: the value and the patterns that find it.
#[derive(Clone)]
pub(crate) struct Credential {
    /// The secret as the SDS client holds it (the value is zeroised when the last holder drops).
    pub(crate) secret: Arc<ClientSecret>,
    /// Every encoded form of the value, for response scrubbing.
    pub(crate) patterns: Arc<Patterns>,
}

/// The SDS-fed credential cache.
pub(crate) struct SecretStore {
    client: SdsClient,
    subscribed: RwLock<BTreeSet<String>>,
    compiled: RwLock<HashMap<String, Credential>>,
}

impl SecretStore {
    /// Connects (in the background) and subscribes to `names`.
    pub(crate) fn start(config: &SecretsConfig, names: BTreeSet<String>) -> SecretStore {
        let client = SdsClient::start(ClientConfig::unix(
            &config.sds_socket,
            config.node_id.clone(),
            names.iter().cloned(),
        ));
        SecretStore {
            client,
            subscribed: RwLock::new(names),
            compiled: RwLock::new(HashMap::new()),
        }
    }

    /// Follows a policy reload: subscribes to new names, drops the ones no rule references.
    pub(crate) fn set_names(&self, names: BTreeSet<String>) {
        let mut current = self
            .subscribed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let added: Vec<String> = names.difference(&current).cloned().collect();
        let removed: Vec<String> = current.difference(&names).cloned().collect();
        if !added.is_empty() {
            self.client.subscribe(added);
        }
        if !removed.is_empty() {
            self.compiled
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|name, _| !removed.contains(name));
            self.client.unsubscribe(removed);
        }
        *current = names;
    }

    /// The current value of `name` with its patterns, or `None` when the SDS server has not
    /// provided it (or withdrew it). The patterns are compiled once per version.
    pub(crate) fn get(&self, name: &str) -> Option<Credential> {
        let secret = self.client.get(name)?;
        // An empty value would inject a bare format (`Bearer `): it is not a credential.
        if secret.value().generic().is_none_or(<[u8]>::is_empty) {
            return None;
        }
        if let Some(c) = self
            .compiled
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            && Arc::ptr_eq(&c.secret, &secret)
        {
            return Some(c.clone());
        }
        let value = secret.value().generic().unwrap_or_default();
        let credential = Credential {
            patterns: Arc::new(Patterns::new(&[value])),
            secret,
        };
        self.compiled
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), credential.clone());
        Some(credential)
    }

    /// Bumped whenever the SDS client's view changes.
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.client.changes()
    }

    /// A `tls_certificate` secret as (PEM chain, PEM key, version): the deployment CA when it
    /// comes from the SDS server.
    pub(crate) fn tls_pair(&self, name: &str) -> Option<(String, String, String)> {
        let secret = self.client.get(name)?;
        match secret.value() {
            sds_server::SecretValue::TlsCertificate { chain_pem, key_pem } => Some((
                String::from_utf8_lossy(chain_pem).into_owned(),
                String::from_utf8_lossy(key_pem).into_owned(),
                secret.version().to_owned(),
            )),
            _ => None,
        }
    }
}

/// The names the edge subscribes to: every secret an `inject` rule of `set` references, plus the
/// deployment CA when it comes from the SDS server.
pub(crate) fn wanted(
    set: &policies::PolicySet,
    config: &crate::config::Config,
) -> BTreeSet<String> {
    let mut names = set.secrets();
    if let Some(crate::config::CaSource::Secret(name)) = config.bump.as_ref().map(|b| &b.ca) {
        names.insert(name.clone());
    }
    names
}
