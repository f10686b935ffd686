//! At most one message in flight to a tracker. A classroom tracker reads one `recv()` as one JSON
//! value and drops a read that holds two, so a peer never sends the next message before the reply
//! to the previous one has arrived (or `REPLY_TIMEOUT` has passed). Keep-alives and re-announces
//! come due on their own timers; a keep-alive due while a re-announce is pending is merged into it
//! (the tracker answers both with the directory, and either one proves the peer alive).
//!
//! PURE: no sockets and no clock; the caller passes `now`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// How long a reply may take before the next message goes out anyway.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The next message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// The initial message with the current file list (first, and after a change).
    Announce,
    KeepAlive,
    /// p2p-tui's own request: every live holder of a name.
    Holders(String),
}

#[derive(Debug, Default)]
pub struct Outbox {
    /// When the message awaiting its reply was sent.
    in_flight: Option<Instant>,
    announce: bool,
    keep_alive: bool,
    holders: VecDeque<String>,
}

impl Outbox {
    /// An outbox whose first message is the initial announcement.
    pub fn new() -> Outbox {
        Outbox {
            announce: true,
            ..Outbox::default()
        }
    }

    pub fn announce_due(&mut self) {
        self.announce = true;
    }

    pub fn keep_alive_due(&mut self) {
        self.keep_alive = true;
    }

    pub fn ask_holders(&mut self, name: String) {
        self.holders.push_back(name);
    }

    /// A whole value arrived from the tracker: the message in flight has its reply.
    pub fn replied(&mut self) {
        self.in_flight = None;
    }

    /// The message to send now, if the tracker is free to take one; marks it in flight.
    pub fn next(&mut self, now: Instant) -> Option<Outgoing> {
        if self
            .in_flight
            .is_some_and(|sent| now.duration_since(sent) < REPLY_TIMEOUT)
        {
            return None;
        }
        self.in_flight = None;
        let message = if self.announce {
            self.announce = false;
            self.keep_alive = false;
            Outgoing::Announce
        } else if let Some(name) = self.holders.pop_front() {
            Outgoing::Holders(name)
        } else if self.keep_alive {
            self.keep_alive = false;
            Outgoing::KeepAlive
        } else {
            return None;
        };
        self.in_flight = Some(now);
        Some(message)
    }

    /// When to look again even if nothing arrives: the reply timeout of the message in flight.
    pub fn wake_at(&self) -> Option<Instant> {
        self.in_flight.map(|sent| sent + REPLY_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_sent_while_a_reply_is_awaited() {
        let now = Instant::now();
        let mut outbox = Outbox::new();
        assert_eq!(outbox.next(now), Some(Outgoing::Announce));
        outbox.keep_alive_due();
        outbox.ask_holders("f".into());
        assert_eq!(outbox.next(now), None);
        assert_eq!(outbox.next(now + Duration::from_secs(4)), None);
        outbox.replied();
        assert_eq!(outbox.next(now), Some(Outgoing::Holders("f".into())));
        outbox.replied();
        assert_eq!(outbox.next(now), Some(Outgoing::KeepAlive));
        outbox.replied();
        assert_eq!(outbox.next(now), None);
    }

    #[test]
    fn a_pending_keep_alive_is_merged_into_a_pending_announce() {
        let now = Instant::now();
        let mut outbox = Outbox::new();
        assert_eq!(outbox.next(now), Some(Outgoing::Announce));
        outbox.keep_alive_due();
        outbox.announce_due();
        outbox.keep_alive_due();
        outbox.replied();
        assert_eq!(outbox.next(now), Some(Outgoing::Announce));
        outbox.replied();
        assert_eq!(outbox.next(now), None);
    }

    #[test]
    fn a_lost_reply_delays_the_next_message_by_the_timeout_only() {
        let now = Instant::now();
        let mut outbox = Outbox::new();
        assert_eq!(outbox.next(now), Some(Outgoing::Announce));
        assert_eq!(outbox.wake_at(), Some(now + REPLY_TIMEOUT));
        outbox.keep_alive_due();
        assert_eq!(outbox.next(now + REPLY_TIMEOUT), Some(Outgoing::KeepAlive));
        // Timed out with nothing to send: the tracker counts as free again.
        assert_eq!(outbox.next(now + REPLY_TIMEOUT * 2), None);
        assert_eq!(outbox.wake_at(), None);
    }
}
