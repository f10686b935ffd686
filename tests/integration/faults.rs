//! Peer deaths at real sizes and at seeded random moments: files of several MB (far more chunks
//! than the 8,192-chunk reassembly ring), pipelined p2p-tui peers, a server killed (its
//! connection closed) or stopped (silent, connection open), every server killed, an upload
//! target killed. Each test prints its seed; `FAULT_SEED=<seed>` replays the same moment.

use nix::sys::signal::Signal;

use crate::util::{Console, Net, random_bytes, sha256};

/// The seed for this test's random moments: `FAULT_SEED` if set, else fresh; printed.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("{test}: FAULT_SEED={seed}");
    seed
}

/// A number in `range` drawn from `seed` (SplitMix64 step).
fn pick(seed: u64, range: std::ops::Range<usize>) -> usize {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    range.start + (z ^ (z >> 31)) as usize % (range.end - range.start)
}

/// 3 MB: 30,000 chunks, 10,000 per serving peer.
const BIG: usize = 3_000_000;

/// p2 and p4 at full speed, p3 slowed to about a millisecond a chunk, so that it is still
/// serving whenever the fault strikes.
fn three_servers(data: &[u8]) -> Net {
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    for id in ["p2", "p3", "p4"] {
        net.put(id, "big.bin", data);
    }
    net.start("p2", &[]);
    net.start("p3", &["--chunk-delay", "1"]);
    net.start("p4", &[]);
    net
}

/// Waits until `p1` has printed `count` chunk replies from `server`.
fn after_chunks_from(p1: &mut Console, server: &str, count: usize) {
    let prefix = format!("Server ({server}): 200 File big.bin chunk ");
    let mut seen = 0;
    p1.wait_for(
        |l| {
            seen += usize::from(l.starts_with(&prefix));
            seen >= count
        },
        &format!("{count} chunks from {server}"),
    );
}

fn assert_download_succeeded(net: &Net, p1: &mut Console, data: &[u8]) {
    p1.expect_line("File big.bin download success");
    assert_eq!(p1.count("File big.bin download failed"), 0);
    let got = net.served("p1", "big.bin").expect("p1 has big.bin");
    assert_eq!(sha256(&got), sha256(data), "p1/big.bin differs");
    assert!(net.partials("p1").is_empty(), "{:?}", net.partials("p1"));
}

#[test]
fn a_3mb_download_survives_a_server_killed_at_a_random_moment() {
    let seed = seed("killed");
    let data = random_bytes(BIG, seed);
    let mut net = three_servers(&data);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD big.bin p2 p3 p4");
    after_chunks_from(&mut p1, "p3", pick(seed, 1..2_000));
    net.kill("p3");
    p1.wait_for(
        |l| {
            l.starts_with("Server p3 stopped serving file big.bin")
                && l.ends_with("reassigned to p2 p4")
        },
        "takeover by p2 and p4",
    );
    assert_download_succeeded(&net, &mut p1, &data);
}

#[test]
fn a_3mb_download_survives_a_server_that_goes_silent_with_its_connection_open() {
    let seed = seed("silent");
    let data = random_bytes(BIG, seed);
    let net = three_servers(&data);
    let mut p1 = net.console("p1", &["--stall-timeout", "1"]);
    p1.send("#DOWNLOAD big.bin p2 p3 p4");
    after_chunks_from(&mut p1, "p3", pick(seed, 1..2_000));
    net.signal("p3", Signal::SIGSTOP);
    p1.wait_for(
        |l| {
            l.starts_with("Server p3 stopped serving file big.bin (silent for 1s)")
                && l.ends_with("reassigned to p2 p4")
        },
        "takeover of the silent peer's chunks",
    );
    assert_download_succeeded(&net, &mut p1, &data);
    net.signal("p3", Signal::SIGCONT);
}

#[test]
fn a_3mb_download_fails_cleanly_when_every_server_is_killed() {
    let seed = seed("all killed");
    let data = random_bytes(BIG, seed);
    let mut net = Net::new(&["p1", "p2", "p3"]);
    for id in ["p2", "p3"] {
        net.put(id, "big.bin", &data);
        net.start(id, &["--chunk-delay", "1"]);
    }
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD big.bin p2 p3");
    after_chunks_from(&mut p1, "p2", pick(seed, 1..2_000));
    net.kill("p2");
    p1.wait_for(
        |l| l.starts_with("Server p2 stopped serving file big.bin"),
        "first departure",
    );
    after_chunks_from(&mut p1, "p3", pick(seed ^ 1, 1..2_000));
    net.kill("p3");
    p1.wait_for(
        |l| l.starts_with("Server p3 stopped serving") && l.ends_with("no serving peers left"),
        "second departure",
    );
    p1.expect_line("File big.bin download failed");
    assert_eq!(p1.count("File big.bin download success"), 0);
    assert!(net.served("p1", "big.bin").is_none());
    assert!(net.partials("p1").is_empty(), "{:?}", net.partials("p1"));
}

#[test]
fn an_upload_target_killed_mid_transfer_fails_alone() {
    let seed = seed("upload target killed");
    let data = random_bytes(2_000_000, seed);
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    for id in ["p2", "p3", "p4"] {
        net.start(id, &[]);
    }
    net.put("p1", "big.bin", &data);
    // Lockstep, so the 20,000 chunks take long enough for the kill to land mid-upload.
    let mut p1 = net.console("p1", &["--window", "1"]);
    p1.send("#UPLOAD big.bin p2 p3 p4");
    let count = pick(seed, 1..5_000);
    let prefix = "Server (p3): 200 File big.bin chunk ";
    let mut seen = 0;
    p1.wait_for(
        |l| {
            seen += usize::from(l.starts_with(prefix));
            seen >= count
        },
        "acknowledgements from p3",
    );
    net.kill("p3");
    p1.expect_line("File big.bin upload failed");
    p1.expect_count("File big.bin upload success", 2);
    for id in ["p2", "p4"] {
        let got = net.served(id, "big.bin").expect("uploaded");
        assert_eq!(sha256(&got), sha256(&data), "{id}/big.bin differs");
    }
    // The killed target shows nothing, and its leftover is cleaned when it starts again.
    assert!(net.served("p3", "big.bin").is_none());
    net.start("p3", &[]);
    assert!(net.partials("p3").is_empty(), "{:?}", net.partials("p3"));
    assert!(net.served("p3", "big.bin").is_none());
}
