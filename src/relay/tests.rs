//! The relay against real sockets on 127.0.0.1. Times are asserted as lower bounds (a timer
//! never fires early) with loose upper bounds; memory and silence in the relay's own counts.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use super::{Direction, Link, Relay, RelayConfig};

const DEADLINE: Duration = Duration::from_secs(20);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(ms(2));
    }
}

/// A server that writes back whatever it reads, on every connection.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut back = stream.try_clone().unwrap();
                let _ = std::io::copy(&mut stream, &mut back);
            });
        }
    });
    addr
}

/// A server that hands each accepted connection to the test, unread. `recv_buffer`: the
/// accepted sockets' receive buffer (small, so that a server that does not read pushes back
/// at once).
fn handing_server(recv_buffer: Option<u32>) -> (SocketAddr, Receiver<TcpStream>) {
    let listener = match recv_buffer {
        None => TcpListener::bind("127.0.0.1:0").unwrap(),
        Some(size) => small_buffer_listener(size),
    };
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            if tx.send(stream).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

fn small_buffer_listener(size: u32) -> TcpListener {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(size).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap().into_std().unwrap();
    listener.set_nonblocking(false).unwrap();
    listener
}

fn connect(relay: &Relay) -> TcpStream {
    let stream = TcpStream::connect(relay.addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// Byte `i` of a test stream: a pattern that shows a lost, doubled or reordered byte.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

#[test]
fn a_round_trip_takes_at_least_both_delays() {
    let relay = Relay::start(echo_server(), RelayConfig::symmetric(Link::delayed(ms(40)))).unwrap();
    let mut client = connect(&relay);
    let mut byte = [0u8];
    for i in 0..5u8 {
        let started = Instant::now();
        client.write_all(&[i]).unwrap();
        client.read_exact(&mut byte).unwrap();
        let round_trip = started.elapsed();
        assert_eq!(byte[0], i);
        assert!(round_trip >= ms(80), "round trip {round_trip:?} < 80 ms");
        assert!(round_trip < ms(80) + DEADLINE, "round trip {round_trip:?}");
    }
}

#[test]
fn jitter_delays_unevenly_and_never_reorders() {
    let link = Link {
        delay: ms(5),
        jitter: ms(30),
        ..Link::default()
    };
    let relay = Relay::start(echo_server(), RelayConfig::symmetric(link)).unwrap();
    let mut client = connect(&relay);
    let mut longest = Duration::ZERO;
    for i in 0..20u8 {
        let started = Instant::now();
        client.write_all(&[i]).unwrap();
        let mut byte = [0u8];
        client.read_exact(&mut byte).unwrap();
        assert_eq!(byte[0], i);
        let round_trip = started.elapsed();
        assert!(round_trip >= ms(10), "round trip {round_trip:?} < 10 ms");
        longest = longest.max(round_trip);
    }
    // The draws are seeded: 20 round trips of two uniform draws in [0, 30 ms] each.
    assert!(
        longest >= ms(25),
        "no jitter: longest round trip {longest:?}"
    );
    // Many small writes, each a separate read with its own draw: the stream stays in order.
    let count = 3_000u64;
    let mut reader = client.try_clone().unwrap();
    let check = std::thread::spawn(move || {
        let mut got = vec![0u8; count as usize];
        reader.read_exact(&mut got).unwrap();
        got.iter().enumerate().all(|(i, b)| *b == pattern(i as u64))
    });
    for i in 0..count {
        client.write_all(&[pattern(i)]).unwrap();
        if i % 100 == 0 {
            std::thread::sleep(ms(1));
        }
    }
    assert!(check.join().unwrap(), "bytes came back out of order");
}

#[test]
fn the_rate_cap_paces_every_connection_on_one_wire() {
    const RATE: u64 = 2_000_000;
    const EACH: u64 = 600_000;
    let link = Link {
        rate: Some(RATE),
        ..Link::default()
    };
    let (target, accepted) = handing_server(None);
    let relay = Relay::start(target, RelayConfig::symmetric(link)).unwrap();
    let started = Instant::now();
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let mut client = connect(&relay);
            std::thread::spawn(move || {
                let block: Vec<u8> = (0..EACH).map(pattern).collect();
                client.write_all(&block).unwrap();
                client
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut server = accepted.recv_timeout(DEADLINE).unwrap();
            std::thread::spawn(move || {
                let mut got = vec![0u8; EACH as usize];
                server.read_exact(&mut got).unwrap();
                assert!(got.iter().enumerate().all(|(i, b)| *b == pattern(i as u64)));
            })
        })
        .collect();
    for reader in readers {
        reader.join().unwrap();
    }
    let took = started.elapsed();
    // Both connections share the one 2 MB/s wire: 1.2 MB take at least 0.6 s.
    let least = Duration::from_secs_f64((2 * EACH) as f64 / RATE as f64);
    assert!(took >= least, "1.2 MB in {took:?} at 2 MB/s");
    assert!(took < least * 4 + ms(2000), "1.2 MB in {took:?} at 2 MB/s");
    for sender in senders {
        sender.join().unwrap();
    }
}

/// Writes `total` pattern bytes through `relay` to a server that reads nothing until the
/// relay holds its whole capacity; then reads it all. The relay never held more. `total` must
/// exceed what the kernel's socket buffers take on the way (`tcp_wmem` and `tcp_rmem`'s
/// maximums: 4 and 6 MiB by default, 32 MiB for reading on some machines), so that the sender
/// is still held back.
fn fill_a_link_whose_receiver_does_not_read(link: Link, total: u64) {
    let capacity = link.capacity();
    let (target, accepted) = handing_server(Some(4096));
    let relay = Relay::start(target, RelayConfig::symmetric(link)).unwrap();
    let control = relay.control();
    let mut client = connect(&relay);
    let sender = std::thread::spawn(move || {
        let block: Vec<u8> = (0..total).map(pattern).collect();
        client.write_all(&block).unwrap();
    });
    let mut server = accepted.recv_timeout(DEADLINE).unwrap();
    wait_until("the relay to hold its whole capacity", || {
        control.held(Direction::Upstream) >= capacity
    });
    let peak = control.held_peak(Direction::Upstream);
    assert_eq!(peak, capacity, "held {peak} bytes, capacity {capacity}");
    assert!(!sender.is_finished(), "the sender was not held back");
    let mut got = vec![0u8; total as usize];
    server.read_exact(&mut got).unwrap();
    assert!(got.iter().enumerate().all(|(i, b)| *b == pattern(i as u64)));
    sender.join().unwrap();
    let peak = control.held_peak(Direction::Upstream);
    assert_eq!(peak, capacity, "held {peak} bytes, capacity {capacity}");
    wait_until("nothing held", || control.held(Direction::Upstream) == 0);
}

#[test]
fn a_receiver_that_does_not_read_holds_the_relay_to_its_queue() {
    let link = Link {
        queue: 256 * 1024,
        ..Link::default()
    };
    assert_eq!(link.capacity(), 256 * 1024);
    fill_a_link_whose_receiver_does_not_read(link, 64 << 20);
}

#[test]
fn a_capped_link_holds_its_queue_and_what_is_on_the_wire() {
    let link = Link {
        delay: ms(20),
        rate: Some(64_000_000),
        queue: 64 * 1024,
        ..Link::default()
    };
    // 64 KiB waiting, 64 MB/s × 20 ms = 1,280,000 bytes on the wire.
    assert_eq!(link.capacity(), 65_536 + 1_280_000);
    fill_a_link_whose_receiver_does_not_read(link, 64 << 20);
}

#[test]
fn silence_stops_both_ways_and_keeps_the_connection_open() {
    let (target, accepted) = handing_server(None);
    let relay = Relay::start(target, RelayConfig::symmetric(Link::delayed(ms(5)))).unwrap();
    let control = relay.control();
    let mut client = connect(&relay);
    let mut server = accepted.recv_timeout(DEADLINE).unwrap();
    let mut byte = [0u8];
    client.write_all(b"a").unwrap();
    server.read_exact(&mut byte).unwrap();
    control.set_silent(true);
    client.write_all(b"u").unwrap();
    server.write_all(b"d").unwrap();
    // A silence can only be shown over a while: half a second, 100 times the delay.
    for side in [&mut client, &mut server] {
        side.set_read_timeout(Some(ms(250))).unwrap();
        let quiet = side.read(&mut byte);
        assert!(
            matches!(&quiet, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
            "a silent relay passed something on: {quiet:?}"
        );
    }
    assert_eq!(control.forwarded(Direction::Upstream), 1);
    assert_eq!(control.forwarded(Direction::Downstream), 0);
    assert_eq!(control.open(), 1);
    control.set_silent(false);
    for (side, wanted) in [(&mut client, b'd'), (&mut server, b'u')] {
        side.set_read_timeout(Some(DEADLINE)).unwrap();
        side.read_exact(&mut byte).unwrap();
        assert_eq!(byte[0], wanted);
    }
    assert_eq!(control.accepted(), 1);
}

#[test]
fn reset_closes_every_connection_with_an_rst_both_ways() {
    let (target, accepted) = handing_server(None);
    let relay = Relay::start(target, RelayConfig::symmetric(Link::delayed(ms(5)))).unwrap();
    let control = relay.control();
    let mut pairs: Vec<(TcpStream, TcpStream)> = (0..2)
        .map(|_| {
            let mut client = connect(&relay);
            let mut server = accepted.recv_timeout(DEADLINE).unwrap();
            server.set_read_timeout(Some(DEADLINE)).unwrap();
            client.write_all(b"x").unwrap();
            server.read_exact(&mut [0u8]).unwrap();
            (client, server)
        })
        .collect();
    control.reset();
    for (client, server) in &mut pairs {
        for side in [client, server] {
            let after = side.read(&mut [0u8]);
            assert!(
                matches!(&after, Err(e) if e.kind() == ErrorKind::ConnectionReset),
                "not reset: {after:?}"
            );
        }
    }
    wait_until("no connection open", || control.open() == 0);
    // The path itself still works.
    let mut client = connect(&relay);
    let mut server = accepted.recv_timeout(DEADLINE).unwrap();
    client.write_all(b"y").unwrap();
    let mut byte = [0u8];
    server.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"y");
}

#[test]
fn a_close_arrives_after_the_last_bytes_and_no_target_is_a_reset() {
    let (target, accepted) = handing_server(None);
    let relay = Relay::start(target, RelayConfig::symmetric(Link::delayed(ms(30)))).unwrap();
    let mut client = connect(&relay);
    let mut server = accepted.recv_timeout(DEADLINE).unwrap();
    let started = Instant::now();
    let sent: Vec<u8> = (0..100_000).map(pattern).collect();
    server.write_all(&sent).unwrap();
    drop(server);
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert!(started.elapsed() >= ms(30));
    assert!(
        got == sent,
        "{} bytes of 100,000 before the close",
        got.len()
    );
    // A target that is gone: the relay resets the client.
    drop(accepted);
    // Bound and never listening (the port stays ours): connecting to it is refused.
    let bound = tokio::net::TcpSocket::new_v4().unwrap();
    bound.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let nobody = bound.local_addr().unwrap();
    let relay = Relay::start(nobody, RelayConfig::default()).unwrap();
    let mut client = connect(&relay);
    let read = client.read(&mut [0u8]);
    assert!(
        matches!(&read, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "{read:?}"
    );
}
