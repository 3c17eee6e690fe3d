//! CPU time and resident memory of a process and its descendants, and the host's load
//! average, from `/proc`.
//!
//! CPU is `utime + stime` of `/proc/<pid>/stat` summed over the process tree, sampled when the
//! measured window starts and when it ends; RSS is `VmRSS` of `/proc/<pid>/status` summed over
//! the tree, the peak of periodic samples. The tree is found once, when the window opens: walking
//! all of `/proc` takes a millisecond or more, and doing it on every sample would stall the load
//! generator's core ten times a second during proxy runs only (the direct run has no sampler).

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::Phases;

/// Interval between RSS samples.
const RSS_INTERVAL: Duration = Duration::from_millis(100);
/// Linux `USER_HZ` on every mainstream architecture (`getconf CLK_TCK`).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// What a process tree used over the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    /// CPU seconds (user + system) spent in the window.
    pub cpu_seconds: f64,
    /// `cpu_seconds` as a percentage of one core over the window.
    pub cpu_percent_of_core: f64,
    /// Peak resident set size in MiB.
    pub rss_peak_mib: f64,
}

/// Samples a process tree on a background thread over a run's measured window.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<Usage>>>,
}

impl Sampler {
    /// Starts sampling `pid` (and its descendants) for the measured window of `phases`.
    pub fn start(pid: u32, phases: Phases) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("usage-sampler".into())
            .spawn(move || sample(pid, phases, &flag))
            .ok();
        Self { stop, thread }
    }

    /// Stops sampling (early if the run ended early) and returns the usage, if the process
    /// could be read.
    pub fn finish(mut self) -> Option<Usage> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).flatten()
    }
}

fn sample(pid: u32, phases: Phases, stop: &AtomicBool) -> Option<Usage> {
    // Wait for the window to open, waking regularly to notice an early stop.
    while Instant::now() < phases.measure_start {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let left = phases
            .measure_start
            .saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(RSS_INTERVAL));
    }
    let tree = process_tree(pid);
    let first_ticks = cpu_ticks(pid, &tree)?;
    let first_at = Instant::now();
    let mut peak_kib = rss_kib(&tree);
    while Instant::now() < phases.end && !stop.load(Ordering::Relaxed) {
        let left = phases.end.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(RSS_INTERVAL));
        peak_kib = peak_kib.max(rss_kib(&tree));
    }
    let last_ticks = cpu_ticks(pid, &tree)?;
    let wall = first_at.elapsed().as_secs_f64();
    let cpu_seconds = last_ticks.saturating_sub(first_ticks) as f64 / CLOCK_TICKS_PER_SECOND;
    Some(Usage {
        cpu_seconds,
        cpu_percent_of_core: if wall > 0.0 {
            100.0 * cpu_seconds / wall
        } else {
            0.0
        },
        rss_peak_mib: peak_kib as f64 / 1024.0,
    })
}

/// `pid` and every descendant found by walking `/proc/*/stat` parent links.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if let Some(fields) = parse_stat(&stat) {
                parents.push((child, fields.ppid));
            }
        }
    }
    let mut tree = vec![pid];
    let mut next = 0;
    while let Some(current) = tree.get(next).copied() {
        next += 1;
        for (child, parent) in &parents {
            if *parent == current && !tree.contains(child) {
                tree.push(*child);
            }
        }
    }
    tree
}

/// Sum of `utime + stime` over `tree` (from [`process_tree`] of `pid`), or `None` if `pid`
/// itself is gone.
pub fn cpu_ticks(pid: u32, tree: &[u32]) -> Option<u64> {
    let mut total = None;
    for &member in tree {
        let stat = std::fs::read_to_string(format!("/proc/{member}/stat")).unwrap_or_default();
        if let Some(fields) = parse_stat(&stat) {
            *total.get_or_insert(0) += fields.utime + fields.stime;
        } else if member == pid {
            return None;
        }
    }
    total
}

/// Sum of `VmRSS` (KiB) over `tree`.
pub fn rss_kib(tree: &[u32]) -> u64 {
    tree.iter()
        .map(|member| {
            let status =
                std::fs::read_to_string(format!("/proc/{member}/status")).unwrap_or_default();
            parse_vm_rss_kib(&status).unwrap_or(0)
        })
        .sum()
}

/// The fields of `/proc/<pid>/stat` the sampler needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatFields {
    pub(crate) ppid: u32,
    pub(crate) utime: u64,
    pub(crate) stime: u64,
}

/// Parses `/proc/<pid>/stat`; the command name may hold spaces and parentheses, so fields are
/// counted after the last `)`.
pub(crate) fn parse_stat(stat: &str) -> Option<StatFields> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After the name: state(3) ppid(4) ... utime(14) stime(15), 1-based per proc(5).
    Some(StatFields {
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

/// Parses the `VmRSS:` line of `/proc/<pid>/status`, in KiB.
pub(crate) fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The host's 1-minute load average from `/proc/loadavg`, if readable.
pub fn host_load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
