//! What every tracker case needs, made once per run.

use std::time::Duration;

/// What every tracker case needs.
#[derive(Clone)]
pub struct Env {
    pub peer_timeout: Duration,
    /// How long a directory response may take.
    pub reply_wait: Duration,
    /// The serving ports this run announces are `port_base + n`.
    pub(super) port_base: u16,
}

impl Env {
    pub fn port(&self, n: u16) -> u16 {
        self.port_base + n
    }
}
