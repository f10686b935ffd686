//! One transfer's rate (bytes per second), sampled once a second: the Transfers panel's
//! sparkline. Built by the UI from successive snapshots, so the transfer tasks keep no history.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::peer::transfer::progress::TransferProgress;

/// A transfer's rate is sampled this often for its sparkline...
const RATE_SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// ...and this many samples are kept (a minute: the widest sparkline drawn).
pub const RATE_SAMPLES: usize = 60;

pub struct RateHistory {
    pub transfer: Arc<TransferProgress>,
    pub samples: VecDeque<u64>,
    /// When the latest sample was taken (at first: when the transfer started).
    last: Option<Instant>,
}

impl RateHistory {
    pub fn new(transfer: Arc<TransferProgress>) -> RateHistory {
        RateHistory {
            samples: VecDeque::with_capacity(RATE_SAMPLES),
            // The first second's rate is an average over too little time to draw.
            last: Some(transfer.started),
            transfer,
        }
    }

    /// Takes `rate` as the sample for `now` if a second has passed since the last one.
    pub fn sample(&mut self, rate: f64, now: Instant) {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < RATE_SAMPLE_EVERY)
        {
            return;
        }
        self.last = Some(now);
        if self.samples.len() == RATE_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(rate.max(0.0) as u64);
    }
}
