//! The full-screen peer driven as a person would: the real binary in a pseudo-terminal (tmux on
//! its own server socket), keys typed, the screen read back.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{Net, TIMEOUT, bin, random_bytes, sha256};

/// A tmux server of our own, killed on drop.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn start(width: u16, height: u16, command: &str) -> Tmux {
        let socket = format!("p2p-tui-test-{}-{}", std::process::id(), rand_suffix());
        let tmux = Tmux { socket };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        tmux
    }

    pub(crate) fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn screen(&self) -> String {
        self.run(&["capture-pane", "-t", "t", "-p"])
    }

    pub(crate) fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    pub(crate) fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "t", key]);
    }

    pub(crate) fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.screen();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what:?} on screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

#[test]
fn tui_downloads_from_two_peers_and_quits_cleanly_on_ctrl_c() {
    let mut net = Net::new(&["p1", "p2", "p3"]);
    let data = random_bytes(30_000, 77);
    for id in ["p2", "p3"] {
        net.put(id, "f.bin", &data);
        net.start(id, &["--chunk-delay", "2"]);
    }
    let command = format!(
        "{} --peer p1 --settings {} --dir {}; echo EXIT=$?; sleep 60",
        bin(),
        net.settings().display(),
        net.dir("p1").display()
    );
    let tmux = Tmux::start(100, 30, &command);
    tmux.wait_for("Message log");
    tmux.wait_for("p2   "); // the peers panel
    tmux.type_text("#DOWNLOAD f.bin p2 p3");
    tmux.key("Enter");
    let screen = tmux.wait_for("File f.bin download success");
    assert!(screen.contains("Transfers"), "{screen}");
    assert!(screen.contains("f.bin"), "{screen}");
    tmux.key("C-c");
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(
        sha256(&net.served("p1", "f.bin").expect("downloaded")),
        sha256(&data)
    );
    assert!(net.partials("p1").is_empty());
}

#[test]
fn tui_ctrl_c_mid_download_restores_the_terminal_and_removes_the_partial() {
    let mut net = Net::new(&["p1", "p2"]);
    net.put("p2", "slow.bin", &random_bytes(50_000, 78));
    net.start("p2", &["--chunk-delay", "20"]);
    let command = format!(
        "{} --peer p1 --settings {} --dir {}; echo EXIT=$?; sleep 60",
        bin(),
        net.settings().display(),
        net.dir("p1").display()
    );
    let tmux = Tmux::start(80, 24, &command);
    tmux.wait_for("Message log");
    tmux.type_text("#DOWNLOAD slow.bin p2");
    tmux.key("Enter");
    tmux.wait_for("chunk 5");
    assert_eq!(net.partials("p1").len(), 1);
    tmux.key("C-c");
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    // The full-screen UI is gone: the shell's line is on a restored screen.
    assert!(!screen.contains("Message log"), "{screen}");
    assert!(net.partials("p1").is_empty());
    assert!(net.served("p1", "slow.bin").is_none());
}

#[test]
fn tui_3mb_download_survives_a_killed_peer_at_80x24() {
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    let data = random_bytes(3_000_000, 79);
    for id in ["p2", "p3", "p4"] {
        net.put(id, "big.bin", &data);
    }
    net.start("p2", &[]);
    net.start("p3", &["--chunk-delay", "1"]);
    net.start("p4", &[]);
    let command = format!(
        // Strict round robin: p3 serves its third, chunk by chunk, until it is killed (the
        // fast peers would otherwise take its chunks at once).
        "{} --peer p1 --settings {} --dir {} --strict-round-robin; echo EXIT=$?; sleep 60",
        bin(),
        net.settings().display(),
        net.dir("p1").display()
    );
    let tmux = Tmux::start(80, 24, &command);
    tmux.wait_for("Message log");
    tmux.type_text("#DOWNLOAD big.bin p2 p3 p4");
    tmux.key("Enter");
    // p3 is serving (about a chunk a millisecond): kill it mid-transfer.
    tmux.wait_for("Server (p3): 200 File big.bin chunk");
    assert!(net.served("p1", "big.bin").is_none(), "finished too early");
    net.kill("p3");
    let screen = tmux.wait_for("File big.bin download success");
    assert!(
        screen.contains("left after"),
        "p3's row says it left:\n{screen}"
    );
    assert_eq!(
        sha256(&net.served("p1", "big.bin").expect("downloaded")),
        sha256(&data)
    );
    assert!(net.partials("p1").is_empty());
    tmux.key("C-c");
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
}

fn tui_command(net: &Net, id: &str) -> String {
    format!(
        "{} --peer {id} --settings {} --dir {}; echo EXIT=$?; sleep 60",
        bin(),
        net.settings().display(),
        net.dir(id).display()
    )
}

