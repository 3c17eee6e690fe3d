//! The handshake-rate phases: new CONNECT + TLS handshakes per second through an edge whose
//! leaf cache is warm (one name) or cold (a cache of one leaf, names round-robin, so every
//! handshake mints), with the edge's CPU and its `leaf_mints_total` over the phase.

use std::path::Path;
use std::time::Duration;

use super::edge_rig::{self, EdgeFiles};
use super::report::{self, HandshakeReport};
use super::tls_load::{self, HandshakeSpec};
use super::{Options, Shared, pki};
use crate::client::Phases;
use crate::error::Error;
use crate::process::Pin;
use crate::usage::Sampler;

/// The warm and cold handshake phases, each against its own edge process.
pub(super) fn handshake_phases(
    options: &Options,
    shared: &Shared,
    ca_dir: &Path,
    pin: Pin,
    notes: &mut Vec<String>,
) -> Vec<HandshakeReport> {
    let mut out = Vec::new();
    for (cache, cache_size) in [("warm", 10_000), ("cold", 1)] {
        match handshake_phase(options, shared, ca_dir, pin, cache, cache_size) {
            Ok(report) => out.push(report),
            Err(e) => notes.push(format!("{cache} handshake phase failed: {e}")),
        }
    }
    out
}

fn handshake_phase(
    options: &Options,
    shared: &Shared,
    ca_dir: &Path,
    pin: Pin,
    cache: &str,
    leaf_cache_size: usize,
) -> Result<HandshakeReport, Error> {
    let sds = shared
        .sds
        .as_ref()
        .ok_or_else(|| Error::MissingBinary(options.edge_bin.clone()))?;
    let files = EdgeFiles {
        ca_dir,
        upstream_ca: &shared.upstream_ca_file,
        sds_socket: &sds.socket,
        upstream_port: shared.upstream_port,
        cold_hosts: options.cold_hosts,
        leaf_cache_size,
        sessions: options.load.sessions,
    };
    let setup = edge_rig::prepare(&shared.dir.join(format!("edge-{cache}")), &files)?;
    let mut child = crate::edge::start(&options.edge_bin, &setup, pin)?;
    let hosts = if leaf_cache_size == 1 {
        (0..options.cold_hosts).map(edge_rig::cold_host).collect()
    } else {
        vec![edge_rig::cold_host(0)]
    };
    let spec = HandshakeSpec {
        addr: setup.proxy,
        hosts,
        port: shared.upstream_port,
        tokens: setup.tokens.clone(),
        tls: pki::client_config(&shared.deployment_bundle)?,
        connections: options.handshake_connections,
        timeout: options.load.request_timeout,
    };
    let before = edge_rig::counters(setup.admin);
    // No warm-up: the mint counter is read before and after, so every handshake counts.
    let phases = Phases::starting_now(Duration::ZERO, options.handshake_duration);
    let sampler = Sampler::start(child.pid(), phases);
    let result = tls_load::handshakes_blocking(&spec, phases);
    let usage = sampler.finish();
    let after = edge_rig::counters(setup.admin);
    child.stop();
    let done = result?;
    let window = phases.window().as_secs_f64();
    let mints = match (before.leaf_mints, after.leaf_mints) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    Ok(report::handshake(cache, &done, window, mints, usage))
}
