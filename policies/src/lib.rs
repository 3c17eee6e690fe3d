#![doc = include_str!("../README.md")]

pub mod authority;
mod compile;
mod decide;
pub mod defaults;
pub mod denyset;
mod error;
mod host;
mod model;
mod rule;
mod set;
mod units;
mod walker;
mod yaml;

pub use authority::{Destination, parse_authority};
pub use compile::{API_VERSION, KIND};
pub use error::{AuthorityError, PolicyError};
pub use model::{
    HostPattern, Limits, Mode, Profile, Rule, Rung, Tripwire, TripwireAction, Upgrade,
};
pub use set::PolicySet;
