//! Running one target: its proxy (the edge once for both edge targets, Envoy, mitmproxy),
//! a probe until the first 200, then the measured load with the proxy's usage sampled.

use std::sync::Arc;
use std::time::Duration;

use super::edge_rig::{self, EdgeFiles};
use super::tls_load::{self, Spec};
use super::{
    API_HOST, Options, PASS_HOST, Shared, Target, inner_request, interceptors, pki, skipped,
};
use crate::client::Phases;
use crate::edge::{self, Setup as EdgeSetup};
use crate::error::Error;
use crate::process::{self, ChildProc, Pin};
use crate::report::{Measured, TargetReport};
use crate::usage::Sampler;

/// Starts (once) the edge used by the bump and pass-through targets.
fn ensure_edge<'a>(
    options: &Options,
    shared: &'a mut Shared,
    pin: Pin,
) -> Result<&'a (EdgeSetup, ChildProc), Error> {
    if shared.edge.is_none() {
        let sds = shared
            .sds
            .as_ref()
            .ok_or_else(|| Error::MissingBinary(options.edge_bin.clone()))?;
        let files = EdgeFiles {
            ca_dir: &shared.dir.join("deployment-ca"),
            upstream_ca: &shared.upstream_ca_file,
            sds_socket: &sds.socket,
            upstream_port: shared.upstream_port,
            cold_hosts: 0,
            leaf_cache_size: 10_000,
            sessions: options.load.sessions,
        };
        let setup = edge_rig::prepare(&shared.dir.join("edge"), &files)?;
        let child = edge::start(&options.edge_bin, &setup, pin)?;
        shared.edge = Some((setup, child));
    }
    shared
        .edge
        .as_ref()
        .ok_or_else(|| Error::Config("edge not started".into()))
}

pub(super) fn run_target(
    options: &Options,
    shared: &mut Shared,
    target: Target,
    pin: Pin,
) -> Result<TargetReport, Error> {
    let port = shared.upstream_port;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let upstream_trust = pki::client_config(&shared.upstream_cert.ca_pem)?;
    let spec = |addr, connects: Vec<Arc<[u8]>>, host: &str, tls, with_key| Spec {
        addr,
        connects,
        server_name: host.to_owned(),
        tls,
        request: inner_request(host, port, with_key),
        connections: options.load.connections,
        max_requests: options.load.max_requests,
        request_timeout: options.load.request_timeout,
    };
    let measured = match target {
        Target::DirectTls => {
            let spec = spec(loopback, Vec::new(), API_HOST, upstream_trust, true);
            measure(options, &spec, None)?
        }
        Target::EdgeBumpInject | Target::EdgePassThrough => {
            let bundle = shared.deployment_bundle.clone();
            let (setup, child) = ensure_edge(options, shared, pin)?;
            let (host, tls, with_key) = if target == Target::EdgeBumpInject {
                (API_HOST, pki::client_config(&bundle)?, false)
            } else {
                (PASS_HOST, upstream_trust, true)
            };
            let authority = format!("{host}:{port}");
            let connects = setup
                .tokens
                .iter()
                .map(|t| Arc::from(tls_load::connect_head(&authority, Some(t))))
                .collect();
            let spec = spec(setup.proxy, connects, host, tls, with_key);
            measure(options, &spec, Some(child))?
        }
        Target::EnvoyBump => {
            let Some(bin) = interceptors::venv_program(&options.locations, "envoy") else {
                return Ok(skipped(target, "envoy binary not found".into()));
            };
            let Some(sds) = shared.sds.as_ref() else {
                return Ok(skipped(
                    target,
                    "needs our SDS server (trust-edge binary)".into(),
                ));
            };
            let listen = process::free_port()?;
            let files = interceptors::EnvoyFiles {
                sds_socket: &sds.socket,
                upstream_ca: &shared.upstream_ca_file,
                upstream_port: port,
                host: API_HOST,
            };
            let mut child =
                interceptors::start_envoy(&bin, &shared.dir.join("envoy"), listen, &files, pin)?;
            let authority = format!("{API_HOST}:{port}");
            let connect = Arc::from(tls_load::connect_head(&authority, None));
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], listen));
            let tls = pki::client_config(&shared.deployment_bundle)?;
            let spec = spec(addr, vec![connect], API_HOST, tls, false);
            let result = measure(options, &spec, Some(&child));
            child.stop();
            result?
        }
        Target::Mitmproxy => {
            let Some(bin) = interceptors::venv_program(&options.locations, "mitmdump") else {
                return Ok(skipped(target, "mitmdump not found".into()));
            };
            let listen = process::free_port()?;
            let mut mitm = interceptors::start_mitm(
                &bin,
                &shared.dir.join("mitmproxy"),
                listen,
                &shared.upstream_ca_file,
                &shared.key_file,
                pin,
            )?;
            // mitmproxy resolves the CONNECT host itself: give it the address; SNI and Host
            // still name the upstream.
            let connect = Arc::from(tls_load::connect_head(&format!("127.0.0.1:{port}"), None));
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], listen));
            let tls = pki::client_config(&mitm.ca_pem)?;
            let spec = spec(addr, vec![connect], API_HOST, tls, false);
            let result = measure(options, &spec, Some(&mitm.child));
            mitm.child.stop();
            result?
        }
    };
    Ok(TargetReport {
        target: target.name().into(),
        skipped: None,
        measured: Some(measured),
    })
}

/// Waits for a first 200, then runs the load with the proxy's usage sampled.
fn measure(options: &Options, spec: &Spec, proxy: Option<&ChildProc>) -> Result<Measured, Error> {
    wait_for_200(spec, options.ready_timeout)?;
    let phases = options.load.phases();
    let sampler = proxy.map(|child| Sampler::start(child.pid(), phases));
    let outcome = tls_load::run_blocking(spec, phases)?;
    let usage = sampler.and_then(Sampler::finish);
    let window = phases.window().as_secs_f64();
    Ok(Measured::from_outcome(&outcome, window, usage))
}

/// Sends single requests on one connection until one is answered 200 (secrets delivered over
/// SDS, listeners warmed), bounded by `timeout`.
fn wait_for_200(spec: &Spec, timeout: Duration) -> Result<(), Error> {
    let probe = Spec {
        connections: 1,
        max_requests: 1,
        ..spec.clone()
    };
    let started = std::time::Instant::now();
    let mut last = String::new();
    while started.elapsed() < timeout {
        let phases = Phases::starting_now(Duration::ZERO, Duration::from_millis(200));
        let outcome = tls_load::run_blocking(&probe, phases)?;
        if outcome.ok > 0 {
            return Ok(());
        }
        last = format!("{:?}", outcome.errors);
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Error::Config(format!(
        "no 200 within {} ms (last errors: {last})",
        timeout.as_millis()
    )))
}
