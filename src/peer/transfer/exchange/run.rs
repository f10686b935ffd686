//! The windowed exchange with one peer, for both directions: requests go out in batches up to
//! the adaptive window, replies come back in order and are taken per batch (the fast path for
//! those already read whole, the general decoder for the rest), and a peer that closes between
//! messages after a reply gets the unanswered requests again on a new connection. What differs
//! by direction is the `Side`'s.

use std::future::Future;
use std::time::{Duration, Instant};

use super::link::{Link, PeerFailure, read_batch};
use super::wire::{Chunks, Form, InFlight, Sent, Way};
use crate::core::protocol::Framing;
use crate::peer::events::{LineBatch, Reporter};
use crate::peer::transfer::pipelining::PeerWindow;
use crate::peer::transfer::window::{AdaptiveWindow, FIRST_FLIGHT};

/// Read-buffer room beyond the replies in flight while requests are being sent.
const READ_SLACK: usize = 64 * 1024;

/// Why one peer's exchange ended.
pub enum Ended {
    /// Its part is done: every chunk acknowledged, or the download over (finished, failed or
    /// given up elsewhere).
    Done,
    /// The peer left the transfer.
    Left(PeerFailure),
}

/// The requests to send now.
pub struct Batch {
    pub sent: Vec<Sent>,
    /// At a top-up moment, for the adaptive window: whether there was less to send than room.
    pub top_up: Option<bool>,
}

/// What one direction decides; the loop in [`run`] does the rest.
pub trait Side {
    /// What the chunk messages look like.
    fn chunks(&self) -> &Chunks;

    /// The window's bound from the peer's (asked with nothing in flight): the memory budget's
    /// share or `--window` for a peer that pipelines, and an upload with a
    /// chunk delay goes in lockstep.
    fn cap(&self, peer_window: usize) -> usize;

    /// The requests to send now, with `window` and `in_flight` already outstanding, added to
    /// `sent` (empty: the last batch's buffer, used again); `Err` when this peer's part is over.
    fn next(
        &mut self,
        window: usize,
        in_flight: usize,
        sent: Vec<Sent>,
    ) -> impl Future<Output = Result<Batch, Ended>> + Send;

    /// `count` requests were queued.
    fn requested(&self, count: usize);

    /// Nothing to send and nothing awaited: waits until there may be work (the download's
    /// scheduler wakes it).
    fn idle(&self) -> impl Future<Output = ()> + Send;

    /// The pause after each batch sent (`--chunk-delay`).
    fn pause(&self) -> Duration;

    /// Replies that answer, in order, the oldest requests in flight: `(index, payload)`. Their
    /// lines are out already.
    fn answered(
        &mut self,
        answers: &[(u64, &[u8])],
    ) -> impl Future<Output = Result<(), Ended>> + Send;
}

/// Runs the exchange with the peer on `link` (`id` in the lines) until `side` says its part is
/// over or the peer leaves.
pub async fn run<S: Side>(side: &mut S, link: &mut Link, id: &str, out: &Reporter) -> Ended {
    let mut exchange = Exchange {
        peer_window: link.window().clone(),
        side,
        link,
        id,
        out,
        in_flight: InFlight::default(),
        spare: Vec::new(),
        lines: LineBatch::default(),
        cap: 1,
        sizing: AdaptiveWindow::new(1),
        first_flight: false,
        clock: Instant::now(),
    };
    loop {
        if let Err(ended) = exchange.step().await {
            return ended;
        }
    }
}

struct Exchange<'a, S> {
    side: &'a mut S,
    link: &'a mut Link,
    peer_window: PeerWindow,
    id: &'a str,
    out: &'a Reporter,
    /// Sent and not yet answered.
    in_flight: InFlight,
    /// The last batch's buffer, emptied: batches of thousands of requests do not each map and
    /// fault in a buffer of their own.
    spare: Vec<Sent>,
    lines: LineBatch,
    /// The window's bound, fixed while requests are in flight.
    cap: usize,
    sizing: AdaptiveWindow,
    /// Whether the window has had its first flight (a peer that speaks `compact` gets one).
    first_flight: bool,
    clock: Instant,
}

