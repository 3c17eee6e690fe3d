//! [`Profiles`]: the policy set a session's profile is checked against, loaded from the policy
//! directory. An unknown profile triggers a reload (at most once a second), so a profile added
//! to the directory is accepted without restarting control; a broken reload keeps the last good
//! set.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use policies::PolicySet;

use crate::error::ControlError;

const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The loaded policy set.
#[derive(Debug)]
pub(crate) struct Profiles {
    dir: PathBuf,
    state: Mutex<(Arc<PolicySet>, Instant)>,
}

impl Profiles {
    /// Loads `dir` (blocking).
    pub(crate) fn load(dir: PathBuf) -> Result<Profiles, ControlError> {
        let set = PolicySet::load_dir(&dir).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ControlError::Policies(lines.join("; "))
        })?;
        Ok(Profiles {
            dir,
            state: Mutex::new((Arc::new(set), Instant::now())),
        })
    }

    /// The set in force.
    pub(crate) fn current(&self) -> Option<Arc<PolicySet>> {
        self.state.lock().ok().map(|s| Arc::clone(&s.0))
    }

    /// Whether `name` is a loaded profile, reloading once if it is not.
    pub(crate) async fn contains(self: &Arc<Self>, name: &str) -> bool {
        let due = match self.state.lock() {
            Ok(state) if state.0.profile(name).is_some() => return true,
            Ok(state) => state.1.elapsed() >= RELOAD_INTERVAL,
            Err(_) => return false,
        };
        if !due {
            return false;
        }
        let this = Arc::clone(self);
        let reloaded = tokio::task::spawn_blocking(move || PolicySet::load_dir(&this.dir)).await;
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        state.1 = Instant::now();
        match reloaded {
            Ok(Ok(set)) => state.0 = Arc::new(set),
            Ok(Err(errors)) => {
                tracing::warn!(target: "control", errors = errors.len(), "policy reload failed; keeping the last good set");
            }
            Err(_) => {}
        }
        state.0.profile(name).is_some()
    }
}
