//! The minted-leaf source: a subscribed `bump-leaf/<host>` arrives as a `tls_certificate` whose
//! chain verifies against the deployment CA for exactly that host; grants still decide who gets
//! which leaf; a rotated CA reaches the stream; bad settings stop the server from starting.

use crate::support::Setup;
use crate::support::grpc::{self, Sotw};
use envoy_types::pb::envoy::config::core::v3::data_source::Specifier;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{Secret, secret::Type};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use prost::Message;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sds_server::access::{Grant, Pattern, PeerMatch};
use sds_server::config::MintedLeavesConfig;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;
use trust_ca::{Authority, CaOptions};

const API: &str = "bump-leaf/api.example.com";
const OTHER: &str = "bump-leaf/other.example.com";

fn hosts() -> Vec<String> {
    vec!["api.example.com".to_owned(), "other.example.com".to_owned()]
}

/// A setup whose data dir also holds a deployment CA, serving leaves for `hosts()`.
fn minted_setup() -> (Setup, std::path::PathBuf) {
    let mut setup = Setup::new();
    let ca_dir = setup.dir.path().join("ca");
    Authority::load_or_create(&ca_dir, &CaOptions::default()).unwrap();
    setup.config.minted_leaves = Some(MintedLeavesConfig::new(&ca_dir, hosts()));
    (setup, ca_dir)
}

/// The chain and key a response carries for `name`.
fn tls_pair(resp: &DiscoveryResponse, name: &str) -> (String, String) {
    let text = |source: Option<envoy_types::pb::envoy::config::core::v3::DataSource>| match source
        .unwrap()
        .specifier
    {
        Some(Specifier::InlineBytes(b)) => String::from_utf8(b).unwrap(),
        other => panic!("unexpected {other:?}"),
    };
    let secret = resp
        .resources
        .iter()
        .map(|any| Secret::decode(any.value.as_slice()).unwrap())
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} not in the response"));
    match secret.r#type {
        Some(Type::TlsCertificate(t)) => (text(t.certificate_chain), text(t.private_key)),
        other => panic!("not a certificate: {other:?}"),
    }
}

/// Verifies `chain_pem` for `host` as a client trusting `bundle_pem` would, now.
fn verify(bundle_pem: &str, chain_pem: &str, host: &str) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(bundle_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let chain: Vec<_> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let (leaf, rest) = chain.split_first().unwrap();
    let name = ServerName::try_from(host.to_owned()).unwrap();
    verifier
        .verify_server_cert(leaf, rest, &name, &[], UnixTime::now())
        .map(|_| ())
}

/// Whether `key_pem` is the key of the leaf in `chain_pem`.
fn key_matches(chain_pem: &str, key_pem: &str) -> bool {
    let chain: Vec<_> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let signer = rustls::crypto::ring::sign::any_ecdsa_type(&key).unwrap();
    rustls::sign::CertifiedKey::new(chain, signer)
        .keys_match()
        .is_ok()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn a_subscribed_leaf_verifies_against_the_ca_for_exactly_its_host() {
    let (setup, ca_dir) = minted_setup();
    let server = setup.start().await;
    let bundle = read(&ca_dir.join("bundle.pem"));
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "envoy-1", &[API]).await.unwrap();
    let resp = stream.next().await.unwrap();
    assert_eq!(resp.resources.len(), 1);
    let (chain, key) = tls_pair(&resp, API);
    assert_eq!(chain.matches("-----BEGIN CERTIFICATE-----").count(), 2);
    assert!(chain.ends_with(&read(&ca_dir.join("ca.pem"))));
    assert_eq!(verify(&bundle, &chain, "api.example.com"), Ok(()));
    assert!(verify(&bundle, &chain, "other.example.com").is_err());
    assert!(key_matches(&chain, &key));

    // Both leaves together: each for its own host, each with its own key.
    let mut both = Sotw::open(&mut client, "envoy-1", &[API, OTHER])
        .await
        .unwrap();
    let resp = both.next().await.unwrap();
    let (other_chain, other_key) = tls_pair(&resp, OTHER);
    assert_eq!(verify(&bundle, &other_chain, "other.example.com"), Ok(()));
    assert!(verify(&bundle, &other_chain, "api.example.com").is_err());
    assert_ne!(other_key, key);
    assert_eq!(tls_pair(&resp, API), (chain, key));

    let debug = server.debug();
    let names: Vec<_> = debug["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["source"] == "minted_leaves")
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec![API.to_owned(), OTHER.to_owned()]);
    assert!(!server.handle().debug_json().contains("PRIVATE KEY"));
}

