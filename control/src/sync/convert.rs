//! Store values → sync protocol messages. The only place the two meet.

use std::time::Duration;

use control_client::pb::{self, ControlMessage, control_message};

use crate::store::{Change, ChangeKind, Revoked, SyncState};

pub(super) fn snapshot(state: SyncState, store_id: &str, heartbeat: Duration) -> ControlMessage {
    message(control_message::Message::Snapshot(pb::Snapshot {
        sequence: state.sequence,
        store_id: store_id.to_owned(),
        jwks_json: state.jwks_json,
        revocations: state.revoked.into_iter().map(revocation).collect(),
        deny_all: Some(pb::DenyAll {
            on: state.deny_all.on,
            reason: state.deny_all.reason,
        }),
        heartbeat_interval_ms: u64::try_from(heartbeat.as_millis()).unwrap_or(u64::MAX),
    }))
}

pub(super) fn change(change: &Change) -> ControlMessage {
    let inner = match &change.kind {
        ChangeKind::Revocation {
            session_id,
            reason,
            expires_at,
        } => pb::change::Change::Revocation(pb::Revocation {
            session_id: session_id.clone(),
            reason: reason.clone(),
            expires_at: *expires_at,
        }),
        ChangeKind::DenyAll { on, reason } => pb::change::Change::DenyAll(pb::DenyAll {
            on: *on,
            reason: reason.clone(),
        }),
        ChangeKind::Jwks { json } => pb::change::Change::Jwks(pb::Jwks { json: json.clone() }),
    };
    message(control_message::Message::Change(pb::Change {
        sequence: change.sequence,
        change: Some(inner),
    }))
}

pub(super) fn heartbeat(sequence: u64, time_ms: u64) -> ControlMessage {
    message(control_message::Message::Heartbeat(pb::Heartbeat {
        sequence,
        time_ms,
    }))
}

fn revocation(revoked: Revoked) -> pb::Revocation {
    pb::Revocation {
        session_id: revoked.session_id,
        reason: revoked.reason,
        expires_at: revoked.expires_at,
    }
}

fn message(message: control_message::Message) -> ControlMessage {
    ControlMessage {
        message: Some(message),
    }
}
