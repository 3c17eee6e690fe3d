//! `DeltaSecrets`: the incremental stream.
//!
//! Per stream: the subscribed names (`resource_names_subscribe` / `_unsubscribe`), the version
//! the client holds of each (seeded from `initial_resource_versions` on a reconnect), the
//! versions it acknowledged and the ones it rejected. A response carries only names whose
//! version changed, and `removed_resources` for names no longer served (withdrawn after
//! `max_age`, or gone from the source). ACKs and NACKs are matched to their response by nonce;
//! an unknown nonce is stale and its ACK/NACK is ignored (subscription changes in the same
//! request still apply, as the protocol requires).

use crate::access::Peer;
use crate::convert;
use crate::drive::{Protocol, Step};
use crate::registry::StreamView;
use crate::service::Shared;
use crate::stream::detail;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;
use tonic::Status;

/// Unacknowledged responses remembered per stream; older ones count as stale.
const MAX_OUTSTANDING: usize = 64;

struct Sent {
    nonce: String,
    at: Instant,
    /// Each name with the version sent (`None`: removed).
    content: Vec<(String, Option<String>)>,
}

/// The delta state machine of one stream.
#[derive(Default)]
pub(crate) struct Delta {
    started: bool,
    pub(crate) node: String,
    subscribed: BTreeSet<String>,
    client_has: HashMap<String, String>,
    acked: BTreeMap<String, String>,
    rejected: HashMap<String, String>,
    outstanding: VecDeque<Sent>,
    acks: u64,
    nacks: u64,
    last_nack: Option<String>,
}

impl Delta {
    /// Applies one request.
    ///
    /// # Errors
    /// A refused name (PermissionDenied) or a wrong type URL (InvalidArgument): the stream ends.
    pub(crate) fn on_request(
        &mut self,
        shared: &Shared,
        peer: &Peer,
        stream: u64,
        req: DeltaDiscoveryRequest,
    ) -> Result<(), Status> {
        if !self.started {
            self.started = true;
            self.node = req.node.as_ref().map(|n| n.id.clone()).unwrap_or_default();
            self.client_has = req.initial_resource_versions.clone();
        }
        if !req.type_url.is_empty() && req.type_url != convert::secret_type_url() {
            return Err(Status::invalid_argument(format!(
                "unsupported type_url {:?}",
                req.type_url
            )));
        }
        if !req.response_nonce.is_empty() {
            self.on_reply(shared, &req);
        }
        shared
            .access
            .check(peer, &self.node, &req.resource_names_subscribe)
            .map_err(|d| shared.deny(stream, peer, &self.node, &d.name))?;
        for name in req.resource_names_unsubscribe {
            self.subscribed.remove(&name);
            self.client_has.remove(&name);
            self.acked.remove(&name);
            self.rejected.remove(&name);
        }
        self.subscribed.extend(req.resource_names_subscribe);
        self.client_has
            .retain(|name, _| self.subscribed.contains(name));
        Ok(())
    }

    fn on_reply(&mut self, shared: &Shared, req: &DeltaDiscoveryRequest) {
        let Some(pos) = self
            .outstanding
            .iter()
            .position(|s| s.nonce == req.response_nonce)
        else {
            shared
                .metrics
                .stale_nonces
                .with_label_values(&["delta"])
                .inc();
            tracing::debug!(nonce = %req.response_nonce, "unknown nonce; ACK/NACK ignored");
            return;
        };
        let Some(sent) = self.outstanding.remove(pos) else {
            return;
        };
        if let Some(error) = req.error_detail.as_ref() {
            shared.metrics.nacks.with_label_values(&["delta"]).inc();
            self.nacks += 1;
            self.last_nack = Some(detail(Some(error)));
            for (name, version) in &sent.content {
                if let Some(v) = version {
                    self.rejected.insert(name.clone(), v.clone());
                    match self.acked.get(name) {
                        Some(acked) => self.client_has.insert(name.clone(), acked.clone()),
                        None => self.client_has.remove(name),
                    };
                }
            }
            tracing::warn!(
                node = %self.node,
                rejected = ?sent.content,
                error_detail = %detail(Some(error)),
                "client rejected a secret update (NACK); its previous versions stay acknowledged"
            );
        } else {
            shared.metrics.acks.with_label_values(&["delta"]).inc();
            shared
                .metrics
                .push_to_ack_seconds
                .with_label_values(&["delta"])
                .observe(sent.at.elapsed().as_secs_f64());
            self.acks += 1;
            for (name, version) in sent.content {
                match version {
                    Some(v) => self.acked.insert(name, v),
                    None => self.acked.remove(&name),
                };
            }
        }
    }

    /// The response to send now: changed versions and removals, if any.
    pub(crate) fn response(&mut self, shared: &Shared) -> Option<DeltaDiscoveryResponse> {
        let mut resources = Vec::new();
        let mut removed = Vec::new();
        let mut content = Vec::new();
        for name in &self.subscribed {
            match shared.store.lookup(name).ready() {
                Some(version) => {
                    let has = self.client_has.get(name) == Some(&version.id);
                    let refused = self.rejected.get(name) == Some(&version.id);
                    if !has && !refused {
                        resources.push(Resource {
                            name: name.clone(),
                            version: version.id.clone(),
                            resource: Some(convert::to_any(&version.encoded)),
                            ..Default::default()
                        });
                        content.push((name.clone(), Some(version.id.clone())));
                    }
                }
                None => {
                    if self.client_has.contains_key(name) {
                        removed.push(name.clone());
                        content.push((name.clone(), None));
                    }
                }
            }
        }
        if resources.is_empty() && removed.is_empty() {
            return None;
        }
        for (name, version) in &content {
            match version {
                Some(v) => self.client_has.insert(name.clone(), v.clone()),
                None => self.client_has.remove(name),
            };
        }
        let nonce = shared.nonce();
        if self.outstanding.len() >= MAX_OUTSTANDING {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back(Sent {
            nonce: nonce.clone(),
            at: Instant::now(),
            content,
        });
        shared.metrics.pushes.with_label_values(&["delta"]).inc();
        Some(DeltaDiscoveryResponse {
            resources,
            removed_resources: removed,
            type_url: convert::secret_type_url(),
            nonce,
            ..Default::default()
        })
    }

    fn fill(&self, view: &mut StreamView) {
        view.node.clone_from(&self.node);
        view.names = self.subscribed.iter().cloned().collect();
        view.acked = self.acked.clone();
        view.pending_version = self.outstanding.back().map(|s| {
            s.content
                .iter()
                .map(|(n, v)| format!("{n}={}", v.as_deref().unwrap_or("removed")))
                .collect::<Vec<_>>()
                .join(",")
        });
        view.acks = self.acks;
        view.nacks = self.nacks;
        view.last_nack.clone_from(&self.last_nack);
    }
}

impl Protocol for Delta {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;
    const API: &'static str = "delta";

    /// A delta request always leaves something to compare: any response is worth computing.
    fn on_request(
        &mut self,
        shared: &Shared,
        peer: &Peer,
        stream: u64,
        req: DeltaDiscoveryRequest,
    ) -> Result<Step, Status> {
        Delta::on_request(self, shared, peer, stream, req).map(|()| Step::Push)
    }
    fn node(&self) -> &str {
        &self.node
    }
    fn response(&mut self, shared: &Shared) -> Option<DeltaDiscoveryResponse> {
        Delta::response(self, shared)
    }
    fn fill(&self, view: &mut StreamView) {
        Delta::fill(self, view);
    }
}
