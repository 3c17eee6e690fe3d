//! [`ControlState`] (what the edge decides with), [`ControlEvent`] (what it must act on at once)
//! and the tracker that applies control's messages in order.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use trust_core::DenyReason;
use trust_core::token::Jwks;

use crate::pb;
use crate::pb::control_message::Message;

/// The edge's view of control, replaced as a whole on every message (publish it through a
/// `watch` channel; readers never see half an update).
#[derive(Debug, Clone)]
pub struct ControlState {
    /// The JWKS document control pushed: with a control configured, the only key source.
    pub jwks: serde_json::Value,
    /// Revoked (or ended) session ids whose tokens may still be unexpired.
    pub revoked: HashSet<String>,
    /// The deny-all switch.
    pub deny_all: bool,
    /// The operator's reason for deny-all (empty when off).
    pub deny_all_reason: String,
    /// The last change applied.
    pub sequence: u64,
    /// The control store the sequence belongs to.
    pub store_id: String,
    /// When the last message from control arrived (snapshot, change or heartbeat).
    pub last_heartbeat: Instant,
    /// Whether a snapshot has been applied. Until then the edge must refuse everything.
    pub ready: bool,
    /// Whether a stream to control is open right now.
    pub connected: bool,
    /// The last connection or protocol failure, for operators (no secrets).
    pub last_error: Option<String>,
}

impl ControlState {
    /// The state before any snapshot: not ready, empty.
    pub fn pending() -> ControlState {
        ControlState {
            jwks: serde_json::json!({ "keys": [] }),
            revoked: HashSet::new(),
            deny_all: false,
            deny_all_reason: String::new(),
            sequence: 0,
            store_id: String::new(),
            last_heartbeat: Instant::now(),
            ready: false,
            connected: false,
            last_error: None,
        }
    }

    /// Whether the edge may decide with this state: a snapshot arrived and control was heard
    /// from within `staleness`.
    pub fn is_fresh(&self, staleness: Duration) -> bool {
        self.ready && self.last_heartbeat.elapsed() <= staleness
    }

    /// The refusal control's state imposes on a request of `session_id`, in the edge's check
    /// order: not ready or stale (`edge_not_ready`), then the session's revocation
    /// (`session_revoked`), then deny-all (`deny_all`). `None` lets the request continue.
    pub fn deny_reason(&self, session_id: &str, staleness: Duration) -> Option<DenyReason> {
        if !self.is_fresh(staleness) {
            Some(DenyReason::EdgeNotReady)
        } else if self.revoked.contains(session_id) {
            Some(DenyReason::SessionRevoked)
        } else if self.deny_all {
            Some(DenyReason::DenyAll)
        } else {
            None
        }
    }
}

/// Something the edge must act on at once (close tunnels, drop kept-alive connections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlEvent {
    /// A session was revoked or ended: refuse its next request and close its tunnels.
    Revoked {
        /// The session id (`sid`).
        session_id: String,
        /// `revoked: <operator reason>` or `ended`.
        reason: String,
    },
    /// Deny-all was switched on or off.
    DenyAll {
        /// Whether it is on now.
        on: bool,
    },
    /// The JWKS changed (rotation, expiry, key revocation).
    JwksChanged,
}

/// A message that cannot be applied; the stream is dropped and resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProtocolError {
    /// A change or heartbeat skipped a sequence.
    #[error("expected sequence {expected}, got {got}")]
    Gap {
        /// The next sequence the tracker could apply.
        expected: u64,
        /// The sequence received.
        got: u64,
    },
    /// A change arrived before any snapshot.
    #[error("change {0} before a snapshot")]
    NoSnapshot(u64),
    /// The JWKS is not usable.
    #[error("unusable jwks: {0}")]
    Jwks(String),
    /// An empty message or change.
    #[error("empty {0}")]
    Empty(&'static str),
}

/// Applies control's messages to a [`ControlState`], in order.
#[derive(Debug)]
pub(crate) struct Tracker {
    pub(crate) state: ControlState,
    /// Revoked session id → unix second its last token expires (0: unknown, kept).
    expiries: HashMap<String, u64>,
    /// Announced heartbeat interval.
    pub(crate) heartbeat_interval: Option<Duration>,
}

impl Tracker {
    pub(crate) fn new() -> Tracker {
        Tracker {
            state: ControlState::pending(),
            expiries: HashMap::new(),
            heartbeat_interval: None,
        }
    }

