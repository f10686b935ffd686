//! demo/line-demo.sh and demo/tmux.sh with an installed binary (`P2P_TUI`): free ports, their
//! temporary copies removed, nothing left running, and tmux.sh usable inside tmux.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::tui::Tmux;
use crate::util::{bin, entries, wait_until};

fn script(name: &str) -> String {
    format!("{}/demo/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Peers started from `copy_dir` (the script's temporary copy) that are still running.
fn peers_running_in(tmp: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.filter_map(|e| e.ok()).any(|e| {
        std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(tmp))
            && std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--peer"))
    })
}

#[test]
fn line_demo_runs_the_given_binary_on_free_ports_and_removes_its_copy() {
    let tmp = tempfile::tempdir().unwrap();
    // The settings' fixed port for p2, taken: the script must not use it.
    let _taken = std::net::TcpListener::bind("127.0.0.1:50002");
    let mut child = Command::new("bash")
        .arg(script("line-demo.sh"))
        .env("P2P_TUI", bin())
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "#FILELIST p2 p3").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Server (p2): 200 Files served: f1.txt noise.bin ocean.txt river.txt"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Server (p3): 200 Files served:"),
        "{stdout}"
    );
    assert!(entries(tmp.path()).is_empty(), "copy left behind");
    assert!(!peers_running_in(tmp.path()));
}

#[test]
fn tmux_demo_inside_tmux_opens_a_window_and_quitting_p1_ends_it_all() {
    let tmp = tempfile::tempdir().unwrap();
    let command = format!(
        "env P2P_TUI={} TMPDIR={} bash {} 5; echo SCRIPT=$?; sleep 60",
        bin(),
        tmp.path().display(),
        script("tmux.sh")
    );
    let tmux = Tmux::start(160, 40, &command);
    // The script's own pane (window 0; the demo window becomes the current one).
    let script_pane = || tmux.run(&["capture-pane", "-p", "-t", "t:0"]);
    wait_until("the script to finish", || script_pane().contains("SCRIPT="));
    assert!(script_pane().contains("SCRIPT=0"), "{}", script_pane());
    let panes = tmux.run(&["list-panes", "-t", "p2p-demo", "-F", "#{pane_index}"]);
    assert_eq!(panes.lines().count(), 4, "{panes}");
    let p1 = || tmux.run(&["capture-pane", "-p", "-t", "p2p-demo.0"]);
    wait_until("p1's UI with its peers online", || {
        let screen = p1();
        screen.contains("Message log") && screen.matches("online").count() == 3
    });
    // Not the settings' fixed ports.
    assert!(!p1().contains("50002"), "{}", p1());
    assert_eq!(entries(tmp.path()).len(), 1);
    tmux.run(&["send-keys", "-t", "p2p-demo.0", "q"]);
    wait_until("the demo window closed", || {
        !tmux
            .run(&["list-windows", "-F", "#{window_name}"])
            .contains("p2p-demo")
    });
    wait_until("the copy removed", || entries(tmp.path()).is_empty());
    wait_until("no peer left", || !peers_running_in(tmp.path()));
}

#[test]
fn tmux_demo_that_cannot_attach_leaves_nothing_running() {
    let tmp = tempfile::tempdir().unwrap();
    let sockets = tempfile::tempdir().unwrap();
    // Outside tmux with no terminal to attach from.
    let out = Command::new("bash")
        .arg(script("tmux.sh"))
        .env_remove("TMUX")
        .env("TMUX_TMPDIR", sockets.path())
        .env("P2P_TUI", bin())
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot attach"), "{stderr}");
    assert!(entries(tmp.path()).is_empty(), "copy left behind");
    wait_until("no peer left", || !peers_running_in(tmp.path()));
    let sessions = Command::new("tmux")
        .arg("ls")
        .env("TMUX_TMPDIR", sockets.path())
        .output()
        .unwrap();
    assert!(!sessions.status.success(), "a tmux session is left");
}
