//! `StreamSecrets`: the state-of-the-world stream.
//!
//! Per stream: the subscribed names (they may change with any request), the last response's
//! nonce and content, the acknowledged version. A response is sent when the content for the
//! subscribed names differs from what was last sent — a rotation, a withdrawal, a changed
//! subscription — and never again for content the client rejected. A request whose nonce is not
//! the last one sent is stale and ignored.

use crate::access::Peer;
use crate::convert;
use crate::drive::{Protocol, Step};
use crate::registry::StreamView;
use crate::service::Shared;
use crate::store::Version;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;
use tonic::Status;

/// What a response carried: each name with the version sent (`None`: not available).
pub(crate) type ContentKey = Vec<(String, Option<String>)>;

/// Longest client error message kept for logs and `/debug/sds`.
const MAX_DETAIL: usize = 512;

/// Keeps the open-streams gauge right for the stream's life.
pub(crate) struct Gauge {
    metrics: crate::metrics::Metrics,
    api: &'static str,
    node: Option<String>,
}

impl Gauge {
    pub(crate) fn new(metrics: &crate::metrics::Metrics, api: &'static str) -> Gauge {
        Gauge {
            metrics: metrics.clone(),
            api,
            node: None,
        }
    }

    /// Counts the stream under `node` (once, at its first request).
    pub(crate) fn open(&mut self, node: &str) {
        if self.node.is_none() {
            let label = self.metrics.node_label(node);
            self.metrics
                .streams
                .with_label_values(&[self.api, &label])
                .inc();
            self.node = Some(label);
        }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        if let Some(label) = &self.node {
            self.metrics
                .streams
                .with_label_values(&[self.api, label])
                .dec();
        }
    }
}

/// A client's error message, cut to a loggable length.
pub(crate) fn detail(status: Option<&envoy_types::pb::google::rpc::Status>) -> String {
    let message = status.map_or("", |s| s.message.as_str());
    message.chars().take(MAX_DETAIL).collect()
}

/// The SotW state machine of one stream.
#[derive(Default)]
pub(crate) struct Sotw {
    started: bool,
    pub(crate) node: String,
    names: BTreeSet<String>,
    last_nonce: Option<String>,
    last_sent: Option<ContentKey>,
    pending: Option<(String, Instant)>,
    rejected: Option<ContentKey>,
    acked_version: Option<String>,
    acks: u64,
    nacks: u64,
    last_nack: Option<String>,
}

impl Sotw {
    /// Applies one request.
    ///
    /// # Errors
    /// A refused name (PermissionDenied) or a wrong type URL (InvalidArgument): the stream ends.
    pub(crate) fn on_request(
        &mut self,
        shared: &Shared,
        peer: &Peer,
        stream: u64,
        req: DiscoveryRequest,
    ) -> Result<Step, Status> {
        if !self.started {
            self.started = true;
            self.node = req.node.as_ref().map(|n| n.id.clone()).unwrap_or_default();
        }
        if !req.type_url.is_empty() && req.type_url != convert::secret_type_url() {
            return Err(Status::invalid_argument(format!(
                "unsupported type_url {:?}",
                req.type_url
            )));
        }
        if !req.response_nonce.is_empty() {
            if self.last_nonce.as_deref() != Some(req.response_nonce.as_str()) {
                shared
                    .metrics
                    .stale_nonces
                    .with_label_values(&["sotw"])
                    .inc();
                tracing::debug!(nonce = %req.response_nonce, "stale nonce; request ignored");
                return Ok(Step::Ignore);
            }
            let pending = self.pending.take();
            if let Some(error) = req.error_detail.as_ref() {
                shared.metrics.nacks.with_label_values(&["sotw"]).inc();
                self.rejected = self.last_sent.clone();
                self.nacks += 1;
                self.last_nack = Some(detail(Some(error)));
                tracing::warn!(
                    node = %self.node,
                    names = ?self.names,
                    rejected_version = pending.as_ref().map_or("", |p| p.0.as_str()),
                    acked_version = self.acked_version.as_deref().unwrap_or(""),
                    error_detail = %detail(Some(error)),
                    "client rejected a secret update (NACK); its previous version stays acknowledged"
                );
            } else {
                shared.metrics.acks.with_label_values(&["sotw"]).inc();
                self.acks += 1;
                if let Some((_, sent)) = pending {
                    shared
                        .metrics
                        .push_to_ack_seconds
                        .with_label_values(&["sotw"])
                        .observe(sent.elapsed().as_secs_f64());
                }
                self.acked_version = Some(req.version_info.clone());
            }
        }
        let names: BTreeSet<String> = req.resource_names.into_iter().collect();
        if names != self.names {
            shared
                .access
                .check(peer, &self.node, &names)
                .map_err(|d| shared.deny(stream, peer, &self.node, &d.name))?;
            self.names = names;
        }
        Ok(Step::Push)
    }

