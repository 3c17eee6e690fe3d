//! The audit event: one decision or control action, shaped after OCSF 1.x.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::DenyReason;

/// One audit event, written as one JSON line (fields in declaration order, `None` omitted).
///
/// Fill it with [`AuditEvent::new`] (or [`allow`](AuditEvent::allow) /
/// [`deny`](AuditEvent::deny) / [`alert`](AuditEvent::alert)) and set the public fields. No field
/// carries a header value other than Host and User-Agent, a body, or a secret value: `injected`
/// holds secret *names*. The writer also redacts any field holding a JWT-shaped string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The OCSF class: 4001 tunnels, 4002 HTTP requests, 3002/3004 control, 0 the log's own.
    pub class_uid: ClassUid,
    /// What happened: `connect`, `request`, `tunnel_close`, `tripwire`, `policy_reload`, …
    pub activity: Cow<'static, str>,
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The request id (`x-request-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The session the request belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The session's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The session's policy profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The decision: allow, deny or alert.
    pub action: Action,
    /// Whether the activity succeeded.
    pub outcome: Outcome,
    /// The deny reason code ([`DenyReason::code`]) or another short status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<Cow<'static, str>>,
    /// The destination host as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_host: Option<String>,
    /// The destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// The resolved destination address that was checked and connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_addr: Option<IpAddr>,
    /// The rung the connection took (e.g. `pass_through`, `bump`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rung: Option<Cow<'static, str>>,
    /// The deciding rule's id, `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// An exception that changed the default outcome, e.g. `address_rule` when an exact-address
    /// rule let a deny-set address through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Cow<'static, str>>,
    /// The HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The HTTP Host header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_host: Option<String>,
    /// The HTTP User-Agent header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The upstream's response status, for a forwarded request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Bytes from the sandbox to the destination.
    #[serde(default)]
    pub bytes_up: u64,
    /// Bytes from the destination to the sandbox.
    #[serde(default)]
    pub bytes_down: u64,
    /// How long the request or tunnel lasted, in milliseconds.
    #[serde(default)]
    pub duration_ms: f64,
    /// Names (never values) of the secrets injected into the request.
    #[serde(default)]
    pub injected: Vec<String>,
    /// How many injected values were removed from the response before it reached the sandbox
    /// (headers dropped plus body occurrences replaced); absent when nothing was injected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<u64>,
    /// Hash of the policy that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_hash: Option<String>,
    /// In a dry-run (report-only) profile: whether enforcing would have denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_would_deny: Option<bool>,
    /// OCSF `count`: on an `audit_gap` record, the events dropped since the previous gap record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl AuditEvent {
    /// Activity of the record the writer adds when events were dropped; `count` says how many.
    pub const ACTIVITY_GAP: &'static str = "audit_gap";
    /// Activity of the first record of every file after the first: its `prev_hash` and
    /// `sequence - 1` are the previous file's last hash and sequence.
    pub const ACTIVITY_ROTATE: &'static str = "audit_rotate";

    /// An event of `class` and `activity` with the given action, stamped now. `outcome` is
    /// `failure` for a deny and `success` otherwise; every optional field is empty.
    pub fn new(class: ClassUid, activity: impl Into<Cow<'static, str>>, action: Action) -> Self {
        let outcome = match action {
            Action::Deny => Outcome::Failure,
            Action::Allow | Action::Alert => Outcome::Success,
        };
        AuditEvent {
            class_uid: class,
            activity: activity.into(),
            time: now_ms(),
            trace_id: None,
            session_id: None,
            tenant_id: None,
            profile: None,
            action,
            outcome,
            status_detail: None,
            dst_host: None,
            dst_port: None,
            dst_addr: None,
            rung: None,
            rule: None,
            exception: None,
            method: None,
            http_host: None,
            user_agent: None,
            http_status: None,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0.0,
            injected: Vec::new(),
            redacted: None,
            policy_hash: None,
            enforce_would_deny: None,
            count: None,
        }
    }

    /// An allowed `activity` (outcome `success`).
    pub fn allow(class: ClassUid, activity: impl Into<Cow<'static, str>>) -> Self {
        AuditEvent::new(class, activity, Action::Allow)
    }

    /// A denied `activity` (outcome `failure`) with `status_detail` set to the reason's code.
    pub fn deny(
        class: ClassUid,
        activity: impl Into<Cow<'static, str>>,
        reason: DenyReason,
    ) -> Self {
        let mut event = AuditEvent::new(class, activity, Action::Deny);
        event.status_detail = Some(Cow::Borrowed(reason.code()));
        event
    }

    /// An alert about `activity` (outcome `success`), e.g. a tripwire or a policy reload.
    pub fn alert(class: ClassUid, activity: impl Into<Cow<'static, str>>) -> Self {
        AuditEvent::new(class, activity, Action::Alert)
    }

    /// Sets `duration_ms` from a [`Duration`] (sub-millisecond precision kept).
    pub fn set_duration(&mut self, duration: Duration) {
        self.duration_ms = duration.as_secs_f64() * 1000.0;
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The OCSF event class of an [`AuditEvent`], written as its number (`class_uid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassUid {
    /// `0`, OCSF base event: the audit log's own records (`audit_gap`, `audit_rotate`).
    Base,
    /// `3002`, authentication: control-plane session and token actions.
    Authentication,
    /// `3004`, entity management: control-plane changes (policy reload, kill switch).
    EntityManagement,
    /// `4001`, network activity: CONNECT tunnels.
    NetworkActivity,
    /// `4002`, HTTP activity: plain and bumped HTTP requests.
    HttpActivity,
}

impl ClassUid {
    /// Every class, in numeric order.
    pub const ALL: [ClassUid; 5] = [
        ClassUid::Base,
        ClassUid::Authentication,
        ClassUid::EntityManagement,
        ClassUid::NetworkActivity,
        ClassUid::HttpActivity,
    ];

    /// The OCSF `class_uid` number.
    pub const fn uid(self) -> u32 {
        match self {
            ClassUid::Base => 0,
            ClassUid::Authentication => 3002,
            ClassUid::EntityManagement => 3004,
            ClassUid::NetworkActivity => 4001,
            ClassUid::HttpActivity => 4002,
        }
    }

    /// The class with this number, if it is one of ours.
    pub fn from_uid(uid: u32) -> Option<ClassUid> {
        ClassUid::ALL.into_iter().find(|c| c.uid() == uid)
    }
}

impl Serialize for ClassUid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.uid())
    }
}

impl<'de> Deserialize<'de> for ClassUid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UidVisitor;
        impl Visitor<'_> for UidVisitor {
            type Value = ClassUid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OCSF class_uid (0, 3002, 3004, 4001 or 4002)")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<ClassUid, E> {
                u32::try_from(value)
                    .ok()
                    .and_then(ClassUid::from_uid)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(value), &self))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<ClassUid, E> {
                u64::try_from(value)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        deserializer.deserialize_u32(UidVisitor)
    }
}

/// The decision an [`AuditEvent`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `allow`: the request or tunnel went through.
    Allow,
    /// `deny`: it was refused; `status_detail` holds the reason code.
    Deny,
    /// `alert`: something to look at (a tripwire, a reload, the log's own gap records).
    Alert,
}

impl Action {
    /// The fixed label, as written (`allow`, `deny`, `alert`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Alert => "alert",
        }
    }
}

/// Whether the recorded activity succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `success`.
    Success,
    /// `failure`.
    Failure,
}

impl Outcome {
    /// The fixed label, as written (`success`, `failure`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One line of the log as read back: the event plus its chain fields. The writer does not use
/// this type (it appends the chain fields to the serialised event, see [`super`]); tools do.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditRecord {
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Position in the whole log, from 1, continuing across files and restarts.
    pub sequence: u64,
    /// `hash` of the previous record (64 zeros before the first).
    pub prev_hash: String,
    /// Hex SHA-256 of the line's bytes before `,"hash":"`.
    pub hash: String,
}
