//! `policy diff`: what changed between two policy sets, per profile — the thing a reviewer
//! reads. Destinations are matched by host pattern (a rule that only moved lines is
//! unchanged); settings (mode, limits, tripwire) are compared value by value. Credentials are
//! shown by secret name and header, never by value (a policy holds no values).

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::explain::{InjectView, RuleView, join};
use crate::model::{HostPattern, Profile, Rule};
use crate::set::PolicySet;
use crate::units::{format_duration, format_size};

/// What happened to a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in the new set.
    Added,
    /// Only in the old set.
    Removed,
    /// In both, with differences.
    Changed,
}

/// A setting whose value differs (`None`: the profile is absent on that side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingChange {
    /// `mode`, `limits.burst`, `tripwire.window`, …
    pub key: String,
    /// The old value, as written in a policy file.
    pub old: Option<String>,
    /// The new value.
    pub new: Option<String>,
}

/// A destination present on both sides with differences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationChange {
    /// The host pattern.
    pub host: String,
    /// The rule's id in the new set.
    pub id: String,
    /// Ports now allowed that were not.
    pub ports_added: Vec<u16>,
    /// Ports no longer allowed.
    pub ports_removed: Vec<u16>,
    /// The rung before and after, when it changed.
    pub rung: Option<SettingChange>,
    /// Exact addresses (past the deny-set) added.
    pub addresses_added: Vec<IpAddr>,
    /// Exact addresses removed.
    pub addresses_removed: Vec<IpAddr>,
    /// `Upgrade` protocols added.
    pub upgrades_added: Vec<String>,
    /// `Upgrade` protocols removed.
    pub upgrades_removed: Vec<String>,
    /// The `http.methods` before and after (`any` for no list), when they changed.
    pub methods: Option<SettingChange>,
    /// The `http.paths` before and after (`any` for no list), when they changed.
    pub paths: Option<SettingChange>,
    /// Credentials now attached (a changed secret or format shows as removed and added).
    pub inject_added: Vec<InjectView>,
    /// Credentials no longer attached.
    pub inject_removed: Vec<InjectView>,
}

/// What changed in one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileDiff {
    /// The profile name.
    pub name: String,
    /// Added, removed or changed.
    pub change: Change,
    /// Settings that differ (for an added or removed profile, all of them).
    pub settings: Vec<SettingChange>,
    /// Destinations only in the new set.
    pub destinations_added: Vec<RuleView>,
    /// Destinations only in the old set.
    pub destinations_removed: Vec<RuleView>,
    /// Destinations in both that differ.
    pub destinations_changed: Vec<DestinationChange>,
}

/// Every difference between two sets, profiles sorted by name; unchanged profiles are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// The profiles that differ.
    pub profiles: Vec<ProfileDiff>,
}

impl Diff {
    /// Whether the two sets allow exactly the same.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }
}

/// Compares `old` with `new`.
pub fn diff(old: &PolicySet, new: &PolicySet) -> Diff {
    let names: BTreeSet<&str> = old
        .profiles()
        .chain(new.profiles())
        .map(|p| p.name.as_str())
        .collect();
    let profiles = names
        .into_iter()
        .filter_map(|name| {
            profile_diff(
                name,
                old.profile(name).map(AsRef::as_ref),
                new.profile(name).map(AsRef::as_ref),
            )
        })
        .collect();
    Diff { profiles }
}

fn profile_diff(name: &str, old: Option<&Profile>, new: Option<&Profile>) -> Option<ProfileDiff> {
    let change = match (old, new) {
        (None, None) => return None,
        (None, Some(_)) => Change::Added,
        (Some(_), None) => Change::Removed,
        (Some(_), Some(_)) => Change::Changed,
    };
    let old_settings = old.map(settings).unwrap_or_default();
    let new_settings = new.map(settings).unwrap_or_default();
    let keys = old_settings.iter().chain(&new_settings).map(|(k, _)| *k);
    let mut seen = BTreeSet::new();
    let value = |list: &[(&str, String)], key: &str| {
        list.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    };
    let settings: Vec<SettingChange> = keys
        .filter(|k| seen.insert(*k))
        .filter_map(|key| {
            let (o, n) = (value(&old_settings, key), value(&new_settings, key));
            (o != n).then(|| SettingChange {
                key: key.to_owned(),
                old: o,
                new: n,
            })
        })
        .collect();
    let old_rules = old.map(Profile::rules).unwrap_or_default();
    let new_rules = new.map(Profile::rules).unwrap_or_default();
    let find =
        |rules: &'_ [Rule], host: &HostPattern| rules.iter().find(|r| r.host == *host).cloned();
    let destinations_added: Vec<RuleView> = new_rules
        .iter()
        .filter(|r| find(old_rules, &r.host).is_none())
        .map(RuleView::from)
        .collect();
    let destinations_removed: Vec<RuleView> = old_rules
        .iter()
        .filter(|r| find(new_rules, &r.host).is_none())
        .map(RuleView::from)
        .collect();
    let destinations_changed: Vec<DestinationChange> = new_rules
        .iter()
        .filter_map(|n| find(old_rules, &n.host).and_then(|o| rule_change(&o, n)))
        .collect();
    let empty = settings.is_empty()
        && destinations_added.is_empty()
        && destinations_removed.is_empty()
        && destinations_changed.is_empty();
    (!empty).then(|| ProfileDiff {
        name: name.to_owned(),
        change,
        settings,
        destinations_added,
        destinations_removed,
        destinations_changed,
    })
}