    /// The response to send now, if the content differs from what was last sent and was not
    /// rejected.
    pub(crate) fn response(&mut self, shared: &Shared) -> Option<DiscoveryResponse> {
        let versions: Vec<(String, Option<Arc<Version>>)> = self
            .names
            .iter()
            .map(|n| (n.clone(), shared.store.lookup(n).ready().cloned()))
            .collect();
        let key: ContentKey = versions
            .iter()
            .map(|(n, v)| (n.clone(), v.as_ref().map(|v| v.id.clone())))
            .collect();
        if self.last_sent.as_ref() == Some(&key) || self.rejected.as_ref() == Some(&key) {
            return None;
        }
        if self.last_sent.is_none() && key.iter().all(|(_, v)| v.is_none()) {
            return None;
        }
        let nonce = shared.nonce();
        let version_info = version_info(&key);
        let resources = versions
            .iter()
            .filter_map(|(_, v)| v.as_ref().map(|v| convert::to_any(&v.encoded)))
            .collect();
        self.last_nonce = Some(nonce.clone());
        self.last_sent = Some(key);
        self.pending = Some((version_info.clone(), Instant::now()));
        shared.metrics.pushes.with_label_values(&["sotw"]).inc();
        Some(DiscoveryResponse {
            version_info,
            resources,
            type_url: convert::secret_type_url(),
            nonce,
            ..Default::default()
        })
    }

    fn fill(&self, view: &mut StreamView) {
        view.node.clone_from(&self.node);
        view.names = self.names.iter().cloned().collect();
        view.acked_version.clone_from(&self.acked_version);
        view.pending_version = self.pending.as_ref().map(|p| p.0.clone());
        view.acks = self.acks;
        view.nacks = self.nacks;
        view.last_nack.clone_from(&self.last_nack);
    }
}

/// The `version_info` of a response: the one secret's version, or a hash over every
/// name and version.
pub(crate) fn version_info(key: &ContentKey) -> String {
    if let [(_, Some(version))] = key.as_slice() {
        return version.clone();
    }
    let mut hasher = Sha256::new();
    for (name, version) in key {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(version.as_deref().unwrap_or("-").as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("set:{}", hex::encode(digest.get(..8).unwrap_or_default()))
}

impl Protocol for Sotw {
    type Request = DiscoveryRequest;
    type Response = DiscoveryResponse;
    const API: &'static str = "sotw";

    fn on_request(
        &mut self,
        shared: &Shared,
        peer: &Peer,
        stream: u64,
        req: DiscoveryRequest,
    ) -> Result<Step, Status> {
        Sotw::on_request(self, shared, peer, stream, req)
    }
    fn node(&self) -> &str {
        &self.node
    }
    fn response(&mut self, shared: &Shared) -> Option<DiscoveryResponse> {
        Sotw::response(self, shared)
    }
    fn fill(&self, view: &mut StreamView) {
        Sotw::fill(self, view);
    }
}

#[cfg(test)]
mod tests;
