//! Serving peers at a distance failing at seeded moments: p1 downloads from p2, p3 and p4, each
//! behind a relay of its own (`p2p_tui::relay`: 25 ms each way, up to 5 ms of jitter, so a 50 ms
//! round trip), a file of 12,000 chunks (more than the 8,192-chunk reassembly ring and the
//! 512-chunk window). p3 serves at `--chunk-delay 1`, so that it is still serving when the fault
//! strikes: after a seeded share of the file's chunk replies has been printed, p3 is killed,
//! or its path goes silent with the connection open, or every path is reset. The outcome is
//! the file byte for byte (SHA-256) or a clean failure: the failure line, no file, no partial
//! file. Each test prints its seed; `FAULT_SEED=<seed>` replays the same moment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use p2p_tui::relay::{Link, Relay, RelayConfig};

use crate::util::{Console, Net, fault_seed, pick_seeded, random_bytes, sha256};

/// 12,000 full chunks and a short one.
const SIZE: usize = 12_000 * 100 + 37;
const CHUNKS: usize = SIZE.div_ceil(100);
const SERVERS: [&str; 3] = ["p2", "p3", "p4"];

/// p2, p3 and p4 serving `data` as big.bin, each behind a relay; p1's settings name the relays.
struct Distant {
    net: Net,
    relays: Vec<Relay>,
    settings: PathBuf,
}

impl Distant {
    fn start(data: &[u8], seed: u64) -> Distant {
        let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
        for id in SERVERS {
            net.put(id, "big.bin", data);
        }
        net.start("p2", &[]);
        net.start("p3", &["--chunk-delay", "1"]);
        net.start("p4", &[]);
        let link = Link {
            delay: Duration::from_millis(25),
            jitter: Duration::from_millis(5),
            ..Link::default()
        };
        let relays: Vec<Relay> = SERVERS
            .iter()
            .map(|id| {
                let target = SocketAddr::from(([127, 0, 0, 1], net.port(id)));
                let config = RelayConfig {
                    seed,
                    ..RelayConfig::symmetric(link.clone())
                };
                Relay::start(target, config).expect("relay")
            })
            .collect();
        let mut text = format!("p1 localhost {}\n", net.port("p1"));
        for (id, relay) in SERVERS.iter().zip(&relays) {
            text.push_str(&format!("{id} localhost {}\n", relay.port()));
        }
        let settings = net.root.path().join("p1_through_relays.txt");
        std::fs::write(&settings, text).expect("p1's settings");
        Distant {
            net,
            relays,
            settings,
        }
    }

    fn relay(&self, id: &str) -> &Relay {
        &self.relays[SERVERS.iter().position(|s| *s == id).expect("a server")]
    }

    /// p1 downloading big.bin from all three.
    fn download(&self, extra: &[&str]) -> Console {
        let mut p1 = self.net.console_with_settings("p1", &self.settings, extra);
        p1.send("#DOWNLOAD big.bin p2 p3 p4");
        p1
    }
}

/// Waits until p1 has printed `count` chunk replies (from any server).
fn after_chunks(p1: &mut Console, count: usize) {
    let mut seen = 0;
    p1.wait_for(
        |l| {
            seen +=
                usize::from(l.starts_with("Server (") && l.contains(": 200 File big.bin chunk "));
            seen >= count
        },
        &format!("{count} chunk replies"),
    );
}

/// The moment: after 5-70 % of the file's chunks.
fn moment(seed: u64) -> usize {
    CHUNKS * pick_seeded(seed, 5..70) / 100
}

/// Either the file, exact, or the failure line with nothing left behind; true for the file.
fn exact_or_clean_failure(net: &Net, p1: &mut Console, data: &[u8]) -> bool {
    let outcome = p1.wait_for(
        |l| l == "File big.bin download success" || l == "File big.bin download failed",
        "the download's outcome",
    );
    let succeeded = outcome.iter().any(|l| l == "File big.bin download success");
    if succeeded {
        let got = net.served("p1", "big.bin").expect("p1 has big.bin");
        assert_eq!(sha256(&got), sha256(data), "p1/big.bin differs");
    } else {
        assert!(
            net.served("p1", "big.bin").is_none(),
            "a failed download left big.bin"
        );
    }
    assert!(net.partials("p1").is_empty(), "{:?}", net.partials("p1"));
    succeeded
}

#[test]
fn a_distant_download_survives_a_server_killed_at_a_seeded_moment() {
    let seed = fault_seed("distant killed");
    let data = random_bytes(SIZE, seed);
    let mut distant = Distant::start(&data, seed);
    let mut p1 = distant.download(&[]);
    after_chunks(&mut p1, moment(seed));
    distant.net.kill("p3");
    // Two servers are left, so the download must succeed.
    assert!(
        exact_or_clean_failure(&distant.net, &mut p1, &data),
        "the download failed"
    );
}

#[test]
fn a_distant_download_survives_a_server_gone_silent_at_a_seeded_moment() {
    let seed = fault_seed("distant silent");
    let data = random_bytes(SIZE, seed);
    let distant = Distant::start(&data, seed);
    let mut p1 = distant.download(&["--stall-timeout", "1"]);
    after_chunks(&mut p1, moment(seed));
    let p3 = distant.relay("p3").control();
    p3.set_silent(true);
    assert!(
        exact_or_clean_failure(&distant.net, &mut p1, &data),
        "the download failed"
    );
    // The silent path kept its connection: p1 gave up on it, the network did not close it.
    assert!(p3.open() >= 1, "the silent path closed its connection");
}

#[test]
fn a_distant_download_with_every_path_reset_ends_exact_or_cleanly() {
    let seed = fault_seed("distant reset");
    let data = random_bytes(SIZE, seed);
    let distant = Distant::start(&data, seed);
    let mut p1 = distant.download(&[]);
    after_chunks(&mut p1, moment(seed));
    for relay in &distant.relays {
        relay.control().reset();
    }
    let succeeded = exact_or_clean_failure(&distant.net, &mut p1, &data);
    eprintln!(
        "every path reset: the download {}",
        if succeeded {
            "succeeded"
        } else {
            "failed cleanly"
        }
    );
}