    /// Applies one message received at `now`; returns the events it causes. On error the state
    /// is unchanged (a snapshot or change applies whole or not at all).
    pub(crate) fn apply(
        &mut self,
        message: Message,
        now: Instant,
    ) -> Result<Vec<ControlEvent>, ProtocolError> {
        let events = match message {
            Message::Snapshot(snapshot) => self.apply_snapshot(snapshot)?,
            Message::Change(change) => self.apply_change(change)?,
            Message::Heartbeat(beat) => {
                if !self.state.ready {
                    return Err(ProtocolError::NoSnapshot(beat.sequence));
                }
                if beat.sequence > self.state.sequence {
                    return Err(ProtocolError::Gap {
                        expected: self.state.sequence,
                        got: beat.sequence,
                    });
                }
                Vec::new()
            }
        };
        self.state.last_heartbeat = now;
        Ok(events)
    }

    fn apply_snapshot(
        &mut self,
        snapshot: pb::Snapshot,
    ) -> Result<Vec<ControlEvent>, ProtocolError> {
        let jwks = parse_jwks(&snapshot.jwks_json)?;
        let mut events = Vec::new();
        let mut revoked = HashSet::with_capacity(snapshot.revocations.len());
        let mut expiries = HashMap::with_capacity(snapshot.revocations.len());
        for revocation in snapshot.revocations {
            if !self.state.revoked.contains(&revocation.session_id) {
                events.push(ControlEvent::Revoked {
                    session_id: revocation.session_id.clone(),
                    reason: revocation.reason.clone(),
                });
            }
            expiries.insert(revocation.session_id.clone(), revocation.expires_at);
            revoked.insert(revocation.session_id);
        }
        let (deny_all, reason) = snapshot
            .deny_all
            .map_or((false, String::new()), |d| (d.on, d.reason));
        if deny_all != self.state.deny_all || !self.state.ready {
            events.push(ControlEvent::DenyAll { on: deny_all });
        }
        if jwks != self.state.jwks {
            events.push(ControlEvent::JwksChanged);
        }
        self.state.jwks = jwks;
        self.state.revoked = revoked;
        self.expiries = expiries;
        self.state.deny_all = deny_all;
        self.state.deny_all_reason = reason;
        self.state.sequence = snapshot.sequence;
        self.state.store_id = snapshot.store_id;
        self.state.ready = true;
        if snapshot.heartbeat_interval_ms > 0 {
            self.heartbeat_interval = Some(Duration::from_millis(snapshot.heartbeat_interval_ms));
        }
        Ok(events)
    }

    fn apply_change(&mut self, change: pb::Change) -> Result<Vec<ControlEvent>, ProtocolError> {
        if !self.state.ready {
            return Err(ProtocolError::NoSnapshot(change.sequence));
        }
        let expected = self.state.sequence.saturating_add(1);
        if change.sequence <= self.state.sequence {
            // Already applied (a resume overlapping a snapshot): harmless, skip.
            return Ok(Vec::new());
        }
        if change.sequence != expected {
            return Err(ProtocolError::Gap {
                expected,
                got: change.sequence,
            });
        }
        let events = match change.change.ok_or(ProtocolError::Empty("change"))? {
            pb::change::Change::Revocation(revocation) => {
                let event = ControlEvent::Revoked {
                    session_id: revocation.session_id.clone(),
                    reason: revocation.reason,
                };
                self.expiries
                    .insert(revocation.session_id.clone(), revocation.expires_at);
                self.state.revoked.insert(revocation.session_id);
                vec![event]
            }
            pb::change::Change::DenyAll(deny_all) => {
                self.state.deny_all = deny_all.on;
                self.state.deny_all_reason = if deny_all.on {
                    deny_all.reason
                } else {
                    String::new()
                };
                vec![ControlEvent::DenyAll { on: deny_all.on }]
            }
            pb::change::Change::Jwks(jwks) => {
                self.state.jwks = parse_jwks(&jwks.json)?;
                vec![ControlEvent::JwksChanged]
            }
        };
        self.state.sequence = change.sequence;
        Ok(events)
    }

    /// Forgets revocations whose session's last token expired more than `leeway` before
    /// `unix_now`: such tokens fail on `exp` anyway. Returns how many were forgotten.
    pub(crate) fn prune(&mut self, unix_now: u64, leeway: Duration) -> usize {
        let before = self.state.revoked.len();
        let expiries = &mut self.expiries;
        self.state.revoked.retain(|sid| {
            let keep = match expiries.get(sid) {
                Some(&exp) if exp > 0 => exp.saturating_add(leeway.as_secs()) >= unix_now,
                _ => true,
            };
            if !keep {
                expiries.remove(sid);
            }
            keep
        });
        before - self.state.revoked.len()
    }
}

/// Parses and checks a JWKS document: it must be usable by the token verifier before it
/// replaces the one in force.
fn parse_jwks(json: &str) -> Result<serde_json::Value, ProtocolError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ProtocolError::Jwks(e.to_string()))?;
    Jwks::parse(&value).map_err(|e| ProtocolError::Jwks(e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests;
