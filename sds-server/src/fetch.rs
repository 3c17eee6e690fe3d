//! `FetchSecrets`: one request, one answer with the current versions.

use crate::access::Peer;
use crate::convert;
use crate::service::Shared;
use crate::stream::version_info;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use tonic::Status;

/// Answers a fetch: every requested name the peer may read and that is being served.
///
/// # Errors
/// PermissionDenied for a name outside the peer's grants (checked before anything is looked
/// up, so a refusal says nothing about whether the name exists); NotFound for a granted name
/// that is not configured, not yet loaded, or withdrawn; InvalidArgument for no names or a
/// wrong type URL.
pub(crate) fn fetch(
    shared: &Shared,
    peer: &Peer,
    req: DiscoveryRequest,
) -> Result<DiscoveryResponse, Status> {
    let node = req.node.as_ref().map(|n| n.id.as_str()).unwrap_or_default();
    if !req.type_url.is_empty() && req.type_url != convert::secret_type_url() {
        return Err(Status::invalid_argument(format!(
            "unsupported type_url {:?}",
            req.type_url
        )));
    }
    if req.resource_names.is_empty() {
        return Err(Status::invalid_argument("name at least one secret"));
    }
    let id = shared.stream_id();
    shared
        .access
        .check(peer, node, &req.resource_names)
        .map_err(|d| shared.deny(id, peer, node, &d.name))?;
    let mut names = req.resource_names.clone();
    names.sort();
    names.dedup();
    let mut key = Vec::new();
    let mut resources = Vec::new();
    for name in names {
        let Some(version) = shared.store.lookup(&name).ready().cloned() else {
            return Err(Status::not_found(format!(
                "secret {name:?} is not available"
            )));
        };
        resources.push(convert::to_any(&version.encoded));
        key.push((name, Some(version.id.clone())));
    }
    shared.metrics.pushes.with_label_values(&["fetch"]).inc();
    Ok(DiscoveryResponse {
        version_info: version_info(&key),
        resources,
        type_url: convert::secret_type_url(),
        nonce: shared.nonce(),
        ..Default::default()
    })
}
