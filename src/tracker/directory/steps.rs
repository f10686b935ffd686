//! Random steps of a tracker's life, for the property tests of the directory's index and of
//! the deltas its members follow.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{Directory, FileEntry};

/// What happens to the directory in one step.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Peer `p` announces these (name index, mtime) files (a join or a change).
    Announce(u8, Vec<(u8, i64)>),
    /// Peer `p` keeps alive, possibly on another port.
    KeepAlive(u8, u16),
    Leave(u8),
    /// Time passes (seconds); peers silent longer than the timeout are dropped.
    Silence(u64),
}

/// Steps among `peers` peers, `names` file names, `mtimes` mtimes and `ports` ports.
pub(crate) fn step(peers: u8, names: u8, mtimes: i64, ports: u16) -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            0..peers,
            proptest::collection::vec((0..names, 0..mtimes), 0..6)
        )
            .prop_map(|(p, f)| Step::Announce(p, f)),
        (0..peers, 8000..8000 + ports).prop_map(|(p, port)| Step::KeepAlive(p, port)),
        (0..peers).prop_map(Step::Leave),
        (0u64..20).prop_map(Step::Silence),
    ]
}

/// Peer `p`'s address.
pub(crate) fn ip(p: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, p + 1])
}

impl Step {
    /// Applies this step to `dir` at `now` (which silence moves on; the timeout is 15 s).
    pub(crate) fn apply(self, dir: &mut Directory, now: &mut Instant) {
        match self {
            Step::Announce(p, files) => {
                let files = (files.into_iter())
                    .map(|(n, mtime)| FileEntry {
                        name: format!("f{n}"),
                        mtime,
                    })
                    .collect();
                dir.announce(u64::from(p), ip(p), 8000, files, *now);
            }
            Step::KeepAlive(p, port) => {
                dir.keep_alive(u64::from(p), ip(p), port, *now);
            }
            Step::Leave(p) => {
                dir.remove(u64::from(p));
            }
            Step::Silence(secs) => {
                *now += Duration::from_secs(secs);
                dir.expire(*now, Duration::from_secs(15));
            }
        }
    }
}
