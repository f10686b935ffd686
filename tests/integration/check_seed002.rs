//! `--check-tracker` and `--check-sync` (seed 002) against p2p-tui's own `--tracker` and `--sync`
//! (every case passes), and against the classroom fixtures (tests/fixtures/classroom_tracker.py,
//! classroom_sync.py) with one planted fault each: that fault fails exactly its case, every other
//! case passes.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::check::{Checked, run_checker};
use crate::util::{TIMEOUT, bin, free_port};

/// The trackers under test drop a silent peer after this many seconds.
const TRACKER_TIMEOUT: &str = "2";

/// A tracker under test, killed when dropped.
struct Tracker {
    child: Child,
    port: u16,
}

impl Tracker {
    fn p2p_tui() -> Tracker {
        let port = free_port();
        let child = Command::new(bin())
            .args(["--tracker", &format!("127.0.0.1:{port}")])
            .args(["--peer-timeout", TRACKER_TIMEOUT])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("p2p-tui --tracker");
        Tracker::listening(child, port)
    }

    fn classroom(fault: &str) -> Tracker {
        let port = free_port();
        let child = Command::new("python3")
            .arg(fixture("classroom_tracker.py"))
            .args([&port.to_string(), TRACKER_TIMEOUT, fault])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        Tracker::listening(child, port)
    }

