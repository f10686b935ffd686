//! The transfers the Transfers panel shows: the latest snapshot of each (running and recent,
//! pulled once per frame), their rate histories, which one is selected, and which the user
//! cleared. Its keys: j/k select, d cancels, c / C clear.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::effect::{Action, BarMessage, Effect, TransferHandle};
use super::rate_history::RateHistory;
use crate::core::protocol::lines::LineKind;
use crate::peer::transfer::progress::{Direction, Outcome, TransferProgress, TransferSnapshot};

pub struct Transfers {
    /// The latest transfers (running and recent) as of `now`, oldest first, cleared ones left out.
    pub list: Vec<TransferSnapshot>,
    handles: Vec<Arc<TransferProgress>>,
    /// Per transfer of `handles` (same order), its rate once a second.
    rate_history: Vec<RateHistory>,
    /// Transfers the user cleared (held, so they are known when the next list comes).
    cleared: Vec<Arc<TransferProgress>>,
    selected: Option<Arc<TransferProgress>>,
    /// Index into `list` of the selected one.
    pub selected_index: Option<usize>,
    /// The time of the latest frame: rates and ETAs are derived against it.
    pub now: Instant,
}

impl Default for Transfers {
    fn default() -> Transfers {
        Transfers {
            list: Vec::new(),
            handles: Vec::new(),
            rate_history: Vec::new(),
            cleared: Vec::new(),
            selected: None,
            selected_index: None,
            now: Instant::now(),
        }
    }
}

impl Transfers {
    /// The latest transfers; with the panel `focused`, one stays selected.
    pub fn on_progress(
        &mut self,
        transfers: Vec<Arc<TransferProgress>>,
        now: Instant,
        focused: bool,
    ) {
        // Cleared transfers the engine has since forgotten need not be held any longer.
        self.cleared
            .retain(|c| transfers.iter().any(|t| Arc::ptr_eq(t, c)));
        self.handles = transfers
            .into_iter()
            .filter(|t| !self.cleared.iter().any(|c| Arc::ptr_eq(t, c)))
            .collect();
        self.list = self.handles.iter().map(|t| t.snapshot(now)).collect();
        self.sample_rates(now);
        self.now = now;
        self.selected_index = self
            .selected
            .as_ref()
            .and_then(|s| self.handles.iter().position(|t| Arc::ptr_eq(t, s)));
        if self.selected_index.is_none() {
            self.selected = None;
            if focused {
                self.select_newest();
            }
        }
    }

    /// Each running transfer's rate, into its history (kept across frames by handle).
    fn sample_rates(&mut self, now: Instant) {
        let mut earlier = std::mem::take(&mut self.rate_history);
        self.rate_history = (self.handles.iter().zip(&self.list))
            .map(|(handle, snapshot)| {
                let mut history = earlier
                    .iter()
                    .position(|h| Arc::ptr_eq(&h.transfer, handle))
                    .map(|at| earlier.swap_remove(at))
                    .unwrap_or_else(|| RateHistory::new(Arc::clone(handle)));
                if snapshot.outcome == Outcome::Running {
                    history.sample(snapshot.rate, now);
                }
                history
            })
            .collect();
    }

    /// The rate of `list[index]`, one sample a second, oldest first (at most
    /// `RATE_SAMPLES`; frozen when the transfer ends).
    pub fn rate_history(&self, index: usize) -> &VecDeque<u64> {
        static NONE: VecDeque<u64> = VecDeque::new();
        self.rate_history.get(index).map_or(&NONE, |h| &h.samples)
    }

    pub fn select(&mut self, index: Option<usize>) {
        self.selected = index.and_then(|i| self.handles.get(i).cloned());
        self.selected_index = self.selected.as_ref().and(index);
    }

    /// The panel got the keys: the newest transfer is selected if none is.
    pub fn on_focus(&mut self) {
        if self.selected_index.is_none() {
            self.select_newest();
        }
    }

    fn select_newest(&mut self) {
        self.select(self.handles.len().checked_sub(1));
    }

    /// How many run.
    pub fn running(&self) -> usize {
        (self.list.iter())
            .filter(|t| t.outcome == Outcome::Running)
            .count()
    }

    /// Whether `peer` left a transfer that is still shown (what transfers observe, between probes).
    pub fn left_mid_transfer(&self, peer: &str) -> bool {
        self.list
            .iter()
            .any(|t| t.peers.iter().any(|p| p.id == peer && p.left && p.done > 0))
    }

