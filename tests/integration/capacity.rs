//! Servers at their descriptor limit (`ulimit -n 64`): every client is answered (served, or
//! refused, or closed) within a deadline, none is left hanging in the accept queue, registered
//! tracker members are never closed to make room, and a client after the burst is served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Net, bin, collect, free_port, wait_until};

/// How long one client of the burst may wait for its answer.
const DEADLINE: Duration = Duration::from_secs(10);

/// `command` run under `ulimit -n 64`, its stderr collected.
fn spawn_limited(command: &Command) -> (Guard, std::sync::Arc<std::sync::Mutex<String>>) {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(command.get_program())
        .args(command.get_args())
        .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = sh.spawn().expect("spawn under ulimit");
    let stderr = collect(child.stderr.take().expect("stderr"));
    (Guard(child), stderr)
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The reply the request asks for.
    Served,
    /// A refusal line, then the close.
    Refused,
    /// Closed with no answer (an idle connection closed to admit another, or a tracker
    /// refusal: the tracker protocol has no refusal line).
    Closed,
    /// Nothing within the deadline: the failure this file is about.
    Hung,
}

/// One client: connects, sends `request`, and reads until `served` says the reply is whole, or
/// the close, or the deadline.
fn client(addr: SocketAddr, request: &[u8], served: fn(&[u8]) -> Outcome) -> Outcome {
    let start = Instant::now();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, DEADLINE) else {
        return Outcome::Hung;
    };
    let _ = stream.set_read_timeout(Some(DEADLINE.saturating_sub(start.elapsed())));
    let _ = stream.write_all(request);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                return if got.is_empty() {
                    Outcome::Closed
                } else {
                    served(&got)
                };
            }
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if served(&got) == Outcome::Served {
                    return Outcome::Served;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return if got.is_empty() {
                    Outcome::Closed
                } else {
                    served(&got)
                };
            }
            Err(_) => return Outcome::Hung,
        }
    }
}

/// `clients` clients at once; how many ended each way.
fn burst(
    addr: SocketAddr,
    clients: usize,
    request: &'static [u8],
    served: fn(&[u8]) -> Outcome,
) -> Vec<Outcome> {
    let threads: Vec<_> = (0..clients)
        .map(|_| std::thread::spawn(move || client(addr, request, served)))
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn count(outcomes: &[Outcome], which: Outcome) -> usize {
    outcomes.iter().filter(|o| **o == which).count()
}

fn file_list(reply: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(reply);
    if text.starts_with("200 Files served: f.txt") {
        Outcome::Served
    } else if text.starts_with("250 ") {
        Outcome::Refused
    } else {
        Outcome::Closed
    }
}

fn directory(reply: &[u8]) -> Outcome {
    if reply.starts_with(b"{") && reply.ends_with(b"\n") {
        Outcome::Served
    } else {
        Outcome::Closed
    }
}

/// Connections that connect and say nothing, holding descriptors.
fn silent_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect()
}

#[test]
fn a_peer_out_of_descriptors_answers_every_client_and_serves_the_next() {
    let net = Net::new(&["p2"]);
    net.put("p2", "f.txt", b"f");
    let (_p2, stderr) = spawn_limited(&net.peer_command("p2", "--headless", &[]));
    let addr = SocketAddr::from(([127, 0, 0, 1], net.port("p2")));
    wait_until("p2 listening", || TcpStream::connect(addr).is_ok());
    // Silent connections take every descriptor the peer may give to clients, then a burst.
    let _silent = silent_connections(addr, 100);
    let outcomes = burst(addr, 200, b"#FILELIST", file_list);
    eprintln!(
        "200 clients: {} served, {} refused, {} closed, {} hung",
        count(&outcomes, Outcome::Served),
        count(&outcomes, Outcome::Refused),
        count(&outcomes, Outcome::Closed),
        count(&outcomes, Outcome::Hung)
    );
    assert_eq!(count(&outcomes, Outcome::Hung), 0, "{outcomes:?}");
    assert!(count(&outcomes, Outcome::Served) > 0);
    // A well-behaved client after the burst is served.
    assert_eq!(client(addr, b"#FILELIST", file_list), Outcome::Served);
    assert_capacity_said(&stderr);
}

fn assert_capacity_said(stderr: &std::sync::Mutex<String>) {
    let said = stderr.lock().unwrap();
    assert!(said.contains("room for 32 connections at once"), "{said}");
}

#[test]
fn a_tracker_out_of_descriptors_refuses_newcomers_and_keeps_its_members() {
    let port = free_port();
    let mut command = Command::new(bin());
    command.args(["--tracker", &format!("127.0.0.1:{port}")]);
    let (_tracker, stderr) = spawn_limited(&command);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until("the tracker listening", || TcpStream::connect(addr).is_ok());
    // 60 would-be members, one after another, each keeping its connection: the first 32 fill
    // the table, the rest are refused (closed) rather than left waiting.
    let mut members = Vec::new();
    let mut turned_away = Vec::new();
    for _ in 0..60 {
        let mut s = TcpStream::connect_timeout(&addr, DEADLINE).expect("member connects");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        match keep_alive(&mut s) {
            Outcome::Served => members.push(s),
            other => turned_away.push(other),
        }
    }
    assert!(!turned_away.contains(&Outcome::Hung), "{turned_away:?}");
    assert_eq!(members.len(), 32);
    let outcomes = burst(addr, 200, b"{\"port\": 7000}\n", directory);
    eprintln!(
        "200 newcomers with 32 members: {} served, {} closed, {} hung",
        count(&outcomes, Outcome::Served),
        count(&outcomes, Outcome::Closed),
        count(&outcomes, Outcome::Hung)
    );
    assert_eq!(count(&outcomes, Outcome::Hung), 0, "{outcomes:?}");
    // No member was closed to make room.
    for member in &mut members {
        assert_eq!(keep_alive(member), Outcome::Served);
    }
    // One member leaves: a newcomer is served.
    members.pop();
    wait_until("a newcomer served", || {
        client(addr, b"{\"port\": 7000}\n", directory) == Outcome::Served
    });
    assert_capacity_said(&stderr);
}

fn keep_alive(member: &mut TcpStream) -> Outcome {
    if member.write_all(b"{\"port\": 6000}\n").is_err() {
        return Outcome::Closed;
    }
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\n") {
        match member.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            Ok(_) => return Outcome::Closed,
            Err(_) => return Outcome::Hung,
        }
    }
    directory(&got)
}

/// Issue 30: the tracker's table is sized by the descriptor limit, not a fixed 4,096 (its
/// members are idle between keep-alives by design, and a class of 10,000 must fit).
#[test]
fn the_trackers_default_cap_comes_from_the_descriptor_limit_and_is_said() {
    let port = free_port();
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("ulimit -n 8000 && exec \"$0\" --tracker \"$1\"")
        .arg(bin())
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = Guard(sh.spawn().expect("spawn tracker"));
    let stderr = collect(child.0.stderr.take().expect("stderr"));
    wait_until("the tracker's capacity said", || {
        stderr.lock().unwrap().contains("tracker: room for ")
    });
    // 8,000 descriptors: a quarter and 16 kept, 5,984 for connections.
    let said = stderr.lock().unwrap().clone();
    assert!(
        said.contains("tracker: room for 5984 peers at once"),
        "{said}"
    );
}