/// A profile's settings as `(key, value as written)`.
fn settings(p: &Profile) -> Vec<(&'static str, String)> {
    vec![
        ("mode", p.mode.as_str().to_owned()),
        (
            "limits.requests_per_second",
            p.limits.requests_per_second.to_string(),
        ),
        ("limits.burst", p.limits.burst.to_string()),
        (
            "limits.max_connections",
            p.limits.max_connections.to_string(),
        ),
        (
            "limits.tunnel_idle_timeout",
            format_duration(p.limits.tunnel_idle_timeout),
        ),
        (
            "limits.tunnel_max_lifetime",
            format_duration(p.limits.tunnel_max_lifetime),
        ),
        (
            "tripwire.upload_bytes",
            format_size(p.tripwire.upload_bytes),
        ),
        (
            "tripwire.distinct_destinations",
            p.tripwire.distinct_destinations.to_string(),
        ),
        ("tripwire.window", format_duration(p.tripwire.window)),
        ("tripwire.action", p.tripwire.action.as_str().to_owned()),
    ]
}

fn rule_change(old: &Rule, new: &Rule) -> Option<DestinationChange> {
    let minus = |a: &[u16], b: &[u16]| {
        a.iter()
            .filter(|x| !b.contains(x))
            .copied()
            .collect::<Vec<_>>()
    };
    let minus_ip = |a: &[IpAddr], b: &[IpAddr]| {
        a.iter()
            .filter(|x| !b.contains(x))
            .copied()
            .collect::<Vec<_>>()
    };
    let names = |r: &Rule| {
        r.upgrades
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let (old_up, new_up) = (names(old), names(new));
    let listed = |key: &str, old: &[String], new: &[String]| {
        let shown = |v: &[String]| {
            if v.is_empty() {
                "any".to_owned()
            } else {
                v.join(", ")
            }
        };
        (old != new).then(|| SettingChange {
            key: key.to_owned(),
            old: Some(shown(old)),
            new: Some(shown(new)),
        })
    };
    let views = |r: &Rule| r.inject.iter().map(InjectView::from).collect::<Vec<_>>();
    let (old_inject, new_inject) = (views(old), views(new));
    let change = DestinationChange {
        host: new.host.to_string(),
        id: new.id.clone(),
        ports_added: minus(&new.ports, &old.ports),
        ports_removed: minus(&old.ports, &new.ports),
        rung: (old.rung != new.rung).then(|| SettingChange {
            key: "rung".to_owned(),
            old: Some(old.rung.as_str().to_owned()),
            new: Some(new.rung.as_str().to_owned()),
        }),
        addresses_added: minus_ip(&new.addresses, &old.addresses),
        addresses_removed: minus_ip(&old.addresses, &new.addresses),
        upgrades_added: new_up
            .iter()
            .filter(|u| !old_up.contains(u))
            .cloned()
            .collect(),
        upgrades_removed: old_up
            .iter()
            .filter(|u| !new_up.contains(u))
            .cloned()
            .collect(),
        methods: listed("http.methods", &old.http.methods, &new.http.methods),
        paths: listed("http.paths", &old.http.paths, &new.http.paths),
        inject_added: new_inject
            .iter()
            .filter(|i| !old_inject.contains(i))
            .cloned()
            .collect(),
        inject_removed: old_inject
            .iter()
            .filter(|i| !new_inject.contains(i))
            .cloned()
            .collect(),
    };
    let same = change.ports_added.is_empty()
        && change.ports_removed.is_empty()
        && change.rung.is_none()
        && change.addresses_added.is_empty()
        && change.addresses_removed.is_empty()
        && change.upgrades_added.is_empty()
        && change.upgrades_removed.is_empty()
        && change.methods.is_none()
        && change.paths.is_none()
        && change.inject_added.is_empty()
        && change.inject_removed.is_empty();
    (!same).then_some(change)
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.profiles.is_empty() {
            return writeln!(f, "no changes");
        }
        for p in &self.profiles {
            let change = match p.change {
                Change::Added => "added",
                Change::Removed => "removed",
                Change::Changed => "changed",
            };
            writeln!(f, "profile {}: {change}", p.name)?;
            for s in &p.settings {
                match (&s.old, &s.new) {
                    (Some(o), Some(n)) => writeln!(f, "  ~ {}: {o} -> {n}", s.key)?,
                    (None, Some(n)) => writeln!(f, "  + {}: {n}", s.key)?,
                    (Some(o), None) => writeln!(f, "  - {}: {o}", s.key)?,
                    (None, None) => {}
                }
            }
            if p.change == Change::Added && p.destinations_added.is_empty() {
                writeln!(f, "  (no destinations: the profile denies everything)")?;
            }
            for r in &p.destinations_added {
                writeln!(f, "  + destination {}", destination(r))?;
            }
            for r in &p.destinations_removed {
                writeln!(f, "  - destination {}", destination(r))?;
            }
            for c in &p.destinations_changed {
                writeln!(f, "  ~ destination {} ({}): {}", c.host, c.id, changes(c))?;
            }
        }
        let count = |c: Change| self.profiles.iter().filter(|p| p.change == c).count();
        writeln!(
            f,
            "{} profile(s) added, {} removed, {} changed",
            count(Change::Added),
            count(Change::Removed),
            count(Change::Changed)
        )
    }
}

