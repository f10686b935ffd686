//! One serving peer's side of a download's windowed exchange: it requests what the scheduler
//! hands out, gives the scheduler the chunks that arrive and the disk writer what is then
//! ready, and when the peer leaves, says who takes its chunks.

use std::sync::Arc;
use std::time::Duration;

use super::shared::{Arrival, Shared};
use super::writer::DiskWriter;
use crate::core::protocol::lines;
use crate::peer::transfer::TransferContext;
use crate::peer::transfer::allocation::Takeover;
use crate::peer::transfer::exchange::{
    self, Batch, Chunks, Ended, Link, PeerFailure, Sent, Side, Way,
};
use crate::peer::transfer::scheduler::Dropped;
use crate::peer::transfer::scheduler::rebalance::{Move, Why};

/// One serving peer's task: the exchange until the download is over or the peer leaves.
pub async fn fetch(
    shared: Arc<Shared>,
    position: usize,
    mut link: Link,
    ctx: TransferContext,
    writer: DiskWriter,
) {
    let mut side = Fetch {
        chunks: Chunks {
            way: Way::Download,
            file: shared.file.clone(),
            size: shared.size,
        },
        shared: &shared,
        position,
        ctx: &ctx,
        writer,
    };
    let id = &shared.ids[position];
    if let Ended::Left(why) = exchange::run(&mut side, &mut link, id, &ctx.out).await {
        peer_left(&shared, position, &ctx, &why.to_string());
    }
}

/// What the exchange loop asks of a download from one serving peer.
struct Fetch<'a> {
    chunks: Chunks,
    shared: &'a Shared,
    position: usize,
    ctx: &'a TransferContext,
    writer: DiskWriter,
}

impl Side for Fetch<'_> {
    fn chunks(&self) -> &Chunks {
        &self.chunks
    }

    fn cap(&self, peer_window: usize) -> usize {
        // Replies are read while requests go out (`flush_reading`): no socket buffer bounds
        // the window; the memory budget does (or `--window`).
        if peer_window > 1 {
            self.ctx.options.pipelined_window(self.shared.ids.len())
        } else {
            1
        }
    }

    async fn next(
        &mut self,
        window: usize,
        in_flight: usize,
        mut sent: Vec<Sent>,
    ) -> Result<Batch, Ended> {
        self.shared.progress.set_window(self.position, window);
        let (indices, running, moves) = self.shared.request(self.position, window);
        say_moves(self.shared, self.ctx, &moves);
        if !running {
            return Err(Ended::Done);
        }
        // A top-up moment: did the scheduler have fewer chunks for us than the room?
        let top_up = (in_flight <= window / 2).then(|| indices.len() < window - in_flight);
        sent.extend(indices.into_iter().map(Sent::request));
        Ok(Batch { sent, top_up })
    }

    fn requested(&self, count: usize) {
        self.shared.progress.requested_many(self.position, count);
    }

    async fn idle(&self) {
        // Nothing to send and nothing awaited: until the scheduler has work for us (a
        // takeover, the ring moving on) or the download ends.
        self.shared.wait_for_work(self.position).await;
    }

    fn pause(&self) -> Duration {
        Duration::ZERO
    }

    async fn answered(&mut self, answers: &[(u64, &[u8])]) -> Result<(), Ended> {
        let arrived = match self.shared.arrived(self.position, answers, &self.writer) {
            Ok(arrived) => arrived,
            Err(Arrival::Dropped) => return Err(Ended::Done),
            Err(Arrival::Protocol(e)) => return Err(Ended::Left(PeerFailure::Unexpected(e.got))),
            Err(Arrival::Hopeless(why)) => {
                self.ctx.out.error(why);
                return Err(Ended::Done);
            }
        };
        let done = answers
            .iter()
            .map(|(index, payload)| (*index, payload.len()));
        self.shared.progress.chunks_done(self.position, done);
        for d in arrived.dropped {
            peer_dropped(self.shared, self.ctx, &d);
        }
        // A writer that stopped has failed the download: the end says why.
        if self.writer.write(arrived.runs).await {
            Ok(())
        } else {
            Err(Ended::Done)
        }
    }
}

/// Chunks moved between serving peers: counted in the progress, and said (in the log and the
/// transfer's notes) the first time between two peers.
fn say_moves(shared: &Shared, ctx: &TransferContext, moves: &[Move]) {
    for m in moves {
        let (from, to) = (&shared.ids[m.from], &shared.ids[m.to]);
        let note = m.first.then(|| match m.why {
            Why::FarBehind {
                queued,
                theirs,
                ours,
            } => lines::far_behind(&shared.file, from, to, queued, theirs, ours),
            Why::Endgame => lines::endgame(&shared.file, from, to),
        });
        if let Some(note) = &note {
            ctx.out.note(note.clone());
        }
        // A chunk asked a second time stays with its first peer as well.
        let from = if m.why == Why::Endgame {
            usize::MAX
        } else {
            m.from
        };
        shared.progress.moved(from, m.to, m.chunks, note);
    }
}

/// A peer sent bytes that do not match the digest: say so, and who takes its chunks.
fn peer_dropped(shared: &Shared, ctx: &TransferContext, d: &Dropped) {
    let who = &shared.ids[d.peer];
    let wrong = lines::wrong_bytes(who, &shared.file, d.chunk);
    ctx.out.error(wrong.clone());
    let note = describe_takeover(shared, d.peer, &d.takeover, "wrong bytes: dropped");
    shared.progress.peer_left(
        d.peer,
        &d.takeover.stripes,
        &d.takeover.taken_by,
        format!("{wrong}; {note}"),
    );
    ctx.out.note(note);
}

fn peer_left(shared: &Shared, position: usize, ctx: &TransferContext, why: &str) {
    let Some(takeover) = shared.left(position) else {
        return;
    };
    let note = describe_takeover(shared, position, &takeover, why);
    shared.progress.peer_left(
        position,
        &takeover.stripes,
        &takeover.taken_by,
        note.clone(),
    );
    ctx.out.note(note);
}

fn describe_takeover(shared: &Shared, position: usize, takeover: &Takeover, why: &str) -> String {
    let names: Vec<&str> = takeover
        .taken_by
        .iter()
        .map(|&(p, _)| shared.ids[p].as_str())
        .collect();
    lines::stopped_serving(
        &shared.ids[position],
        &shared.file,
        why,
        takeover.orphaned,
        &names,
    )
}
