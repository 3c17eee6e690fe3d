//! Hot reload of the policy set: the policy directory is watched (and SIGHUP asks too); a new
//! set is parsed and validated whole, and only then swapped in atomically. Requests in flight
//! finish under the set they loaded; open tunnels re-check their destination against the new
//! set and close if it no longer allows them. A set that does not load changes nothing: its
//! errors are logged, counted and audited, and the last good set stays in force.

use crate::edge::Edge;
use notify::{RecursiveMode, Watcher};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use trust_core::audit::{AuditEvent, ClassUid};

/// Quiet time after the last file event before reloading: editors and `kubectl` write in bursts.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// Watches the policy directory and SIGHUP until the edge stops.
pub(crate) async fn watch(edge: Arc<Edge>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(64);
    let dir = edge.config.policy_dir.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.try_send(());
        }
    });
    // Keep the watcher alive for as long as this task runs.
    let _watcher = match watcher {
        Ok(mut w) => match w.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => Some(w),
            Err(e) => {
                tracing::error!(error = %e, dir = %dir.display(), "cannot watch the policy directory; reload with SIGHUP");
                None
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot start the policy watcher; reload with SIGHUP");
            None
        }
    };
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        tokio::select! {
            Some(()) = rx.recv() => {}
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {}
            else => return,
        }
        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
        reload(&edge).await;
    }
}

/// Loads the policy directory and swaps the set in if it is valid and new.
pub(crate) async fn reload(edge: &Edge) {
    let config = edge.config.clone();
    let loaded = tokio::task::spawn_blocking(move || crate::policy_load::load(&config)).await;
    let old_hash = edge.policies.load().hash().to_owned();
    match loaded {
        Ok(Ok(set)) if set.hash() == old_hash => {}
        Ok(Ok(set)) => {
            let hash = set.hash().to_owned();
            if let Some(secrets) = &edge.secrets {
                secrets.set_names(crate::secrets::wanted(&set, &edge.config));
            }
            edge.policies.store(Arc::new(set));
            edge.policy_generation.send_modify(|g| *g += 1);
            edge.metrics.policy_reloads_ok.inc();
            edge.metrics.set_policy(&hash);
            if let Some(control) = &edge.control {
                control.report_policy_hash(&hash);
            }
            tracing::info!(policy_hash = %hash, previous = %old_hash, "policy set reloaded");
            audit(edge, true, hash, None);
        }
        Ok(Err(errors)) => {
            edge.metrics.policy_reloads_failed.inc();
            for e in &errors {
                tracing::error!(error = %e, "policy reload refused");
            }
            let summary = format!(
                "{} problem(s); first: {}",
                errors.len(),
                errors.first().map(ToString::to_string).unwrap_or_default()
            );
            tracing::error!(policy_hash = %old_hash, "policy set refused; the last good set stays in force");
            audit(edge, false, old_hash, Some(summary));
        }
        Err(e) => tracing::error!(error = %e, "policy reload task failed"),
    }
}

fn audit(edge: &Edge, ok: bool, hash: String, problem: Option<String>) {
    let mut e = AuditEvent::alert(ClassUid::EntityManagement, "policy_reload");
    if !ok {
        e.outcome = trust_core::audit::Outcome::Failure;
        e.status_detail = Some(Cow::Borrowed("policy_invalid"));
        // File, line and message only; policy files hold no secrets.
        e.rule = problem;
    }
    e.policy_hash = Some(hash);
    edge.audit.record(e);
}
