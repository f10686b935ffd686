//! Transfer rates: samples of the byte counts over a short window, and the rates a snapshot
//! shows.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Rates are measured over about this long.
const RATE_WINDOW: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
pub(super) struct Samples {
    /// (when, total bytes, bytes per peer), oldest first.
    seen: VecDeque<(Instant, u64, Vec<u64>)>,
    /// When each peer's byte count last changed.
    last_change: Vec<Option<Instant>>,
}

/// How far back a sample may be to serve as a rate's base.
const MIN_RATE_SPAN: Duration = Duration::from_millis(500);

impl Samples {
    /// Records the counts seen at `now`; returns the base for rates (the oldest sample within
    /// the window, if old enough to measure over) and when each peer's count last changed.
    #[allow(clippy::type_complexity)]
    pub(super) fn record(
        &mut self,
        now: Instant,
        started: Instant,
        total: u64,
        per_peer: &[u64],
    ) -> (Option<(Instant, u64, Vec<u64>)>, Vec<Option<Instant>>) {
        self.last_change.resize(per_peer.len(), None);
        let previous = self.seen.back().map(|(_, _, p)| p.clone());
        for (k, &b) in per_peer.iter().enumerate() {
            let before = previous
                .as_ref()
                .map_or(0, |p| p.get(k).copied().unwrap_or(0));
            if b != before {
                self.last_change[k] = Some(now);
            } else if self.last_change[k].is_none() {
                self.last_change[k] = Some(started);
            }
        }
        let fresh = self.seen.back().is_none_or(|(at, _, _)| {
            now.saturating_duration_since(*at) >= Duration::from_millis(200)
        });
        if fresh {
            self.seen.push_back((now, total, per_peer.to_vec()));
        }
        // Keep one sample older than the window as the base.
        while self.seen.len() > 2
            && self
                .seen
                .get(1)
                .is_some_and(|(at, _, _)| now.saturating_duration_since(*at) >= RATE_WINDOW)
        {
            self.seen.pop_front();
        }
        let base = self
            .seen
            .front()
            .filter(|(at, _, _)| now.saturating_duration_since(*at) >= MIN_RATE_SPAN)
            .cloned();
        (base, self.last_change.clone())
    }
}

/// Rates as a snapshot shows them, in bytes per second.
pub(super) struct Rates {
    pub per_peer: Vec<f64>,
    pub total: f64,
    /// When each peer's byte count last changed (`None` once the transfer has ended).
    pub last_change: Vec<Option<Instant>>,
}
