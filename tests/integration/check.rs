//! `--check-server` against p2p-tui itself (every case passes) and against the classroom
//! fixture server with one planted fault each (that fault, and nothing else, is reported).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Net, TIMEOUT, bin, free_port};

/// The classroom fixture server (tests/fixtures/classroom_server.py) with one `fault`.
struct Classroom {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Classroom {
    fn start(fault: &str) -> Classroom {
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

struct Checked {
    code: Option<i32>,
    json: Value,
    junit: String,
    stdout: String,
}

impl Checked {
    fn cases(&self) -> &Vec<Value> {
        self.json["cases"].as_array().expect("cases")
    }

    /// (id, verdict) of every case that did not pass.
    fn not_passed(&self) -> Vec<(String, String)> {
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

    /// Every case that did not pass is a `verdict` whose detail mentions `needle`; `ids` are
    /// among them.
    fn only(&self, verdict: &str, needle: &str, ids: &[&str]) {
        let bad = self.not_passed();
        for id in ids {
            assert!(
                bad.iter().any(|(i, v)| i == id && v == verdict),
                "{id} should be a {verdict}:\n{}",
                self.stdout
            );
        }
        for case in self.cases().iter().filter(|c| c["verdict"] != "pass") {
            assert_eq!(case["verdict"], verdict, "{}", self.stdout);
            let detail = case["detail"].to_string();
            assert!(detail.contains(needle), "{detail}\n{}", self.stdout);
            assert!(!case["evidence"].as_array().unwrap().is_empty());
        }
        assert_eq!(self.code, Some(1), "{}", self.stdout);
    }
}

fn check_server(port: u16, case_timeout: &str) -> Checked {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (json, junit) = (out_dir.path().join("r.json"), out_dir.path().join("r.xml"));
    let output = Command::new(bin())
        .arg("--check-server")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--case-timeout", case_timeout, "--report", "json"])
        .arg(&json)
        .arg("--report")
        .arg("junit")
        .arg(&junit)
        .output()
        .expect("run --check-server");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text =
        std::fs::read_to_string(&json).unwrap_or_else(|_| panic!("no JSON report: {stdout}"));
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
    let server = Classroom::start("none");
    let run = check_server(server.port, "5");
    assert_eq!(run.not_passed(), vec![], "{}", run.stdout);
    assert_eq!(run.code, Some(0));
}

#[test]
fn a_330_without_the_word_file_is_a_deviation() {
    let server = Classroom::start("no-file-word");
    let run = check_server(server.port, "5");
    run.only(
        "deviation",
        "the word \\\"file\\\" is missing",
        &["download", "download-many"],
    );
    assert!(run.junit.contains("type=\"deviation\""));
}

#[test]
fn a_private_upload_end_marker_is_a_deviation() {
    let server = Classroom::start("sentinel");
    let run = check_server(server.port, "2");
    run.only(
        "deviation",
        "an end marker the seed does not have",
        &["upload", "empty-file"],
    );
}

#[test]
fn a_server_that_decodes_chunks_as_utf8_fails_the_binary_case_only() {
    let server = Classroom::start("utf8");
    let run = check_server(server.port, "5");
    run.only("fail", "closed the connection", &["binary-bytes"]);
    assert_eq!(run.not_passed().len(), 1);
}

#[test]
fn a_partial_file_left_visible_fails_the_abandoned_upload_case_only() {
    let server = Classroom::start("partial-visible");
    let run = check_server(server.port, "5");
    run.only("fail", "after its uploader left", &["upload-left"]);
    assert_eq!(run.not_passed().len(), 1);
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
    assert!(run.stdout.contains("the server stopped answering"));
}

fn check_client(client: &[&str]) -> Checked {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let json = out_dir.path().join("r.json");
    let output = Command::new(bin())
        .args(["--check-client", "--case-timeout", "4", "--report", "json"])
        .arg(&json)
        .arg("--")
        .args(client)
        .output()
        .expect("run --check-client");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text =
        std::fs::read_to_string(&json).unwrap_or_else(|_| panic!("no JSON report: {stdout}"));
    Checked {
        code: output.status.code(),
        json: serde_json::from_str(&text).expect("JSON report"),
        junit: String::new(),
        stdout,
    }
}

fn classroom_client(fault: &str) -> Checked {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classroom_client.py");
    check_client(&["python3", script.to_str().unwrap(), fault])
}

#[test]
fn check_client_passes_every_case_against_p2p_tui() {
    let run = check_client(&[
        bin(),
        "--peer",
        "p1",
        "--line",
        "--settings",
        "peer_settings.txt",
        "--dir",
        ".",
    ]);
    assert_eq!(run.not_passed(), vec![], "{}", run.stdout);
    assert_eq!(run.code, Some(0));
}

#[test]
fn a_classroom_client_passes_and_each_fault_fails_where_it_shows() {
    let run = classroom_client("none");
    assert_eq!(run.not_passed(), vec![], "{}", run.stdout);
    let run = classroom_client("no-round-robin");
    run.only(
        "fail",
        "Client (p3): #DOWNLOAD f1.txt chunk 1",
        &["download"],
    );
    assert_eq!(run.not_passed().len(), 1);
    let run = classroom_client("wrong-lines");
    run.only(
        "fail",
        "download success\\\"",
        &["download", "download-left"],
    );
    assert_eq!(run.not_passed().len(), 2);
}
