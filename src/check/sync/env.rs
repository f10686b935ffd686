//! What every sync case needs, made once per run.

use std::sync::Arc;
use std::time::Duration;

/// What every synchronizer case needs.
#[derive(Clone)]
pub struct Env {
    pub command: Arc<Vec<String>>,
    pub case_timeout: Duration,
    /// Synchronizers are started one at a time (see `lab::START_GAP`).
    pub start_gate: Arc<tokio::sync::Mutex<()>>,
}

impl Env {
    /// How long the synchronizer has for what a case of `budget` case timeouts waits for (the
    /// rest is for starting, judging and stopping).
    pub fn deadline(&self, budget: u32) -> Duration {
        self.case_timeout.mul_f64(0.7 * f64::from(budget))
    }
}
