//! Responses over the latency bar, and the episodes they come in: many slow responses close
//! together are one stall of the machine (or of the target), a steady trickle is a slow target.
//! This is what tells a noisy machine from a slow proxy when a p99 misses its bar.

use std::time::Duration;

use serde::Serialize;

use crate::client::SLOW_LATENCY;

/// Slow responses due less than this apart belong to one episode.
pub const EPISODE_GAP: Duration = Duration::from_millis(5);

/// The slow responses of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Slow {
    /// The bar, in µs: responses slower than this count.
    pub over_us: u64,
    /// How many responses were slower.
    pub requests: u64,
    /// Runs of slow responses, each due less than [`EPISODE_GAP`] after the one before.
    pub episodes: u64,
    /// Slow responses in the largest episode.
    pub largest_episode: u64,
}

impl Slow {
    /// Groups `at` (when each slow response was due, in any order) into episodes.
    pub fn from_times(at: &[Duration]) -> Self {
        let mut at = at.to_vec();
        at.sort_unstable();
        let mut episodes = 0;
        let mut largest = 0;
        let mut current = 0;
        let mut last: Option<Duration> = None;
        for &t in &at {
            if last.is_none_or(|l| t.saturating_sub(l) >= EPISODE_GAP) {
                episodes += 1;
                current = 0;
            }
            current += 1;
            largest = largest.max(current);
            last = Some(t);
        }
        Self {
            over_us: u64::try_from(SLOW_LATENCY.as_micros()).unwrap_or(u64::MAX),
            requests: at.len() as u64,
            episodes,
            largest_episode: largest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn slow_responses_close_together_are_one_episode() {
        // Out of order on purpose: connections report in their own order.
        let s = Slow::from_times(&ms(&[103, 100, 101, 500, 2000, 2004, 2008, 2012]));
        assert_eq!(
            s,
            Slow {
                over_us: 1000,
                requests: 8,
                episodes: 3,
                largest_episode: 4,
            }
        );
    }

    #[test]
    fn a_gap_of_exactly_the_bound_starts_a_new_episode_and_none_is_empty() {
        assert_eq!(Slow::from_times(&ms(&[0, 5])).episodes, 2);
        assert_eq!(Slow::from_times(&ms(&[0, 4])).episodes, 1);
        let none = Slow::from_times(&[]);
        assert_eq!(
            (none.requests, none.episodes, none.largest_episode),
            (0, 0, 0)
        );
    }
}
