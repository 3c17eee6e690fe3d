//! The periodic task: a scheduled key rotation when the active key is older than the rotation
//! interval, withdrawal of retired keys whose last token has expired, and pruning of the change
//! log past the retention.

use std::sync::Arc;

use tokio::time::MissedTickBehavior;
use trust_core::audit::ClassUid;

use crate::auth::Caller;
use crate::keys;
use crate::plane::Plane;
use crate::store::KeyState;

/// Runs [`once`] every maintenance interval until shutdown.
pub(crate) async fn run(plane: Arc<Plane>) {
    let mut tick = tokio::time::interval(plane.config.maintenance_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutdown = plane.shutdown.clone();
    loop {
        tokio::select! {
            () = crate::plane::stopped(&mut shutdown) => return,
            _ = tick.tick() => once(&plane).await,
        }
    }
}

/// One pass. Failures are logged; the next pass retries.
pub(crate) async fn once(plane: &Plane) {
    if rotation_due(plane).await {
        let mut entry = plane.entry(
            &Caller::control(),
            ClassUid::EntityManagement,
            "key_rotate",
            None,
        );
        entry.detail = Some("scheduled".to_owned());
        match plane.audit_first(entry).await {
            Ok(_) => {
                if let Err(e) = keys::rotate(plane, false).await {
                    tracing::error!(target: "control", error = %e.message, "scheduled key rotation failed");
                }
            }
            Err(_) => {
                tracing::error!(target: "control", "scheduled key rotation postponed: audit unavailable")
            }
        }
    }
    if let Err(e) = keys::expire(plane).await {
        tracing::error!(target: "control", error = %e.message, "expiring retired keys failed");
    }
    let keep = plane.config.change_retention;
    let latest = plane.sequence();
    match plane.blocking(move |store| store.prune_changes(keep)).await {
        Ok(pruned) => {
            let oldest = latest.saturating_sub(keep).saturating_add(1);
            plane
                .metrics
                .oldest_change
                .set(i64::try_from(oldest).unwrap_or(i64::MAX));
            if pruned > 0 {
                tracing::debug!(target: "control", pruned, "change log pruned");
            }
        }
        Err(e) => tracing::error!(target: "control", error = %e, "pruning the change log failed"),
    }
    plane.metrics.maintenance_runs.inc();
}

async fn rotation_due(plane: &Plane) -> bool {
    let active = plane.keys.read().await.kid().to_owned();
    let Ok(records) = plane.blocking(|store| store.keys()).await else {
        return false;
    };
    let interval = plane.config.key_rotation_interval.as_secs();
    records
        .iter()
        .find(|k| k.kid == active && k.state == KeyState::Active)
        .is_some_and(|k| k.created_at.saturating_add(interval) <= plane.clock.unix())
}
