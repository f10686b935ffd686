//! Real `p2p-tui` processes for the benchmark: four peers' folders and settings in a temporary
//! directory, p2, p3 and p4 serving at full speed and p5 at `--chunk-delay 2`, all headless;
//! p1 a `--line` peer run for one command at a time.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::system::{free_port, vm_hwm_kib, wait_for_port, write_random};

/// The serving peers at full speed.
pub const FAST: [&str; 3] = ["p2", "p3", "p4"];
/// The serving peer at `--chunk-delay 2` (about 50 kB/s).
pub const SLOW: &str = "p5";
const IDS: [&str; 5] = ["p1", "p2", "p3", "p4", "p5"];

pub struct Peers {
    pub root: tempfile::TempDir,
    ports: Vec<u16>,
    servers: Vec<Child>,
}

impl Peers {
    /// Folders and settings for p1-p5, the servers started and listening.
    pub fn start(bin: &Path) -> Peers {
        let root = tempfile::tempdir().expect("temporary directory");
        let ports: Vec<u16> = IDS.iter().map(|_| free_port()).collect();
        for id in IDS {
            fs::create_dir_all(root.path().join(id).join("served_files")).unwrap();
        }
        let mut peers = Peers {
            root,
            ports,
            servers: Vec::new(),
        };
        peers.write_settings("peer_settings.txt", &[]);
        for id in FAST {
            peers.servers.push(peers.start_server(bin, id, &[]));
        }
        peers
            .servers
            .push(peers.start_server(bin, SLOW, &["--chunk-delay", "2"]));
        for id in &IDS[1..] {
            wait_for_port(peers.port(id));
        }
        peers
    }

    fn start_server(&self, bin: &Path, id: &str, extra: &[&str]) -> Child {
        Command::new(bin)
            .args(["--peer", id, "--headless", "--settings"])
            .arg(self.settings())
            .arg("--dir")
            .arg(self.dir(id))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a server")
    }

    pub fn port(&self, id: &str) -> u16 {
        self.ports[IDS.iter().position(|i| *i == id).expect("a known peer")]
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.path().join(id)
    }

    /// The settings every server and a direct p1 read.
    pub fn settings(&self) -> PathBuf {
        self.root.path().join("peer_settings.txt")
    }

    /// A settings file for p1 naming `(peer, port)` in place of the peers' own ports (relays).
    pub fn write_settings(&self, name: &str, instead: &[(&str, u16)]) -> PathBuf {
        let text: String = IDS
            .iter()
            .map(|id| {
                let port = instead
                    .iter()
                    .find(|(i, _)| i == id)
                    .map_or(self.port(id), |(_, p)| *p);
                format!("{id} 127.0.0.1 {port}\n")
            })
            .collect();
        let path = self.root.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    pub fn served(&self, id: &str, name: &str) -> PathBuf {
        self.dir(id).join("served_files").join(name)
    }

    /// A random file of `size` bytes served by every server as `name`; its path.
    pub fn serve(&self, name: &str, size: u64) -> PathBuf {
        let source = self.root.path().join(name);
        if !source.exists() {
            write_random(&source, size);
            for id in FAST.iter().chain([&SLOW]) {
                fs::hard_link(&source, self.served(id, name)).unwrap();
            }
        }
        source
    }

    /// A random file of `size` bytes beside the peers' folders (served by none of them).
    pub fn root_file(&self, name: &str, size: u64) -> PathBuf {
        let source = self.root.path().join(name);
        if !source.exists() {
            write_random(&source, size);
        }
        source
    }

    /// The servers' peak RSS in MiB.
    pub fn server_rss_mib(&self) -> Vec<f64> {
        self.servers
            .iter()
            .map(|s| vm_hwm_kib(s.id()) as f64 / 1024.0)
            .collect()
    }

    /// p1's copy of `name` and anything a stopped run left, removed.
    pub fn forget_download(&self, name: &str) {
        let _ = fs::remove_file(self.served("p1", name));
        let _ = fs::remove_dir_all(self.dir("p1").join(".p2p-tui-partial"));
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

/// One command's run in p1.
pub struct Run {
    pub secs: f64,
    /// False when it was stopped at the time limit.
    pub finished: bool,
    /// p1's VmHWM, read every 10 ms while it ran.
    pub peak_kib: u64,
}

impl Run {
    /// "12.34 s", or "> 120 s (stopped)".
    pub fn time(&self) -> String {
        if self.finished {
            format!("{:.2} s", self.secs)
        } else {
            format!("> {:.0} s (stopped)", self.secs)
        }
    }

    /// MB/s; "-" when stopped (the bytes it got by then are not counted).
    pub fn rate(&self, bytes: u64) -> String {
        if self.finished {
            format!("{:.1} MB/s", bytes as f64 / 1e6 / self.secs)
        } else {
            "-".to_owned()
        }
    }
}

/// Runs `line` in a `--line` p1 (stdout to /dev/null) with `settings` and `extra` flags; stops
/// it after `limit`.
pub fn command(
    bin: &Path,
    peers: &Peers,
    settings: &Path,
    line: &str,
    extra: &[&str],
    limit: Duration,
) -> Run {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(["--peer", "p1", "--line", "--settings"])
        .arg(settings)
        .arg("--dir")
        .arg(peers.dir("p1"))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start p1");
    // The console runs the command to its end, then sees end of input and exits.
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{line}").unwrap();
    drop(stdin);
    wait_sampling_rss(child, started, limit)
}

/// Waits for p1 (killed at `limit`), sampling its peak RSS every 10 ms; the exit is timed by a
/// thread waiting for it.
fn wait_sampling_rss(mut child: std::process::Child, started: Instant, limit: Duration) -> Run {
    let pid = child.id();
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let status = child.wait().unwrap();
        let _ = exited.send((status, started.elapsed().as_secs_f64()));
    });
    let (mut peak_kib, mut killed) = (0, false);
    loop {
        peak_kib = peak_kib.max(vm_hwm_kib(pid));
        let (status, secs) = match exit.recv_timeout(Duration::from_millis(10)) {
            Ok(exit) => exit,
            Err(_) => {
                if !killed && started.elapsed() >= limit {
                    let p1 = nix::unistd::Pid::from_raw(pid as i32);
                    let _ = nix::sys::signal::kill(p1, nix::sys::signal::Signal::SIGKILL);
                    killed = true;
                }
                continue;
            }
        };
        if killed {
            let secs = limit.as_secs_f64();
            return Run {
                secs,
                finished: false,
                peak_kib,
            };
        }
        assert!(status.success(), "p1 exited with {status}");
        return Run {
            secs,
            finished: true,
            peak_kib,
        };
    }
}