#[tokio::test]
async fn grants_decide_which_leaves_a_peer_gets() {
    let (setup, _ca_dir) = minted_setup();
    let uid = std::fs::metadata(setup.dir.path()).unwrap().uid();
    let setup = setup.grants(vec![Grant {
        name: "envoy".to_owned(),
        peer: PeerMatch::Uid(uid),
        secrets: vec![Pattern::new(API)],
        nodes: None,
    }]);
    let server = setup.start().await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut ok = Sotw::open(&mut client, "envoy-1", &[API]).await.unwrap();
    assert_eq!(ok.next().await.unwrap().resources.len(), 1);
    let mut refused = Sotw::open(&mut client, "envoy-1", &[OTHER]).await.unwrap();
    let err = refused.next().await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        "not permitted to read secret \"bump-leaf/other.example.com\""
    );
}

#[tokio::test]
async fn a_rotated_ca_reaches_the_stream_with_a_leaf_from_the_new_ca() {
    let (mut setup, ca_dir) = minted_setup();
    if let Some(minted) = setup.config.minted_leaves.as_mut() {
        minted.check_interval = Duration::from_millis(50);
    }
    let server = setup.start().await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "envoy-1", &[API]).await.unwrap();
    let first = stream.next().await.unwrap();
    let (old_chain, _) = tls_pair(&first, API);
    stream.ack(&first, &[API]).await;

    let rotated = Authority::rotate(&ca_dir, &CaOptions::default()).unwrap();
    let second = stream.next().await.unwrap();
    let (new_chain, new_key) = tls_pair(&second, API);
    assert_ne!(new_chain, old_chain);
    assert!(new_chain.ends_with(rotated.cert_pem()));
    assert_eq!(
        verify(rotated.cert_pem(), &new_chain, "api.example.com"),
        Ok(())
    );
    assert!(key_matches(&new_chain, &new_key));
    // The bundle sandboxes trust now holds both CAs: old and new leaves verify.
    let bundle = rotated.bundle_pem();
    assert_eq!(verify(&bundle, &old_chain, "api.example.com"), Ok(()));
    assert_eq!(verify(&bundle, &new_chain, "api.example.com"), Ok(()));
}

#[tokio::test]
async fn wildcards_and_a_missing_ca_stop_the_server_from_starting() {
    let (mut setup, ca_dir) = minted_setup();
    setup.config.minted_leaves = Some(MintedLeavesConfig::new(
        &ca_dir,
        vec!["*.example.com".to_owned()],
    ));
    let audit = trust_core::audit::start(trust_core::audit::AuditConfig::new(
        setup.dir.path().join("audit"),
    ))
    .unwrap();
    let err = sds_server::run(setup.config.clone(), audit.0.clone())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret source minted_leaves could not start: cannot mint a leaf for \"*.example.com\": \
         wildcards are never minted"
    );
    let missing = setup.dir.path().join("no-ca");
    setup.config.minted_leaves = Some(MintedLeavesConfig::new(&missing, hosts()));
    let err = sds_server::run(setup.config.clone(), audit.0.clone())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "secret source minted_leaves could not start: {} does not exist: no CA here \
             (run `trust-edge ca init`)",
            missing.join("ca.key").display()
        )
    );
}
