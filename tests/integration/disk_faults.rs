//! Disk and resource faults: a disk that fills up mid-download, served_files turning read-only
//! mid-upload, a served file deleted or truncated mid-download, running out of file descriptors.
//! Mounting needs root (CI runs as root); where it is not allowed the test says so and skips.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Mount, Net, Raw, TIMEOUT, random_bytes, sha256, wait_until};

/// Writes into `dir` until the disk is full; returns the filler's path.
fn fill_disk(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 16 * 1024];
    while f.write_all(&block).is_ok() {}
    // Whatever is left in partial blocks too.
    while f.write_all(&[0]).is_ok() {}
    path
}

fn file_list(port: u16) -> String {
    Raw::connect(port).ask(b"#FILELIST", "200 Files served")
}

#[test]
fn a_full_disk_mid_download_fails_cleanly_and_the_peer_keeps_serving() {
    let mut net = Net::new(&["p1", "p2", "p3"]);
    let Some(_disk) = Mount::tmpfs(&net.dir("p1"), "2m") else {
        return;
    };
    std::fs::create_dir_all(net.dir("p1").join("served_files")).unwrap();
    net.put("p1", "small.txt", b"still served");
    let big = random_bytes(1_200_000, 11);
    net.put("p2", "big.bin", &big);
    net.start("p2", &["--chunk-delay", "1"]);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD big.bin p2");
    p1.wait_for(|l| l.ends_with("chunk 100"), "chunk 100");
    let filler = fill_disk(&net.dir("p1"));
    p1.expect_line("File big.bin download failed");
    let said = p1.seen.join("\n");
    assert!(
        said.contains("Cannot write file big.bin") && said.contains("No space left"),
        "no clear failure line:\n{said}"
    );
    assert!(net.partials("p1").is_empty());
    assert!(net.served("p1", "big.bin").is_none());
    // The peer keeps serving, and downloads again once there is room.
    std::fs::remove_file(filler).unwrap();
    let mut p3 = net.console("p3", &[]);
    p3.send("#DOWNLOAD small.txt p1");
    p3.expect_line("File small.txt download success");
    assert_eq!(net.served("p3", "small.txt").unwrap(), b"still served");
    p1.send("#DOWNLOAD small2.txt p3");
    p1.expect_line("File small2.txt download failed, peers p3 are not serving the file");
}

#[test]
fn served_files_turning_read_only_mid_upload_fails_that_upload_only() {
    let mut net = Net::new(&["p1", "p2"]);
    net.put("p2", "old.txt", b"old");
    net.start("p2", &[]);
    let data = random_bytes(80_000, 12);
    net.put("p1", "up.bin", &data);
    let mut p1 = net.console("p1", &["--chunk-delay", "5"]);
    p1.send("#UPLOAD up.bin p2");
    p1.wait_for(|l| l.ends_with("chunk 20 received"), "chunk 20 received");
    // Root ignores permission bits, so served_files becomes a read-only mount.
    let Some(read_only) = Mount::read_only(&net.dir("p2").join("served_files")) else {
        return;
    };
    p1.wait_for(|l| l.starts_with("File up.bin upload"), "the upload's end");
    assert_eq!(p1.count("File up.bin upload failed"), 1, "{:?}", p1.seen);
    assert!(net.served("p2", "up.bin").is_none());
    wait_until("p2's partial file removed", || {
        net.partials("p2").is_empty()
    });
    assert!(file_list(net.port("p2")).contains("200 Files served: old.txt"));
    // Writable again: the name was released, the same upload now succeeds.
    drop(read_only);
    p1.send("#UPLOAD up.bin p2");
    p1.expect_line("File up.bin upload success");
    assert_eq!(sha256(&net.served("p2", "up.bin").unwrap()), sha256(&data));
}

#[test]
fn a_served_file_deleted_mid_download_is_still_served_whole() {
    let mut net = Net::new(&["p1", "p2"]);
    let data = random_bytes(300_000, 13);
    net.put("p2", "gone.bin", &data);
    net.start("p2", &["--chunk-delay", "1"]);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD gone.bin p2");
    p1.wait_for(|l| l.ends_with("chunk 100"), "chunk 100");
    std::fs::remove_file(net.dir("p2").join("served_files/gone.bin")).unwrap();
    p1.expect_line("File gone.bin download success");
    assert_eq!(
        sha256(&net.served("p1", "gone.bin").unwrap()),
        sha256(&data)
    );
    assert!(file_list(net.port("p2")).contains("200 Files served"));
}

#[test]
fn a_served_file_truncated_mid_download_never_gives_wrong_bytes() {
    let mut net = Net::new(&["p1", "p2"]);
    let data = random_bytes(300_000, 14);
    net.put("p2", "cut.bin", &data);
    net.put("p2", "other.txt", b"other");
    net.start("p2", &["--chunk-delay", "1"]);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD cut.bin p2");
    p1.wait_for(|l| l.ends_with("chunk 100"), "chunk 100");
    let served = std::fs::File::options()
        .write(true)
        .open(net.dir("p2").join("served_files/cut.bin"))
        .unwrap();
    served.set_len(1_000).unwrap();
    p1.wait_for(
        |l| l.starts_with("File cut.bin download"),
        "the download's end",
    );
    match net.served("p1", "cut.bin") {
        // The whole original (all of it was read before the cut) or nothing at all.
        Some(got) => assert_eq!(sha256(&got), sha256(&data)),
        None => assert_eq!(p1.count("File cut.bin download failed"), 1),
    }
    assert!(net.partials("p1").is_empty());
    assert!(file_list(net.port("p2")).contains("200 Files served: cut.bin other.txt"));
}

/// `#FILELIST` on a new connection: the reply, or None if the connection or the read fails.
fn try_file_list(port: u16) -> Option<String> {
    use std::io::Read;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"#FILELIST").ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(_) if !reply.is_empty() => break,
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&reply).into_owned())
}

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn out_of_file_descriptors_a_peer_neither_spins_nor_dies_and_recovers() {
    let net = Net::new(&["p2"]);
    net.put("p2", "f.txt", b"f");
    let mut command = net.peer_command("p2", "--headless", &[]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 64, 64)
                .map_err(std::io::Error::from)
        });
    }
    let mut p2 = Guard(
        command
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let port = net.port("p2");
    wait_until("p2 listening", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // 200 clients that connect at once and say nothing hold every descriptor the peer may
    // open and fill its accept queue; the rest find the door shut (connect times out).
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let clients: Vec<_> = (0..200)
        .map(|_| {
            std::thread::spawn(move || {
                TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()
            })
        })
        .collect();
    let idle: Vec<TcpStream> = clients
        .into_iter()
        .filter_map(|c| c.join().unwrap())
        .collect();
    assert!(idle.len() >= 50, "only {} clients connected", idle.len());
    let before = cpu_seconds(p2.0.id());
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(1)); // measuring CPU use over a second of overload
    let busy = (cpu_seconds(p2.0.id()) - before) / start.elapsed().as_secs_f64();
    assert!(
        busy < 0.5,
        "the peer spins while out of descriptors: {busy:.2} of a core"
    );
    assert!(p2.0.try_wait().unwrap().is_none(), "the peer died");
    drop(idle);
    // Recovered: a new client is served as usual.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if try_file_list(port).is_some_and(|r| r.contains("200 Files served: f.txt")) {
            break;
        }
        assert!(Instant::now() < deadline, "the peer did not recover");
    }
    assert!(p2.0.try_wait().unwrap().is_none(), "the peer died");
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
