#![doc = include_str!("../README.md")]

pub mod authority;
pub mod check;
mod compile;
mod decide;
pub mod defaults;
pub mod denyset;
mod deployment;
pub mod diff;
mod error;
pub mod explain;
mod host;
mod http;
mod inject;
mod model;
pub mod request;
mod rule;
pub mod schema;
mod set;
pub mod suite;
mod units;
mod walker;
mod yaml;

pub use authority::{Destination, parse_authority};
pub use compile::{API_VERSION, KIND};
pub use decide::ReportDecision;
pub use deployment::Deployment;
pub use error::{AuthorityError, PolicyError};
pub use http::HttpRules;
pub use inject::{Inject, InjectFormat};
pub use model::{
    HostPattern, Limits, Mode, Profile, Rule, Rung, Tripwire, TripwireAction, Upgrade,
};
pub use set::{Checked, PolicySet, is_policy_file_name, is_test_file_name};
