//! Upstream keep-alive is pooled per session: two sessions never share an upstream connection.

use crate::{Fixture, get};
use std::collections::HashSet;
use testkit::raw;

#[tokio::test]
async fn two_sessions_never_share_an_upstream_connection() {
    let f = Fixture::start("").await;
    let (a, b) = (
        f.edge.token("web", "s-pool-a"),
        f.edge.token("web", "s-pool-b"),
    );
    let url = format!("http://origin.test:{}/", f.origin.port());
    let mut conns = [HashSet::new(), HashSet::new()];
    // Alternate sessions, one request at a time, so a shared pool would hand the same idle
    // upstream connection back and forth.
    for i in 0..6 {
        let token = if i % 2 == 0 { &a } else { &b };
        let r = raw::send(f.addr(), &get(&url, token)).await.unwrap();
        assert_eq!(r.status, 200);
        let conn: u64 = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["conn_id"]
            .as_u64()
            .unwrap();
        conns[i % 2].insert(conn);
    }
    assert!(
        conns[0].is_disjoint(&conns[1]),
        "sessions shared an upstream connection: {conns:?}"
    );
    assert_eq!(
        conns[0].len(),
        1,
        "a session's own requests do reuse its pooled connection"
    );
    assert_eq!(conns[1].len(), 1);
}
