//! Peer deaths at real sizes and at seeded random moments: files of several MB (far more chunks
//! than the 8,192-chunk reassembly ring), pipelined p2p-tui peers, a server killed (its
//! connection closed) or stopped (silent, connection open), every server killed, an upload
//! target killed. Each test prints its seed; `FAULT_SEED=<seed>` replays the same moment.

use nix::sys::signal::Signal;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};

use crate::util::{
    Console, Net, TIMEOUT, bin, fault_seed, free_port, pick_seeded, random_bytes, sha256,
    wait_until,
};

/// 3 MB: 30,000 chunks, 10,000 per serving peer.
const BIG: usize = 3_000_000;

/// p2 and p4 at full speed, p3 slowed to about a millisecond a chunk, so that it is still
/// serving whenever the fault strikes.
/// p3 at `--chunk-delay 1` among two fast peers: the downloader keeps strict round robin
/// (`--strict-round-robin`) so that p3 still serves its third when it is killed; otherwise the
/// idle fast peers take its chunks within milliseconds (tests/integration/rebalance.rs).
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
    let seed = fault_seed("killed");
    let data = random_bytes(BIG, seed);
    let mut net = three_servers(&data);
    let mut p1 = net.console("p1", &["--strict-round-robin"]);
    p1.send("#DOWNLOAD big.bin p2 p3 p4");
    after_chunks_from(&mut p1, "p3", pick_seeded(seed, 1..2_000));
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
    let seed = fault_seed("silent");
    let data = random_bytes(BIG, seed);
    let net = three_servers(&data);
    let mut p1 = net.console("p1", &["--stall-timeout", "1", "--strict-round-robin"]);
    p1.send("#DOWNLOAD big.bin p2 p3 p4");
    after_chunks_from(&mut p1, "p3", pick_seeded(seed, 1..2_000));
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
    let seed = fault_seed("all killed");
    let data = random_bytes(BIG, seed);
    let mut net = Net::new(&["p1", "p2", "p3"]);
    for id in ["p2", "p3"] {
        net.put(id, "big.bin", &data);
        net.start(id, &["--chunk-delay", "1"]);
    }
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD big.bin p2 p3");
    after_chunks_from(&mut p1, "p2", pick_seeded(seed, 1..2_000));
    net.kill("p2");
    p1.wait_for(
        |l| l.starts_with("Server p2 stopped serving file big.bin"),
        "first departure",
    );
    after_chunks_from(&mut p1, "p3", pick_seeded(seed ^ 1, 1..2_000));
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
    let seed = fault_seed("upload target killed");
    let data = random_bytes(2_000_000, seed);
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    for id in ["p2", "p4"] {
        net.start(id, &[]);
    }
    net.put("p1", "big.bin", &data);
    // p1 reaches p3 only through a relay that stops passing p3's acknowledgements on after
    // `count` of them, and p1 sends in lockstep: so p3 has at most `count + 1` of the 20,000
    // chunks when it is killed, however far p1's printed lines lag behind its sending.
    let count = pick_seeded(seed, 1..5_000);
    let mut p3 = Spawned::peer_behind_relay(&net, "p3");
    let relay = AckRelay::start(net.port("p3"), p3.port, count);
    let mut p1 = net.console("p1", &["--window", "1"]);
    p1.send("#UPLOAD big.bin p2 p3 p4");
    relay.wait_for_acks();
    p3.kill();
    p1.expect_line("File big.bin upload failed");
    p1.expect_count("File big.bin upload success", 2);
    let held_back = format!("Server (p3): 200 File big.bin chunk {count} received");
    assert_eq!(
        p1.count(&held_back),
        0,
        "the relay let an acknowledgement through"
    );
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

/// A headless peer run outside `Net` (killed on drop), listening on a port of its own.
struct Spawned {
    child: Child,
    port: u16,
}

impl Spawned {
    /// Starts `id` with its directory in `net`, but on a fresh port given only in a settings
    /// file of its own: the other peers' settings still name `net.port(id)`, where the test
    /// puts a relay.
    fn peer_behind_relay(net: &Net, id: &str) -> Spawned {
        let port = free_port();
        let settings = net.root.path().join(format!("{id}_own_settings.txt"));
        std::fs::write(&settings, format!("{id} localhost {port}\n")).expect("settings");
        let child = Command::new(bin())
            .args(["--peer", id, "--headless", "--settings"])
            .arg(&settings)
            .arg("--dir")
            .arg(net.dir(id))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn peer");
        let spawned = Spawned { child, port };
        wait_until(&format!("{id} listening"), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        spawned
    }

    fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Relays one connection from `port` to a server on `to`, passing on the server's replies until
/// `acks` upload acknowledgements (`... received`) have gone by; later replies are held back.
/// When the server's side ends, the client's side is closed. Accepts no second connection.
struct AckRelay {
    passed: Receiver<()>,
}

impl AckRelay {
    fn start(port: u16, to: u16, acks: usize) -> AckRelay {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("relay port");
        let (tx, passed) = channel();
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            drop(listener);
            let server = TcpStream::connect(("127.0.0.1", to)).expect("relay to server");
            let (mut client_in, mut server_out) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
                let _ = server_out.shutdown(Shutdown::Write);
            });
            relay_replies(server, client, acks, tx);
        });
        AckRelay { passed }
    }

    /// Waits until the relay has passed on its last acknowledgement.
    fn wait_for_acks(&self) {
        self.passed
            .recv_timeout(TIMEOUT)
            .expect("the relay passed on its acknowledgements");
    }
}

fn relay_replies(mut server: TcpStream, mut client: TcpStream, acks: usize, passed: Sender<()>) {
    const ACK: &[u8] = b"received";
    let mut seen = 0;
    // The end of the previous read, so that an acknowledgement split across reads counts.
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if seen >= acks {
            continue;
        }
        let mut scan = std::mem::take(&mut tail);
        // (The tail is shorter than an acknowledgement: every match found ends in new bytes.)
        let old = scan.len();
        scan.extend_from_slice(&buf[..n]);
        // Pass on up to and including the `acks`-th acknowledgement, nothing after it.
        let mut end = n;
        for (i, w) in scan.windows(ACK.len()).enumerate() {
            if w == ACK {
                seen += 1;
                if seen == acks {
                    // Through the reply's line end, if it has one.
                    let after = i + ACK.len() - old;
                    end = after + usize::from(buf[after..n].first() == Some(&b'\n'));
                    break;
                }
            }
        }
        if client.write_all(&buf[..end]).is_err() {
            break;
        }
        if seen >= acks {
            let _ = passed.send(());
        }
        tail = scan[scan.len().saturating_sub(ACK.len() - 1)..].to_vec();
    }
    let _ = client.shutdown(Shutdown::Both);
}