/// `pypi.org ports 443 rung pass-through (f.yaml:7)`.
fn destination(r: &RuleView) -> String {
    let mut text = format!("{} ports {} rung {}", r.host, join(&r.ports), r.rung);
    if !r.addresses.is_empty() {
        text.push_str(&format!(" addresses {}", join(&r.addresses)));
    }
    if !r.upgrades.is_empty() {
        text.push_str(&format!(" upgrades {}", r.upgrades.join(", ")));
    }
    if !r.methods.is_empty() {
        text.push_str(&format!(" methods {}", r.methods.join(", ")));
    }
    if !r.paths.is_empty() {
        text.push_str(&format!(" paths {}", r.paths.join(", ")));
    }
    if !r.inject.is_empty() {
        text.push_str(&format!(" inject {}", join(&r.inject)));
    }
    text.push_str(&format!(" ({})", r.id));
    text
}

/// `ports +80 -8080; rung pass-through -> bump; addresses +10.0.0.1; methods any -> GET;
/// inject +x-api-key: {anthropic-api-key}`.
fn changes(c: &DestinationChange) -> String {
    let mut parts = Vec::new();
    let signed = |plus: String, minus: String| -> String {
        let mut items = Vec::new();
        if !plus.is_empty() {
            items.push(plus);
        }
        if !minus.is_empty() {
            items.push(minus);
        }
        items.join(" ")
    };
    let plus = |items: Vec<String>| {
        items
            .iter()
            .map(|i| format!("+{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let minus = |items: Vec<String>| {
        items
            .iter()
            .map(|i| format!("-{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let strings = |v: &[u16]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let ips = |v: &[IpAddr]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    if !c.ports_added.is_empty() || !c.ports_removed.is_empty() {
        parts.push(format!(
            "ports {}",
            signed(
                plus(strings(&c.ports_added)),
                minus(strings(&c.ports_removed))
            )
        ));
    }
    if let Some(r) = &c.rung {
        parts.push(format!(
            "rung {} -> {}",
            r.old.as_deref().unwrap_or_default(),
            r.new.as_deref().unwrap_or_default()
        ));
    }
    if !c.addresses_added.is_empty() || !c.addresses_removed.is_empty() {
        parts.push(format!(
            "addresses {}",
            signed(
                plus(ips(&c.addresses_added)),
                minus(ips(&c.addresses_removed))
            )
        ));
    }
    if !c.upgrades_added.is_empty() || !c.upgrades_removed.is_empty() {
        parts.push(format!(
            "upgrades {}",
            signed(
                plus(c.upgrades_added.clone()),
                minus(c.upgrades_removed.clone())
            )
        ));
    }
    for (name, change) in [("methods", &c.methods), ("paths", &c.paths)] {
        if let Some(ch) = change {
            parts.push(format!(
                "{name} {} -> {}",
                ch.old.as_deref().unwrap_or_default(),
                ch.new.as_deref().unwrap_or_default()
            ));
        }
    }
    if !c.inject_added.is_empty() || !c.inject_removed.is_empty() {
        let shown = |v: &[InjectView]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        parts.push(format!(
            "inject {}",
            signed(
                plus(shown(&c.inject_added)),
                minus(shown(&c.inject_removed))
            )
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests;