impl<S: Side> Exchange<'_, S> {
    /// Sends what the side hands out, then takes a batch of replies (or waits for work).
    async fn step(&mut self) -> Result<(), Ended> {
        if self.in_flight.is_empty() {
            // The bound (and with it the framing) changes only with nothing in flight.
            self.cap = self.side.cap(self.peer_window.get());
            self.sizing.set_cap(self.cap);
            if self.cap > 1 && !self.first_flight && self.form() == Form::Compact {
                self.first_flight = true;
                self.sizing.first_flight(FIRST_FLIGHT);
            }
        }
        let form = self.form();
        let window = self.sizing.window();
        let spare = std::mem::take(&mut self.spare);
        let batch = self.side.next(window, self.in_flight.len(), spare).await?;
        if let Some(limited) = batch.top_up {
            let elapsed = self.clock.elapsed();
            self.sizing.sent(batch.sent.len(), elapsed, limited);
        }
        let mut sent = batch.sent;
        if !sent.is_empty() {
            self.send(&mut sent, form).await?;
        }
        self.spare = sent;
        if self.in_flight.is_empty() {
            self.side.idle().await;
            return Ok(());
        }
        if form != Form::Bare && self.take_buffered().await? > 0 {
            return Ok(());
        }
        if self.awaits_compact(form) {
            // Only the fast path reads compact replies: more bytes, then it again.
            return self.read_more().await;
        }
        self.read_replies(form.framing()).await
    }

    /// How requests go out now: compact only for a download, to a peer that speaks it, on the
    /// connection that opened the download.
    fn form(&self) -> Form {
        let compact = self.side.chunks().way == Way::Download && self.link.compact();
        Form::of(self.cap, compact)
    }

    /// Whether the next reply may be a compact one not yet whole (the general decoder does not
    /// read them).
    fn awaits_compact(&mut self, form: Form) -> bool {
        let first = self.link.conn().buffered().first().copied();
        form == Form::Compact && first.is_none_or(|b| b == b'+')
    }

    /// Reads more of the replies into the buffer; a connection that ends or stays silent
    /// ends as in the general decoder.
    async fn read_more(&mut self) -> Result<(), Ended> {
        match self.link.conn().read_more().await {
            Ok(()) => Ok(()),
            Err(e) => {
                let why = PeerFailure::from_conn(e, self.link.stall());
                self.resume(why).await
            }
        }
    }

    /// Sends the requests in `sent`, which it leaves empty.
    async fn send(&mut self, sent: &mut Vec<Sent>, form: Form) -> Result<(), Ended> {
        if self.in_flight.is_empty() {
            self.link.ready().await.map_err(Ended::Left)?;
        }
        let chunks = self.side.chunks();
        for request in sent.iter() {
            let log = Some((&mut self.lines, self.id));
            chunks.queue(self.link.conn(), request, form, log);
        }
        self.out.emit(&mut self.lines);
        self.side.requested(sent.len());
        self.in_flight.extend(sent, self.side.chunks().way);
        let flushed = if form != Form::Bare {
            // Replies to the requests in flight are read while more requests go out.
            let limit = self.in_flight.len() * self.side.chunks().reply_bound() + READ_SLACK;
            self.link.flush_reading(limit).await
        } else {
            self.link.flush().await
        };
        if let Err(why) = flushed {
            self.resume(why).await?;
        }
        let pause = self.side.pause();
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        Ok(())
    }

    /// The replies already read whole, through the fast path (`protocol::fast`): how many. 0
    /// leaves everything to the general decoder.
    async fn take_buffered(&mut self) -> Result<usize, Ended> {
        let compact = self.link.compact();
        let awaited = self.in_flight.indices();
        let buf = self.link.conn().buffered();
        let log = (&mut self.lines, self.id);
        let (answers, used) = self.side.chunks().take_fast(buf, awaited, compact, log);
        let taken = answers.len();
        if taken == 0 {
            return Ok(0);
        }
        self.out.emit(&mut self.lines);
        self.side.answered(&answers).await?;
        self.link.conn().consume_reply(used);
        self.in_flight.answered(taken);
        self.link.replied(taken);
        self.sizing.delivered(taken, self.clock.elapsed());
        Ok(taken)
    }

    /// The general decoder: one reply when line-framed (waiting for it if need be; the fast
    /// path takes those read with it), and every reply already read otherwise.
    async fn read_replies(&mut self, framing: Framing) -> Result<(), Ended> {
        let most = if framing == Framing::Line {
            1
        } else {
            usize::MAX
        };
        let (chunks, in_flight) = (self.side.chunks(), &self.in_flight);
        let expect = |k: usize| (k < most).then(|| in_flight.index(k)).flatten();
        let expect = |k: usize| expect(k).map(|index| chunks.expect(index));
        let lockstep = || self.peer_window.lockstep();
        let (replies, error) = read_batch(self.link.conn(), expect, framing, lockstep).await;
        self.link.replied(replies.len());
        self.sizing.delivered(replies.len(), self.clock.elapsed());
        let mut failure = error.map(|e| PeerFailure::from_conn(e, self.link.stall()));
        let mut answers = Vec::new();
        for decoded in &replies {
            self.lines.replied(self.id, decoded.text());
            let first = self.in_flight.index(answers.len()).unwrap_or(0);
            match self.side.chunks().answer(&decoded.message, first) {
                Ok(answer) => answers.push(answer),
                Err(why) => {
                    failure = Some(why);
                    break;
                }
            }
        }
        self.out.emit(&mut self.lines);
        self.side.answered(&answers).await?;
        self.in_flight.answered(answers.len());
        match failure {
            Some(why) => self.resume(why).await,
            None => Ok(()),
        }
    }

    /// After `why`: if the peer only closed between messages after a reply, the requests in
    /// flight go out again on a new connection; otherwise the peer has left.
    async fn resume(&mut self, why: PeerFailure) -> Result<(), Ended> {
        if !self.link.recover(&why).await {
            return Err(Ended::Left(why));
        }
        // A new connection opened no download: its requests name the file again.
        let form = self.form();
        for request in self.in_flight.requests() {
            self.side
                .chunks()
                .queue(self.link.conn(), &request, form, None);
        }
        self.link.flush().await.map_err(Ended::Left)
    }
}
