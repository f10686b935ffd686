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
