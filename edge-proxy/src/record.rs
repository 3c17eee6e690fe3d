//! One decision's record: filled in as the request moves through the stages and emitted, as an
//! audit event and metrics, when it is dropped — so every early exit is recorded too.

use crate::edge::Edge;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use trust_core::DenyReason;
use trust_core::audit::{Action, AuditEvent, ClassUid};
use trust_core::token::VerifiedSession;

/// The record of one request or tunnel.
pub(crate) struct Record {
    edge: Arc<Edge>,
    started: Instant,
    /// UUIDv7, returned to the client as `x-request-id`.
    pub(crate) request_id: String,
    /// `true` for a CONNECT tunnel.
    pub(crate) tunnel: bool,
    /// The verified session, once known.
    pub(crate) session: Option<Arc<VerifiedSession>>,
    /// Destination host (name or address text).
    pub(crate) dst_host: Option<String>,
    /// Destination port.
    pub(crate) dst_port: Option<u16>,
    /// The address dialled.
    pub(crate) dst_addr: Option<IpAddr>,
    /// The rule that allowed it.
    pub(crate) rule: Option<String>,
    /// That rule's rung.
    pub(crate) rung: Option<policies::Rung>,
    /// Set when an exact-address rule let a deny-set address through.
    pub(crate) exception: Option<&'static str>,
    /// The method.
    pub(crate) method: Option<String>,
    /// `User-Agent`.
    pub(crate) user_agent: Option<String>,
    /// The refusal, if any.
    pub(crate) reason: Option<DenyReason>,
    /// Upstream response status (forwards).
    pub(crate) status: Option<u16>,
    /// Bytes from client to upstream.
    pub(crate) bytes_up: u64,
    /// Bytes from upstream to client.
    pub(crate) bytes_down: u64,
    /// The active policy set's hash.
    pub(crate) policy_hash: Option<String>,
    /// Let through by a report-mode profile; enforcing would have answered this.
    pub(crate) enforce_would_deny: Option<DenyReason>,
    /// Names of the secrets injected (never values).
    pub(crate) injected: Vec<String>,
    /// Injected values removed from the response.
    pub(crate) redacted: Option<u64>,
}

impl Record {
    /// Starts a record for a request just read.
    pub(crate) fn new(edge: Arc<Edge>, tunnel: bool) -> Record {
        Record {
            edge,
            started: Instant::now(),
            request_id: uuid::Uuid::now_v7().to_string(),
            tunnel,
            session: None,
            dst_host: None,
            dst_port: None,
            dst_addr: None,
            rule: None,
            rung: None,
            exception: None,
            method: None,
            user_agent: None,
            reason: None,
            status: None,
            bytes_up: 0,
            bytes_down: 0,
            policy_hash: None,
            enforce_would_deny: None,
            injected: Vec::new(),
            redacted: None,
        }
    }

    /// Marks the record as a refusal.
    pub(crate) fn deny(&mut self, reason: DenyReason) {
        self.reason.get_or_insert(reason);
    }

    /// The edge this record reports to.
    pub(crate) fn edge(&self) -> &Arc<Edge> {
        &self.edge
    }

    fn event(&mut self) -> AuditEvent {
        let (class, activity) = if self.tunnel {
            (ClassUid::NetworkActivity, "tunnel")
        } else {
            (ClassUid::HttpActivity, "request")
        };
        let action = if self.reason.is_some() {
            Action::Deny
        } else {
            Action::Allow
        };
        let mut e = AuditEvent::new(class, activity, action);
        e.trace_id = Some(std::mem::take(&mut self.request_id));
        if let Some(s) = &self.session {
            e.session_id = Some(s.claims.sid.clone());
            e.tenant_id = Some(s.claims.tenant.clone());
            e.profile = Some(s.claims.profile.clone());
        }
        e.status_detail = self.reason.map(|r| Cow::Borrowed(r.code()));
        e.dst_host = self.dst_host.take();
        e.dst_port = self.dst_port;
        e.dst_addr = self.dst_addr;
        e.rung = self.rung.map(|r| Cow::Borrowed(r.as_str()));
        e.rule = self.rule.take();
        e.exception = self.exception.map(Cow::Borrowed);
        e.method = self.method.take();
        e.user_agent = self.user_agent.take();
        e.http_status = self.status;
        e.bytes_up = self.bytes_up;
        e.bytes_down = self.bytes_down;
        e.set_duration(self.started.elapsed());
        e.policy_hash = self.policy_hash.take();
        e.injected = std::mem::take(&mut self.injected);
        e.redacted = self.redacted;
        if let (None, Some(would)) = (self.reason, self.enforce_would_deny) {
            e.enforce_would_deny = Some(true);
            e.status_detail = Some(Cow::Borrowed(would.code()));
        }
        e
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        self.edge.metrics.count_decision(self.reason);
        let event = self.event();
        self.edge.audit.record(event);
    }
}
