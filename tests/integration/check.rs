//! `--check-server` and `--check-client` against p2p-tui itself (every case passes), against the
//! classroom fixtures with one planted fault each (that fault is reported as its fail or
//! deviation, in exactly the cases it shows in, and every other case passes), and against
//! implementations that hang (each case fails at its deadline, the checker goes on, nothing is
//! left running).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Net, TIMEOUT, bin, free_port};

/// The classroom fixture server (tests/fixtures/classroom_server.py) with one `fault`.
pub struct Classroom {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Classroom {
    pub fn start(fault: &str) -> Classroom {
        let dir = tempfile::tempdir().expect("tempdir");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classroom_server.py");
        let port = free_port();
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .arg(fault)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                child.try_wait().expect("try_wait").is_none(),
                "fixture exited"
            );
            assert!(Instant::now() < deadline, "fixture did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Classroom {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Classroom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Checked {
    pub code: Option<i32>,
    pub json: Value,
    pub junit: String,
    pub stdout: String,
}

impl Checked {
    pub fn cases(&self) -> &Vec<Value> {
        self.json["cases"].as_array().expect("cases")
    }

    /// (id, verdict) of every case that did not pass.
    pub fn not_passed(&self) -> Vec<(String, String)> {
        self.cases()
            .iter()
            .filter(|c| c["verdict"] != "pass")
            .map(|c| {
                (
                    c["id"].as_str().unwrap().into(),
                    c["verdict"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    /// The complete verdict set: exactly the cases `expected` (id, verdict, a phrase of its
    /// detail) did not pass, each with its evidence, and every other case passed.
    pub fn exactly(&self, expected: &[(&str, &str, &str)]) {
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(id, verdict, _)| (id.to_string(), verdict.to_string()))
            .collect();
        assert_eq!(self.not_passed(), want, "{}", self.stdout);
        for (id, _, needle) in expected {
            let case = self.cases().iter().find(|c| c["id"] == *id).unwrap();
            let detail = case["detail"].to_string();
            assert!(detail.contains(needle), "{id}: {detail}\n{}", self.stdout);
            assert!(
                !case["evidence"].as_array().unwrap().is_empty(),
                "{id} shows no evidence:\n{}",
                self.stdout
            );
        }
        let passed = self.cases().len() - expected.len();
        assert_eq!(self.json["passed"], passed, "{}", self.stdout);
        assert_eq!(
            self.code,
            Some(i32::from(!expected.is_empty())),
            "{}",
            self.stdout
        );
    }
}

pub fn check_server(port: u16, case_timeout: &str) -> Checked {
    let addr = format!("127.0.0.1:{port}");
    run_checker(
        &["--check-server", &addr, "--case-timeout", case_timeout],
        &[],
    )
}

/// Runs a checker with `args` in the crate's folder (where fixture paths are relative to),
/// JSON and JUnit reports into a temporary directory, then `-- command` if there is one.
pub fn run_checker(args: &[&str], command: &[&str]) -> Checked {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (json, junit) = (out_dir.path().join("r.json"), out_dir.path().join("r.xml"));
    let output = Command::new(bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .arg("--report")
        .arg("json")
        .arg(&json)
        .arg("--report")
        .arg("junit")
        .arg(&junit)
        .args(if command.is_empty() {
            &[][..]
        } else {
            &["--"][..]
        })
        .args(command)
        .output()
        .expect("run the checker");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text = std::fs::read_to_string(&json).unwrap_or_else(|_| {
        panic!(
            "no JSON report: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Checked {
        code: output.status.code(),
        json: serde_json::from_str(&text).expect("JSON report"),
        junit: std::fs::read_to_string(&junit).expect("JUnit report"),
        stdout,
    }
}

#[test]
fn check_server_passes_every_case_against_p2p_tui() {
    let mut net = Net::new(&["p1"]);
    net.start("p1", &[]);
    let run = check_server(net.port("p1"), "5");
    assert_eq!(run.not_passed(), vec![], "{}", run.stdout);
    assert_eq!(run.code, Some(0));
    assert!(run.cases().len() >= 16);
    assert!(run.junit.contains("failures=\"0\""));
    assert!(
        run.stdout.contains("PASS  IV.5   upload-left"),
        "{}",
        run.stdout
    );
    // Nothing of a partial upload is left behind, and every uploaded file is whole.
    assert!(net.partials("p1").is_empty());
    assert!(
        net.served_names("p1")
            .iter()
            .any(|n| n.ends_with("-binary.txt"))
    );
}

#[test]
fn a_classroom_server_that_reads_one_message_per_recv_passes() {
    // The fixture with no fault reads one message per recv(1024): the checker speaks in
    // lockstep, one message per write, so that is no fault.
    let server = Classroom::start("none");
    let run = check_server(server.port, "5");
    run.exactly(&[]);
    assert!(run.cases().len() >= 16);
}

#[test]
fn a_330_without_the_word_file_is_a_deviation_of_the_download_case_only() {
    let server = Classroom::start("no-file-word");
    let run = check_server(server.port, "5");
    run.exactly(&[("download", "deviation", "the word \\\"file\\\" is missing")]);
    assert!(run.junit.contains("type=\"deviation\""));
    // The evidence is the reply as it came.
    assert!(
        run.stdout.contains("< \"330 Ready to send chk"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_private_upload_end_marker_is_a_deviation_of_the_upload_case_only() {
    let server = Classroom::start("sentinel");
    let run = check_server(server.port, "2");
    run.exactly(&[(
        "upload",
        "deviation",
        "an end marker the seed does not have",
    )]);
    assert!(
        run.stdout.contains("(closes its sending side)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_server_that_decodes_chunks_as_utf8_fails_the_binary_case_only() {
    let server = Classroom::start("utf8");
    let run = check_server(server.port, "5");
    run.exactly(&[("binary-bytes", "fail", "closed the connection")]);
}

#[test]
fn a_partial_file_left_visible_fails_the_abandoned_upload_case_only() {
    let server = Classroom::start("partial-visible");
    let run = check_server(server.port, "5");
    run.exactly(&[("upload-left", "fail", "after its uploader left")]);
}

#[test]
fn a_server_that_never_answers_fails_every_case_within_its_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    let run = check_server(port, "0.3");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(run.code, Some(1));
    assert!(
        run.cases().iter().all(|c| c["verdict"] == "fail"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("the implementation stopped answering"));
}

/// A server that hangs in the middle of every upload (tests/fixtures/check_hang_server.py):
/// each such case fails at its deadline, the checker goes on to the next (the cases that need
/// no upload pass), and the connections of a hung case are closed when it ends, not piled up.
#[test]
fn a_server_that_hangs_mid_upload_fails_those_cases_and_the_checker_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("held.log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check_hang_server.py");
    let port = free_port();
    let mut child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let server = Running(&mut child);
    wait_listening(port, server.0);
    let run = check_server(port, "1");
    for case in run.cases() {
        let expected = if ["filelist", "download-unknown"].contains(&case["id"].as_str().unwrap()) {
            "pass"
        } else {
            "fail"
        };
        assert_eq!(case["verdict"], expected, "{}", run.stdout);
        assert!(case["seconds"].as_f64().unwrap() < 1.5, "{}", run.stdout);
    }
    assert!(run.stdout.contains("the implementation stopped answering"));
    // Every connection held by the hung server is closed, and they never pile up: one case
    // holds at most three (three uploads at once); the fixture may notice a case's closed
    // connections a moment after the next case opened its own, hence the margin. Connections
    // kept open across cases would count up to 30 and more.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let counts: Vec<u32> = text
            .lines()
            .filter_map(|l| l.strip_prefix("held ")?.parse().ok())
            .collect();
        assert!(counts.len() >= 2 * 10, "{text}");
        assert!(counts.iter().all(|n| *n <= 6), "{text}");
        if counts.last() == Some(&0) {
            break;
        }
        assert!(Instant::now() < deadline, "connections left open: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills a fixture process when the test ends, however it ends.
struct Running<'a>(&'a mut Child);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(port: u16, child: &mut Child) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "fixture exited"
        );
        assert!(Instant::now() < deadline, "fixture did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn check_client(case_timeout: &str, client: &[&str]) -> Checked {
    run_checker(&["--check-client", "--case-timeout", case_timeout], client)
}

/// The classroom client fixture with `fault`, named by a path relative to the crate, where
/// the checker runs (it makes the path absolute: the client runs in a peer directory of its
/// own).
pub fn classroom_client(fault: &str) -> Checked {
    check_client(
        "4",
        &["python3", "tests/fixtures/classroom_client.py", fault],
    )
}

#[test]
fn check_client_passes_every_case_against_p2p_tui() {
    // A case's deadline only bounds a hang here: every case should pass well inside it, so it
    // is generous (a full suite on two busy cores once took one case past 4 s).
    let run = check_client(
        "10",
        &[
            bin(),
            "--peer",
            "p1",
            "--line",
            "--settings",
            "peer_settings.txt",
            "--dir",
            ".",
            "--stall-timeout",
            "1",
        ],
    );
    run.exactly(&[]);
    assert!(run.cases().len() >= 15);
    assert!(run.junit.contains("failures=\"0\""));
    for id in [
        "upload-left",
        "upload-silent",
        "download-left",
        "download-silent",
        "download-killed",
    ] {
        assert!(run.cases().iter().any(|c| c["id"] == id), "{id} missing");
    }
}

#[test]
fn a_classroom_client_passes_every_case() {
    classroom_client("none").exactly(&[]);
}

#[test]
fn a_client_without_round_robin_fails_the_download_case_only() {
    classroom_client("no-round-robin").exactly(&[(
        "download",
        "fail",
        "round robin: p2 (serving peer 0 of 3) was asked for chunks [0, 1, 2",
    )]);
}

#[test]
fn a_client_with_a_wrong_line_fails_every_case_that_needs_the_line() {
    classroom_client("wrong-lines").exactly(&[
        ("download", "fail", "download success\\\""),
        ("download-offline", "fail", "download success\\\""),
        ("download-left", "fail", "download success\\\""),
        ("download-silent", "fail", "download success\\\""),
    ]);
}

#[test]
fn a_client_that_writes_chunks_into_served_files_fails_the_killed_case_only() {
    classroom_client("write-through").exactly(&[(
        "download-killed",
        "fail",
        "left served_files/f3.txt",
    )]);
}

/// A client that prints nothing, ignores SIGTERM and the end of its input, and starts a helper
/// (tests/fixtures/check_hang_client.py): every case fails within its deadline, and neither the
/// client nor its helper is left running.
#[test]
fn a_client_that_hangs_fails_every_case_and_nothing_is_left_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check_hang_client.py");
    let started = Instant::now();
    let run = check_client(
        "0.5",
        &["python3", script.to_str().unwrap(), pids.to_str().unwrap()],
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, Some(1));
    for case in run.cases() {
        assert_eq!(case["verdict"], "fail", "{}", run.stdout);
        let budget = if case["id"].as_str().unwrap().ends_with("-silent") {
            2.0
        } else {
            1.0
        };
        assert!(
            case["seconds"].as_f64().unwrap() < 0.5 * budget + 0.5,
            "{}",
            run.stdout
        );
    }
    let pids: Vec<i32> = std::fs::read_to_string(&pids)
        .expect("the hanging client wrote its pids")
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    assert!(pids.len() >= 2 * run.cases().len() - 2, "{pids:?}");
    let deadline = Instant::now() + TIMEOUT;
    for pid in pids {
        while running(pid) {
            assert!(Instant::now() < deadline, "process {pid} is still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether `pid` is a live process (a zombie waiting to be reaped is not).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Nothing at the address (port 0 is never listened on): one clear sentence and status 1,
/// for the seed-001 server checker and the tracker checker alike.
#[test]
fn a_checker_with_nothing_at_its_address_says_so_in_one_line() {
    for mode in ["--check-server", "--check-tracker"] {
        let output = Command::new(bin())
            .args([mode, "127.0.0.1:0", "--case-timeout", "2"])
            .output()
            .expect("run the checker");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{mode}: {stderr}");
        assert!(
            stderr.contains("cannot connect to 127.0.0.1:0") && stderr.lines().count() == 1,
            "{mode}: {stderr}"
        );
    }
}
