//! Checks of a policy set against the deployment it runs in: a `bump` rule needs the
//! deployment CA, and every secret an `inject` names must be defined by an SDS source.
//!
//! The loader records where each `rung: bump` and each `inject[].secret` is written (a
//! [`Site`]); [`cross_check`] turns the sites that do not fit a [`Deployment`] into
//! positioned errors. `policy check --edge-config/--sds-config` runs it on every set it
//! checks, the edge on every set it loads ([`crate::PolicySet::cross_check`]).

use std::collections::BTreeSet;

use crate::error::PolicyError;
use crate::walker::suggest;
use crate::yaml::Pos;

/// Most secret names listed in an "unknown secret" message.
const MAX_LISTED: usize = 10;

/// What the deployment provides, as far as it is known. `None` means unknown: that check is
/// skipped (the default skips both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// Whether the edge has a deployment CA (`[bump] ca_dir` or `ca_secret` in its config).
    pub ca_configured: Option<bool>,
    /// Every secret name the SDS sources define.
    pub secrets: Option<BTreeSet<String>>,
}

/// Where a policy depends on the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Site {
    /// The file, as named in errors.
    pub(crate) file: String,
    /// Where the value is written.
    pub(crate) pos: Pos,
    /// The key path, `spec.destinations[0].rung`.
    pub(crate) field: String,
    /// What it needs.
    pub(crate) need: Need,
}

/// What a site needs from the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Need {
    /// The deployment CA (a `rung: bump`).
    Ca,
    /// A secret of this name (an `inject[].secret`).
    Secret(String),
}

/// Every site that `deployment` does not satisfy, as an error at the site, sorted by file,
/// line and column.
pub(crate) fn cross_check(sites: &[Site], deployment: &Deployment) -> Vec<PolicyError> {
    let mut errors: Vec<PolicyError> = sites
        .iter()
        .filter_map(|site| {
            let message = match (&site.need, deployment) {
                (
                    Need::Ca,
                    Deployment {
                        ca_configured: Some(false),
                        ..
                    },
                ) => format!(
                    "`{}`: a `bump` rule needs the deployment CA, and the edge config \
                     configures none; set `ca_dir` or `ca_secret` in its `[bump]` table, or \
                     carry this host `pass-through`",
                    site.field
                ),
                (
                    Need::Secret(name),
                    Deployment {
                        secrets: Some(known),
                        ..
                    },
                ) if !known.contains(name) => unknown_secret(&site.field, name, known),
                _ => return None,
            };
            Some(PolicyError {
                file: site.file.clone(),
                line: site.pos.line,
                column: site.pos.column,
                message,
            })
        })
        .collect();
    errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    errors
}

/// "`field`: `name` is defined by no SDS source (known: a, b); did you mean `a`?"
fn unknown_secret(field: &str, name: &str, known: &BTreeSet<String>) -> String {
    if known.is_empty() {
        return format!(
            "`{field}`: `{name}` is defined by no SDS source (the SDS sources define no secrets at all)"
        );
    }
    let listed: Vec<&str> = known.iter().map(String::as_str).take(MAX_LISTED).collect();
    let more = known.len().saturating_sub(listed.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let all: Vec<&str> = known.iter().map(String::as_str).collect();
    let hint = match suggest(name, &all) {
        Some(near) => format!("; did you mean `{near}`?"),
        None => String::new(),
    };
    let listed = listed.join(", ");
    format!("`{field}`: `{name}` is defined by no SDS source (known: {listed}{tail}){hint}")
}

#[cfg(test)]
mod tests;