    /// Keys with the Transfers panel focused.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let count = self.list.len();
        match key.code {
            // Shown newest first: down is older.
            KeyCode::Char('j') | KeyCode::Down => {
                let next = self
                    .selected_index
                    .map_or(count.checked_sub(1), |i| Some(i.saturating_sub(1)));
                self.select(next);
            }
            KeyCode::Char('k') | KeyCode::Up => {
                let next = self
                    .selected_index
                    .map_or(count.checked_sub(1), |i| Some((i + 1).min(count - 1)));
                self.select(next);
            }
            KeyCode::Char('d') | KeyCode::Delete => return self.cancel_selected(),
            KeyCode::Char('c') => return self.clear(false),
            KeyCode::Char('C') => return self.clear(true),
            KeyCode::Char('#') => return vec![Effect::TypeIntoBar(key)],
            _ => {}
        }
        Vec::new()
    }

    fn cancel_selected(&mut self) -> Vec<Effect> {
        let (Some(t), Some(handle)) = (
            self.selected_index.and_then(|i| self.list.get(i)),
            self.selected.clone(),
        ) else {
            return Vec::new();
        };
        if t.outcome != Outcome::Running {
            let text = format!("{} has ended: c clears it from the list", t.file);
            return vec![Effect::Say(BarMessage::info(text))];
        }
        let what = match t.direction {
            Direction::Download => "download",
            Direction::Upload => "upload",
        };
        let note = format!(
            "Cancelling the {what} of file {} (asked from the Transfers panel)",
            t.file
        );
        vec![
            Effect::Log(LineKind::Note, note),
            Effect::Act(Action::Cancel(TransferHandle(handle))),
        ]
    }

    /// Clears the selected finished transfer, or all finished ones.
    fn clear(&mut self, all: bool) -> Vec<Effect> {
        let finished = |t: &&Arc<TransferProgress>| t.outcome() != Outcome::Running;
        let gone: Vec<Arc<TransferProgress>> = if all {
            self.handles.iter().filter(finished).cloned().collect()
        } else {
            self.selected.iter().filter(finished).cloned().collect()
        };
        if gone.is_empty() {
            let text = "Only finished transfers can be cleared (d cancels a running one)";
            return vec![Effect::Say(BarMessage::info(text.into()))];
        }
        let handles = std::mem::take(&mut self.handles);
        self.cleared.extend(gone);
        // Still focused: a key just came from the panel.
        self.on_progress(handles, self.now, true);
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ratatui::crossterm::event::KeyModifiers;

    use super::*;
    use crate::front::tui::state::rate_history::RATE_SAMPLES;

    fn press(transfers: &mut Transfers, code: KeyCode) -> Vec<Effect> {
        transfers.on_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn a_peer_that_left_a_transfer_is_known_as_such() {
        let mut transfers = Transfers::default();
        let t = TransferProgress::new(
            "f",
            Direction::Download,
            500,
            vec!["p2".into(), "p3".into()],
        );
        t.requested(1);
        t.chunk_done(1, 1, 100);
        t.peer_left(1, &[], &[(0, 2)], "p3 left".into());
        transfers.on_progress(vec![Arc::new(t)], Instant::now(), false);
        assert!(transfers.left_mid_transfer("p3"));
        assert!(!transfers.left_mid_transfer("p2"));
    }

    #[test]
    fn rates_are_sampled_once_a_second_kept_for_a_minute_and_frozen_at_the_end() {
        let mut transfers = Transfers::default();
        let t0 = Instant::now();
        let t = Arc::new(
            TransferProgress::new("big.bin", Direction::Download, 1_000_000, vec!["p2".into()])
                .started_at(t0),
        );
        let frame = |transfers: &mut Transfers, ms: u64| {
            let now = t0 + Duration::from_millis(ms);
            transfers.on_progress(vec![Arc::clone(&t)], now, false)
        };
        // Frames every 100 ms; 10 chunks of 100 bytes arrive in each: 10 kB/s.
        let mut chunk = 0;
        for frame_no in 0..=25u64 {
            for _ in 0..10 {
                t.requested(0);
                t.chunk_done(0, chunk, 100);
                chunk += 1;
            }
            frame(&mut transfers, frame_no * 100);
        }
        // Nothing in the first second (too short to measure), then one sample a second.
        let samples: Vec<u64> = transfers.rate_history(0).iter().copied().collect();
        assert_eq!(samples.len(), 2, "{samples:?}");
        assert!(
            samples.iter().all(|&r| (9_000..=11_000).contains(&r)),
            "{samples:?}"
        );
        // Ten minutes of frames: only the latest minute is kept.
        for second in 3..600u64 {
            frame(&mut transfers, second * 1000);
        }
        assert_eq!(transfers.rate_history(0).len(), RATE_SAMPLES);
        assert_eq!(
            transfers.rate_history(0).back(),
            Some(&0),
            "nothing arrived lately"
        );
        // Finished: the history stays as it was.
        t.finish(true);
        let before = transfers.rate_history(0).clone();
        frame(&mut transfers, 700_000);
        assert_eq!(transfers.rate_history(0), &before);
        // A second transfer gets its own history, and the first keeps its own.
        let other = Arc::new(
            TransferProgress::new("other.bin", Direction::Download, 1000, vec!["p2".into()])
                .started_at(t0 + Duration::from_secs(701)),
        );
        transfers.on_progress(
            vec![Arc::clone(&t), Arc::clone(&other)],
            t0 + Duration::from_secs(701),
            false,
        );
        assert_eq!(transfers.rate_history(0), &before);
        assert!(transfers.rate_history(1).is_empty());
        // Cleared: its history goes with it.
        transfers.on_focus();
        press(&mut transfers, KeyCode::Char('C'));
        assert_eq!(transfers.list.len(), 1);
        assert_eq!(transfers.list[0].file, "other.bin");
        assert!(transfers.rate_history(0).is_empty());
    }
}
