//! Loading the policy directory for this edge: the files must be valid on their own and fit the
//! deployment — a `bump` rule needs the deployment CA this edge is configured with. Used at start
//! and by every reload, so a set that does not fit is refused and the last good one stays.

use crate::config::Config;
use policies::{Deployment, PolicyError, PolicySet};

/// Loads and checks the policy directory of `config`.
pub(crate) fn load(config: &Config) -> Result<PolicySet, Vec<PolicyError>> {
    let set = PolicySet::load_dir(&config.policy_dir)?;
    let deployment = Deployment {
        ca_configured: Some(config.bump.is_some()),
        secrets: None,
    };
    let problems = set.cross_check(&deployment);
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(problems)
    }
}