#[test]
fn tui_cancels_the_selected_transfer_and_removes_its_partial() {
    let mut net = Net::new(&["p1", "p2"]);
    net.put("p2", "slow.bin", &random_bytes(50_000, 80));
    net.start("p2", &["--chunk-delay", "20"]);
    let tmux = Tmux::start(100, 30, &tui_command(&net, "p1"));
    tmux.wait_for("Message log");
    tmux.type_text("#DOWNLOAD slow.bin p2");
    tmux.key("Enter");
    tmux.wait_for("chunk 5");
    assert_eq!(net.partials("p1").len(), 1);
    // Tab with an empty bar: the Transfers panel, its newest transfer selected.
    tmux.key("Tab");
    tmux.wait_for(" Transfers  j/k select");
    tmux.type_text("d");
    tmux.wait_for("Cancelling the download of file slow.bin");
    tmux.wait_for("Partial file slow.bin removed");
    // The transfer's entry turns to its outcome on a later frame than the log's lines.
    let screen = tmux.wait_for("FAILED after");
    assert!(screen.contains("File slow.bin download failed"), "{screen}");
    assert!(screen.contains("Partial file slow.bin removed"), "{screen}");
    crate::util::wait_until("the partial file removed", || net.partials("p1").is_empty());
    assert!(net.served("p1", "slow.bin").is_none());
    // The peer goes on: nothing runs, so q quits at once.
    tmux.type_text("q");
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[test]
fn tui_filtered_log_search_and_history_kept_across_runs() {
    let mut net = Net::new(&["p1", "p2"]);
    let data = random_bytes(20_000, 81);
    net.put("p2", "f.bin", &data);
    net.start("p2", &[]);
    let tmux = Tmux::start(100, 30, &tui_command(&net, "p1"));
    tmux.wait_for("Message log");
    tmux.type_text("#DOWNLOAD f.bin p2");
    tmux.key("Enter");
    tmux.wait_for("File f.bin download success");
    tmux.type_text("#NOPE");
    tmux.key("Enter");
    tmux.wait_for("Input your command: #NOPE");
    // f: only commands, outcomes and errors; the 200 chunk lines are gone from the log.
    tmux.type_text("f");
    let screen = tmux.wait_for("Message log, no chunk lines");
    assert!(
        screen.contains("Input your command: #DOWNLOAD f.bin p2"),
        "{screen}"
    );
    assert!(screen.contains("Downloading file f.bin"), "{screen}");
    assert!(screen.contains("File f.bin download success"), "{screen}");
    assert!(!screen.contains("200 File f.bin chunk"), "{screen}");
    // / searches, the match is counted.
    tmux.type_text("/");
    tmux.wait_for("Search the log");
    tmux.type_text("success");
    tmux.key("Enter");
    tmux.wait_for("\"success\": match 1 of 1");
    tmux.key("Escape");
    tmux.type_text("f");
    tmux.wait_for("200 File f.bin chunk");
    tmux.type_text("q");
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(
        sha256(&net.served("p1", "f.bin").expect("downloaded")),
        sha256(&data)
    );
    // The history is in the peer directory; a new run recalls it with Up.
    let history = std::fs::read_to_string(net.dir("p1").join(".p2p-tui-history")).unwrap();
    assert_eq!(history, "#DOWNLOAD f.bin p2\n#NOPE\n");
    drop(tmux);
    let tmux = Tmux::start(100, 30, &tui_command(&net, "p1"));
    tmux.wait_for("Message log");
    tmux.key("Up");
    tmux.key("Up");
    tmux.wait_for("> #DOWNLOAD f.bin p2");
    tmux.key("C-c");
    tmux.wait_for("EXIT=0");
}

/// Issue 14's looks, on the real binary at 80x24: a download from three slowed peers shows its
/// chunks in flight (░ after the received ones in the map, under a legend saying so) and a rate
/// sparkline at the end of the gauge's row; a file with a space in its name is said in the
/// served-files panel.
#[test]
fn tui_draws_chunks_in_flight_a_rate_sparkline_and_unservable_names_at_80x24() {
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    let data = random_bytes(600_000, 82);
    for id in ["p2", "p3", "p4"] {
        net.put(id, "big.bin", &data);
        net.start(id, &["--chunk-delay", "2"]);
    }
    net.put("p1", "my file.txt", b"not servable");
    let tmux = Tmux::start(80, 24, &tui_command(&net, "p1"));
    tmux.wait_for("1 name not servable");
    tmux.type_text("#DOWNLOAD big.bin p2 p3 p4");
    tmux.key("Enter");
    let rows = |screen: &str| -> Vec<String> { screen.lines().map(String::from).collect() };
    // The map: the rows under the legend (at most three).
    let map_rows = |screen: &str| -> Option<String> {
        let rows = rows(screen);
        let legend = rows.iter().position(|r| r.contains("░ in flight"))?;
        Some(rows.iter().skip(legend + 1).take(3).cloned().collect())
    };
    // The sparkline: the last columns of the gauge's row (the row with the percentage).
    let sparkline = |screen: &str| -> Option<String> {
        let row = rows(screen).into_iter().find(|r| r.contains("% "))?;
        let chars: Vec<char> = row.chars().collect();
        Some(
            chars[chars.len().saturating_sub(17)..chars.len() - 1]
                .iter()
                .collect(),
        )
    };
    let deadline = Instant::now() + crate::util::TIMEOUT;
    let (mut in_flight, mut sparked) = (false, false);
    while !(in_flight && sparked) {
        let screen = tmux.screen();
        assert!(
            !screen.contains("download success"),
            "over before both were seen (in flight {in_flight}, sparkline {sparked}):\n{screen}"
        );
        in_flight |= map_rows(&screen).is_some_and(|rows| rows.contains('░'));
        sparked |= sparkline(&screen).is_some_and(|s| s.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c)));
        assert!(
            Instant::now() < deadline,
            "in flight {in_flight}, sparkline {sparked}:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.wait_for("File big.bin download success");
    assert_eq!(
        sha256(&net.served("p1", "big.bin").expect("downloaded")),
        sha256(&data)
    );
    tmux.key("C-c");
    tmux.wait_for("EXIT=0");
}
