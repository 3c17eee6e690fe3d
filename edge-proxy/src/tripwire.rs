//! Reporting a session's exfiltration tripwire: an `alert` audit event and a metric, raised once
//! per window (the counting lives in [`crate::sessions`]).

use crate::edge::Edge;
use crate::record::Record;
use std::borrow::Cow;
use trust_core::audit::{AuditEvent, ClassUid};
use trust_core::token::VerifiedSession;

/// Emits the tripwire alert for `session`, naming the request that crossed it.
pub(crate) fn report(edge: &Edge, session: &VerifiedSession, rec: &Record) {
    edge.metrics.tripwires.inc();
    let mut e = AuditEvent::alert(ClassUid::NetworkActivity, "tripwire");
    e.trace_id = Some(rec.request_id.clone());
    e.session_id = Some(session.claims.sid.clone());
    e.tenant_id = Some(session.claims.tenant.clone());
    e.profile = Some(session.claims.profile.clone());
    e.status_detail = Some(Cow::Borrowed(trust_core::DenyReason::Tripwire.code()));
    e.dst_host = rec.dst_host.clone();
    e.dst_port = rec.dst_port;
    edge.audit.record(e);
    tracing::warn!(request_id = %rec.request_id, "session crossed its exfiltration tripwire");
}
