//! The scheduler's unit tests (the simulation is `scheduler_sim.rs`).
use super::*;

fn payload(index: u64, size: u64) -> Vec<u8> {
    let len = crate::core::protocol::chunk_len(size, index).unwrap_or(0);
    vec![(index % 251) as u8; len]
}

#[test]
fn seed_round_robin_from_three_peers() {
    let mut s = Scheduler::new(1000, 3, 64);
    assert_eq!(s.request(0, 1), vec![0]);
    assert_eq!(s.request(1, 1), vec![1]);
    assert_eq!(s.request(2, 8), vec![2, 5, 8]);
    assert_eq!(s.request(0, 1), Vec::<u64>::new(), "window of one is full");
}

#[test]
fn a_departed_peers_chunks_go_to_the_survivors_and_the_file_completes() {
    let size = 1000;
    let mut s = Scheduler::new(size, 3, 4);
    let mut file = vec![0u8; size as usize];
    let mut write = |offset: u64, bytes: &[u8]| {
        file[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
        Ok(())
    };
    assert_eq!(s.request(1, 4), vec![1]); // reach: chunks 0..4
    let t = s.left(1);
    assert_eq!(t.orphaned, 3); // 1, 4, 7
    for _ in 0..100 {
        for peer in [0, 2] {
            for index in s.request(peer, 2) {
                s.arrived(peer, index, &payload(index, size)).unwrap();
            }
            s.write_ready(&mut write).unwrap();
        }
    }
    assert_eq!(s.state(), State::Succeeded);
    for index in 0..10u64 {
        assert_eq!(file[index as usize * 100], (index % 251) as u8);
    }
}

#[test]
fn the_last_peer_leaving_fails_the_transfer() {
    let mut s = Scheduler::new(500, 1, 8);
    s.request(0, 2);
    s.left(0);
    assert_eq!(s.state(), State::Failed);
    assert!(s.request(0, 2).is_empty());
}

#[test]
fn an_unrequested_chunk_is_the_peers_error() {
    let mut s = Scheduler::new(500, 2, 8);
    assert_eq!(s.request(0, 1), vec![0]);
    assert_eq!(
        s.arrived(0, 2, &[0; 100]),
        Err(Unexpected {
            expected: Some(0),
            got: 2
        })
    );
}

#[test]
fn an_empty_file_succeeds_at_once() {
    let s = Scheduler::new(0, 2, 8);
    assert_eq!(s.state(), State::Succeeded);
}

/// Peers 0 and 1 deliver their shares of 300 chunks within a millisecond (a small file on
/// loopback: less time than a rate is trusted over); peer 2 sends one chunk in 10 ms. Peer 0,
/// idle, takes nothing while peer 2 has been busy less than `JUDGED_AFTER` (it may have been
/// descheduled), then takes its unrequested chunks: what peer 0 needs is judged from its rate
/// at least (its replies over the shortest trusted time), not left unknown.
#[test]
fn an_idle_peer_done_in_under_a_millisecond_takes_a_slow_peers_chunks() {
    let size = 30_000;
    let mut s = Scheduler::new(size, 3, 8192);
    let ms = Duration::from_millis(1);
    let slow = s.request(2, 2);
    assert_eq!(slow, vec![2, 5]);
    for peer in [0, 1] {
        let batch = s.request(peer, 100);
        assert_eq!(batch.len(), 100);
        for index in batch {
            s.arrived(peer, index, &payload(index, size)).unwrap();
        }
    }
    s.set_now(10 * ms);
    s.arrived(2, 2, &payload(2, size)).unwrap();
    s.set_now(11 * ms);
    assert_eq!(s.request(0, 100), Vec::<u64>::new());
    s.set_now(rebalance::JUDGED_AFTER + ms);
    let taken = s.request(0, 100);
    assert_eq!(taken.first(), Some(&8), "peer 0 took nothing: {taken:?}");
    assert!(taken.iter().all(|i| i % 3 == 2), "{taken:?}");
    let moves = s.take_moves();
    assert_eq!((moves[0].from, moves[0].to), (2, 0), "{moves:?}");
}
