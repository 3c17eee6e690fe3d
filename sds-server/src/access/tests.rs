use super::*;

fn grant(name: &str, peer: PeerMatch, secrets: &[&str], nodes: Option<&[&str]>) -> Grant {
    Grant {
        name: name.to_owned(),
        peer,
        secrets: secrets.iter().map(|s| Pattern::new(*s)).collect(),
        nodes: nodes.map(|n| n.iter().map(|s| Pattern::new(*s)).collect()),
    }
}

fn unix(uid: u32, gid: u32) -> Peer {
    Peer::Unix { uid, gid }
}

#[test]
fn patterns_match_exactly_by_prefix_or_everything() {
    assert!(Pattern::new("a").matches("a"));
    assert!(!Pattern::new("a").matches("ab"));
    assert!(Pattern::new("envoy-*").matches("envoy-cert"));
    assert!(!Pattern::new("envoy-*").matches("edge-cert"));
    assert!(Pattern::new("*").matches("anything"));
}

#[test]
fn grants_follow_the_peer_uid_or_gid() {
    let access = Access::new(vec![
        grant("envoy", PeerMatch::Uid(1000), &["envoy-*"], None),
        grant("ops", PeerMatch::Gid(50), &["ops-key"], None),
    ]);
    assert!(access.allows(&unix(1000, 1), "", "envoy-cert"));
    assert!(!access.allows(&unix(1000, 1), "", "ops-key"));
    assert!(access.allows(&unix(7, 50), "", "ops-key"));
    assert!(!access.allows(&unix(7, 51), "", "ops-key"));
}

#[test]
fn a_node_id_only_narrows_within_the_peers_grants() {
    let access = Access::new(vec![
        grant("a", PeerMatch::Uid(0), &["key-a"], Some(&["node-a"])),
        grant("b", PeerMatch::Uid(0), &["key-b"], Some(&["node-b"])),
        grant("shared", PeerMatch::Uid(0), &["shared"], None),
    ]);
    let me = unix(0, 0);
    assert!(access.allows(&me, "node-a", "key-a"));
    assert!(!access.allows(&me, "node-a", "key-b"));
    assert!(access.allows(&me, "node-a", "shared"));
    assert!(access.allows(&me, "anything", "shared"));
    assert!(!access.allows(&me, "anything", "key-a"));
}

#[test]
fn a_spoofed_node_id_gives_an_unentitled_peer_nothing() {
    let access = Access::new(vec![grant(
        "a",
        PeerMatch::Uid(1000),
        &["key-a"],
        Some(&["node-a"]),
    )]);
    assert!(!access.allows(&unix(1001, 1000), "node-a", "key-a"));
    let names = vec!["key-a".to_owned()];
    assert_eq!(
        access.check(&unix(1001, 1000), "node-a", &names),
        Err(Denied {
            name: "key-a".to_owned()
        })
    );
}

#[test]
fn certificate_peers_match_on_any_san() {
    let access = Access::new(vec![grant(
        "edge",
        PeerMatch::San("spiffe://trust-edge/edge-1".to_owned()),
        &["edge-1-*"],
        None,
    )]);
    let peer = Peer::Certificate {
        sans: vec![
            "edge-1.internal".to_owned(),
            "spiffe://trust-edge/edge-1".to_owned(),
        ],
    };
    assert!(access.allows(&peer, "", "edge-1-key"));
    let other = Peer::Certificate {
        sans: vec!["spiffe://trust-edge/edge-2".to_owned()],
    };
    assert!(!access.allows(&other, "edge-1", "edge-1-key"));
    assert_eq!(access.grant_names(&peer, ""), vec!["edge".to_owned()]);
}

#[test]
fn loopback_grants_apply_only_to_loopback_peers() {
    let access = Access::new(vec![grant("lt", PeerMatch::InsecureLoopback, &["*"], None)]);
    let lo = Peer::InsecureLoopback {
        addr: "127.0.0.1:5000".parse().unwrap(),
    };
    assert!(access.allows(&lo, "", "x"));
    assert!(!access.allows(&unix(0, 0), "", "x"));
    assert_eq!(lo.to_string(), "loopback 127.0.0.1:5000");
    assert_eq!(unix(3, 4).to_string(), "unix uid=3 gid=4");
}