    fn listening(mut child: Child, port: u16) -> Tracker {
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                child.try_wait().expect("try_wait").is_none(),
                "tracker exited"
            );
            assert!(Instant::now() < deadline, "tracker did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Tracker { child, port }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn check_tracker(tracker: &Tracker) -> Checked {
    let addr = format!("127.0.0.1:{}", tracker.port);
    run_checker(
        &[
            "--check-tracker",
            &addr,
            "--tracker-timeout",
            TRACKER_TIMEOUT,
            "--case-timeout",
            "5",
        ],
        &[],
    )
}

fn check_sync(command: &[&str]) -> Checked {
    run_checker(&["--check-sync", "--case-timeout", "10"], command)
}

fn check_classroom_sync(fault: &str) -> Checked {
    check_sync(&["python3", &fixture("classroom_sync.py"), fault])
}

#[test]
fn check_tracker_passes_every_case_against_p2p_tui() {
    let run = check_tracker(&Tracker::p2p_tui());
    run.exactly(&[]);
    assert_eq!(run.cases().len(), 9);
    // Every case names the seed sentence it checks; JUnit files them under seed 002.
    assert!(
        run.cases()
            .iter()
            .all(|c| c["seed"].as_str().unwrap().contains("seed 00"))
    );
    assert!(
        run.junit.contains("classname=\"seed-002.T1\""),
        "{}",
        run.junit
    );
}

#[test]
fn a_classroom_tracker_passes_every_case() {
    check_tracker(&Tracker::classroom("none")).exactly(&[]);
}

#[test]
fn a_tracker_that_gives_every_file_one_mtime_fails_the_initial_case_only() {
    check_tracker(&Tracker::classroom("one-mtime")).exactly(&[("initial", "fail", "mtime")]);
}

#[test]
fn a_tracker_that_does_not_answer_keep_alives_fails_the_keep_alive_case_only() {
    check_tracker(&Tracker::classroom("mute-keep-alive")).exactly(&[(
        "keep-alive",
        "fail",
        "no directory response",
    )]);
}

#[test]
fn a_tracker_that_ignores_keep_alives_fails_the_alive_case_only() {
    check_tracker(&Tracker::classroom("no-refresh")).exactly(&[("alive", "fail", "was dropped")]);
}

#[test]
fn a_tracker_that_never_drops_a_silent_peer_fails_the_silent_case_only() {
    check_tracker(&Tracker::classroom("never-drop")).exactly(&[(
        "silent-dropped",
        "fail",
        "is still listed",
    )]);
}

#[test]
fn a_tracker_where_the_last_announcer_wins_fails_the_newest_case_only() {
    check_tracker(&Tracker::classroom("last-wins")).exactly(&[(
        "newest-wins",
        "fail",
        "an older copy replaced the newer one",
    )]);
}

#[test]
fn a_tracker_that_lists_a_fixed_address_fails_the_address_case_only() {
    check_tracker(&Tracker::classroom("fixed-ip")).exactly(&[("address", "fail", "127.0.0.2")]);
}

#[test]
fn a_tracker_that_drops_a_partial_read_fails_the_split_case_only() {
    check_tracker(&Tracker::classroom("no-buffer")).exactly(&[("split", "fail", "three parts")]);
}

#[test]
fn a_tracker_that_reads_one_message_per_read_fails_the_two_in_one_case_only() {
    check_tracker(&Tracker::classroom("first-only")).exactly(&[(
        "two-in-one",
        "fail",
        "second of two messages",
    )]);
}

#[test]
fn a_tracker_that_dies_on_bad_json_fails_the_bad_json_case_only() {
    let tracker = Tracker::classroom("die-on-bad-json");
    let run = check_tracker(&tracker);
    run.exactly(&[("bad-json", "fail", "after other peers sent bad JSON")]);
    // The summary leads with the cause: the tracker closed the connection.
    assert!(
        run.stdout
            .contains("Not passed, by first cause:\n  - closes the peer's connection"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_sync_passes_every_case_against_p2p_tui() {
    let run = check_sync(&[bin(), "--sync", "{addr}"]);
    run.exactly(&[]);
    assert_eq!(run.cases().len(), 9);
    assert!(
        run.junit.contains("classname=\"seed-002.Spec\""),
        "{}",
        run.junit
    );
}

#[test]
fn a_classroom_synchronizer_passes_every_case() {
    // The seed's calling syntax: the tracker's host and port appended to the command.
    check_classroom_sync("none").exactly(&[]);
}

#[test]
fn a_synchronizer_that_announces_float_mtimes_fails_the_initial_case_only() {
    check_classroom_sync("float-mtime").exactly(&[("initial", "fail", "not an integer")]);
}

#[test]
fn a_synchronizer_that_saves_files_as_text_fails_the_fetch_new_case_only() {
    let run = check_classroom_sync("text-only");
    run.exactly(&[("fetch-new", "fail", "new.bin was not fetched")]);
    // What the synchronizer said on stderr is kept under the failing case.
    let case = run.cases().iter().find(|c| c["id"] == "fetch-new").unwrap();
    assert!(
        case["stderr"].to_string().contains("saved new.bin"),
        "{case}"
    );
    assert!(
        run.stdout.contains("the synchronizer's last stderr lines:"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_synchronizer_that_fetches_only_new_names_fails_the_fetch_newer_case_only() {
    check_classroom_sync("new-only").exactly(&[("fetch-newer", "fail", "old.txt was not fetched")]);
}

#[test]
fn a_synchronizer_that_fetches_equal_mtimes_fails_the_older_kept_case_only() {
    check_classroom_sync("not-older").exactly(&[("older-kept", "fail", "same.txt was requested")]);
}

#[test]
fn a_synchronizer_that_keeps_the_fetch_time_fails_the_mtime_case_only() {
    check_classroom_sync("no-utime").exactly(&[("mtime", "fail", "not the directory's")]);
}

#[test]
fn a_synchronizer_without_a_fetch_timeout_fails_the_silent_server_case_only() {
    check_classroom_sync("no-timeout").exactly(&[("server-silent", "fail", "never answered")]);
}

#[test]
fn a_synchronizer_that_stops_at_a_refused_server_fails_that_case_only() {
    check_classroom_sync("stop-on-refused").exactly(&[(
        "server-refused",
        "fail",
        "refused the connection",
    )]);
}

#[test]
fn a_synchronizer_with_10_s_keep_alives_fails_the_keep_alive_case_only() {
    check_classroom_sync("keep-alive-10s").exactly(&[("keep-alive", "fail", "not 2")]);
}

#[test]
fn a_synchronizer_that_sends_a_length_header_fails_the_serves_case_only() {
    check_classroom_sync("header").exactly(&[("serves", "fail", "Content-Length: 100000")]);
}
