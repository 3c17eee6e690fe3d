#![doc = include_str!("../README.md")]

mod decoder;
mod error;
mod forms;
mod patterns;
#[cfg(test)]
mod samples;
mod scrubber;

pub use decoder::{Coding, Decoder, MAX_RATIO, MIN_BUDGET};
pub use error::DecodeError;
pub use patterns::Patterns;
pub use scrubber::{BodyScrubber, MARKER};
