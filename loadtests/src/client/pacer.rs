//! Releases the send slots of an open-loop run at a fine grain.
//!
//! tokio's timer has a 1 ms resolution: connections sleeping until their slots' times all wake on
//! the same millisecond tick, so at 10,000 req/s the target sees a burst of 10 requests every
//! millisecond rather than one every 100 µs — a target that takes 40 µs per request then queues
//! the tenth for 360 µs, and the measurement is of the generator's bursts, not of the offered
//! rate. The pacer is a thread sleeping on the kernel's high-resolution timer until the next
//! slot (at most [`TICK`]) that wakes the connections whose slots have come.
//!
//! Slot `s` (scheduled at `start + s / rate`) belongs to connection `s % connections`, exactly as
//! the connections number them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The pacer's tick: slots are released at most about this late.
pub(crate) const TICK: Duration = Duration::from_micros(100);

/// What the connections wait on.
#[derive(Debug)]
pub(crate) struct Slots {
    /// Offered requests per second.
    rate: f64,
    /// When slot 0 is due.
    start: Instant,
    /// Slots released so far: every slot below this number may be sent.
    released: AtomicU64,
    /// One wake-up per connection.
    wake: Vec<Notify>,
}

impl Slots {
    /// When slot `slot` is due: `start + slot / rate`.
    pub(crate) fn due(&self, slot: u64) -> Instant {
        self.start + Duration::from_secs_f64(slot as f64 / self.rate)
    }

    /// Waits until slot `slot` of connection `id` is released.
    pub(crate) async fn wait(&self, id: usize, slot: u64) {
        let Some(wake) = self.wake.get(id) else {
            return;
        };
        loop {
            let notified = wake.notified();
            if self.released.load(Ordering::Acquire) > slot {
                return;
            }
            notified.await;
        }
    }
}

/// Starts the pacer thread for `connections` connections at `rate` req/s from `start` until
/// `end`; returns what the connections wait on.
///
/// # Errors
/// The thread could not be started.
pub(crate) fn start(
    connections: usize,
    rate: f64,
    start: Instant,
    end: Instant,
) -> std::io::Result<Arc<Slots>> {
    let slots = Arc::new(Slots {
        rate,
        start,
        released: AtomicU64::new(0),
        wake: (0..connections).map(|_| Notify::new()).collect(),
    });
    let shared = Arc::clone(&slots);
    std::thread::Builder::new()
        .name("load-pacer".into())
        .spawn(move || release(&shared, end))?;
    Ok(slots)
}

/// Every tick (a high-resolution sleep), releases the slots whose time has come; stops once
/// `end` has passed, releasing everything so no connection waits past it.
fn release(slots: &Slots, end: Instant) {
    let connections = slots.wake.len() as u64;
    let mut released = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            slots.released.store(u64::MAX, Ordering::Release);
            slots.wake.iter().for_each(Notify::notify_one);
            return;
        }
        // Slots scheduled at or before `now`: s / rate <= elapsed.
        let due = (now.saturating_duration_since(slots.start).as_secs_f64() * slots.rate).floor()
            as u64
            + 1;
        if due > released {
            slots.released.store(due, Ordering::Release);
            for slot in released..due.min(released + connections) {
                if let Some(wake) = slots.wake.get((slot % connections) as usize) {
                    wake.notify_one();
                }
            }
            released = due;
        }
        let next = slots.due(released);
        std::thread::sleep(
            next.saturating_duration_since(Instant::now())
                .max(TICK / 4)
                .min(TICK),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn releases_every_slot_and_none_before_its_time() {
        let rate = 20_000.0;
        let start = Instant::now();
        let end = start + Duration::from_millis(100);
        let slots = start_slots(4, rate, start, end);
        let mut released = 0;
        for slot in 0..2_000u64 {
            let scheduled = slots.due(slot);
            if scheduled >= end {
                break;
            }
            tokio::time::timeout(
                Duration::from_secs(5),
                slots.wait((slot % 4) as usize, slot),
            )
            .await
            .unwrap_or_else(|_| panic!("slot {slot} never released"));
            assert!(Instant::now() >= scheduled, "slot {slot} released early");
            released += 1;
        }
        assert_eq!(released, 2_000);
    }

    #[tokio::test]
    async fn no_connection_waits_past_the_end() {
        let start = Instant::now();
        let end = start + Duration::from_millis(20);
        let slots = start_slots(2, 10.0, start, end);
        // Slot 5 would be due at 0.5 s, long after `end`.
        tokio::time::timeout(Duration::from_secs(5), slots.wait(1, 5))
            .await
            .unwrap_or_else(|_| panic!("waited past the end"));
    }

    fn start_slots(connections: usize, rate: f64, start: Instant, end: Instant) -> Arc<Slots> {
        match super::start(connections, rate, start, end) {
            Ok(slots) => slots,
            Err(e) => panic!("pacer: {e}"),
        }
    }
}
