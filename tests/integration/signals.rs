//! SIGINT, SIGTERM and SIGHUP end every mode the same way: running transfers cancelled, partial
//! files and temporary directories removed, the terminal restored, exit status 0 (`--get`: 128 +
//! the signal's number). Terminals are real: tmux panes, as in tui.rs.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::tui::Tmux;
use crate::util::{Net, TIMEOUT, bin, entries, free_port, random_bytes, wait_until};

const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

fn send(pid: u32, signal: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).expect("signal");
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn demo_dir() -> String {
    format!("{}/demo", env!("CARGO_MANIFEST_DIR"))
}

/// tmux's view of the pane: alternate screen on, and any mouse tracking mode on.
fn terminal_modes(tmux: &Tmux) -> (bool, bool) {
    let flags = tmux.run(&[
        "display-message",
        "-p",
        "-t",
        "t",
        "#{alternate_on} #{mouse_standard_flag}#{mouse_button_flag}#{mouse_any_flag}",
    ]);
    let mut parts = flags.split_whitespace();
    let alternate = parts.next() == Some("1");
    let mouse = parts.next().is_some_and(|m| m.contains('1'));
    (alternate, mouse)
}

/// Runs `command` in a tmux pane as a process whose pid is written to `pid_file`, then prints
/// its exit status as `EXIT=n`.
fn in_tmux(pid_file: &Path, command: &str) -> Tmux {
    let line = format!(
        "sh -c 'echo $$ > {}; exec {command}'; echo EXIT=$?; sleep 60",
        pid_file.display()
    );
    Tmux::start(100, 30, &line)
}

fn read_pid(pid_file: &Path) -> u32 {
    let mut pid = None;
    wait_until("the pid file", || {
        pid = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap()
}

#[test]
fn line_console_stopped_by_any_signal_mid_download_removes_the_partial_and_exits_0() {
    for signal in SIGNALS {
        let mut net = Net::new(&["p1", "p2"]);
        net.put("p2", "slow.bin", &random_bytes(50_000, 3));
        net.start("p2", &["--chunk-delay", "20"]);
        let mut p1 = net.console("p1", &[]);
        p1.send("#DOWNLOAD slow.bin p2");
        p1.wait_for(|l| l.ends_with("chunk 5"), "chunk 5");
        assert_eq!(net.partials("p1").len(), 1);
        p1.signal(signal);
        let status = p1.wait_exit();
        assert_eq!(status.code(), Some(0), "{signal}");
        assert!(net.partials("p1").is_empty(), "{signal}");
        assert!(net.served("p1", "slow.bin").is_none(), "{signal}");
    }
}

#[test]
fn headless_peer_stopped_by_any_signal_mid_upload_removes_the_partial_and_exits_0() {
    for signal in SIGNALS {
        let mut net = Net::new(&["p1", "p2"]);
        net.put("p1", "up.bin", &random_bytes(50_000, 4));
        net.start("p2", &[]);
        let mut p1 = net.console("p1", &["--chunk-delay", "20"]);
        p1.send("#UPLOAD up.bin p2");
        p1.wait_for(|l| l.ends_with("chunk 5 received"), "chunk 5 received");
        assert_eq!(net.partials("p2").len(), 1);
        let mut p2 = net.take("p2");
        send(p2.id(), signal);
        assert_eq!(wait_exit(&mut p2).code(), Some(0), "{signal}");
        assert!(net.partials("p2").is_empty(), "{signal}");
        assert!(net.served("p2", "up.bin").is_none(), "{signal}");
        p1.expect_line("File up.bin upload failed");
    }
}

#[test]
fn tracker_web_and_sync_exit_0_on_any_signal() {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "hi").unwrap();
    let folder = tempfile::tempdir().unwrap();
    for signal in SIGNALS {
        let (tracker, web) = (free_port(), free_port());
        let mut servers = Command::new(bin())
            .args(["--tracker", &format!("127.0.0.1:{tracker}")])
            .args(["--web", &format!("127.0.0.1:{web}"), "--www"])
            .arg(www.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until("tracker and web server", || {
            TcpStream::connect(("127.0.0.1", tracker)).is_ok()
                && TcpStream::connect(("127.0.0.1", web)).is_ok()
        });
        let mut sync = Command::new(bin())
            .args(["--sync", &format!("127.0.0.1:{tracker}"), "--dir"])
            .arg(folder.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let said = crate::util::collect(sync.stderr.take().unwrap());
        wait_until("the synchronizer started", || {
            said.lock().unwrap().contains("serving files on")
        });
        send(sync.id(), signal);
        assert_eq!(wait_exit(&mut sync).code(), Some(0), "--sync {signal}");
        send(servers.id(), signal);
        assert_eq!(
            wait_exit(&mut servers).code(),
            Some(0),
            "--tracker {signal}"
        );
        assert_eq!(entries(folder.path()), [".p2p-tui-partial"]);
    }
}

#[test]
fn get_stopped_by_any_signal_exits_128_plus_its_number_and_saves_nothing() {
    for signal in SIGNALS {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cwd = tempfile::tempdir().unwrap();
        let mut get = Command::new(bin())
            .args(["--get", "127.0.0.1", &port.to_string(), "x.bin"])
            .args(["--timeout", "60"])
            .current_dir(cwd.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The request arrives, and no answer ever comes.
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = conn.read(&mut request).unwrap();
        send(get.id(), signal);
        assert_eq!(
            wait_exit(&mut get).code(),
            Some(128 + signal as i32),
            "{signal}"
        );
        assert!(entries(cwd.path()).is_empty());
    }
}

#[test]
fn tui_peer_stopped_by_any_signal_restores_the_terminal_and_removes_the_partial() {
    for signal in SIGNALS {
        let mut net = Net::new(&["p1", "p2"]);
        net.put("p2", "slow.bin", &random_bytes(50_000, 5));
        net.start("p2", &["--chunk-delay", "20"]);
        let pid_file = net.root.path().join("pid");
        let command = format!(
            "{} --peer p1 --settings {} --dir {}",
            bin(),
            net.settings().display(),
            net.dir("p1").display()
        );
        let tmux = in_tmux(&pid_file, &command);
        tmux.wait_for("Message log");
        assert_eq!(terminal_modes(&tmux), (true, true), "UI running");
        tmux.type_text("#DOWNLOAD slow.bin p2");
        tmux.key("Enter");
        tmux.wait_for("chunk 5");
        assert_eq!(net.partials("p1").len(), 1);
        send(read_pid(&pid_file), signal);
        let screen = tmux.wait_for("EXIT=");
        assert!(screen.contains("EXIT=0"), "{signal}: {screen}");
        assert!(!screen.contains("Message log"), "{signal}: {screen}");
        assert_eq!(terminal_modes(&tmux), (false, false), "{signal}");
        assert!(net.partials("p1").is_empty(), "{signal}");
    }
}

#[test]
fn demo_stopped_by_any_signal_removes_its_temporary_copy_and_restores_the_terminal() {
    for signal in SIGNALS {
        let tmp = tempfile::tempdir().unwrap();
        let pid_file = tmp.path().join("pid");
        let command = format!(
            "env TMPDIR={} {} --demo --demo-dir {}",
            tmp.path().display(),
            bin(),
            demo_dir()
        );
        let tmux = in_tmux(&pid_file, &command);
        tmux.wait_for("Message log");
        let copies = entries(tmp.path());
        assert!(
            copies.iter().any(|n| n.starts_with("p2p-tui-demo.")),
            "{copies:?}"
        );
        send(read_pid(&pid_file), signal);
        let screen = tmux.wait_for("EXIT=");
        assert!(screen.contains("EXIT=0"), "{signal}: {screen}");
        assert_eq!(terminal_modes(&tmux), (false, false), "{signal}");
        assert_eq!(entries(tmp.path()), ["pid"], "{signal}");
    }
}

#[test]
fn demo_and_peer_without_a_controlling_terminal_use_the_line_console() {
    let tmp = tempfile::tempdir().unwrap();
    let net = Net::new(&["p1", "p2"]);
    let peer = format!(
        "{} --peer p1 --settings {} --dir {}",
        bin(),
        net.settings().display(),
        net.dir("p1").display()
    );
    let demo = format!("{} --demo --demo-dir {}", bin(), demo_dir());
    for command in [demo, peer] {
        // Standard output is the pane's terminal, but setsid leaves no controlling terminal.
        let line = format!(
            "env TMPDIR={} setsid -w {command} </dev/null; echo EXIT=$?; sleep 60",
            tmp.path().display()
        );
        let tmux = Tmux::start(100, 30, &line);
        let screen = tmux.wait_for("EXIT=");
        assert!(screen.contains("EXIT=0"), "{command}: {screen}");
        assert!(screen.contains("Input your command:"), "{screen}");
        assert!(!screen.contains("panicked"), "{screen}");
        assert!(entries(tmp.path()).is_empty(), "{command}");
        // And with no terminal at all (a pipe).
        let out = Command::new("sh")
            .args(["-c", &format!("setsid -w {command} </dev/null")])
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Input your command:"));
        assert!(entries(tmp.path()).is_empty(), "{command}");
    }
}
