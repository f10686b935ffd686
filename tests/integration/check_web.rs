//! `--check-web` (seed 000 Part I / seed 004 server) and `--check-get` (seed 004 client)
//! against p2p-tui's own `--web` and `--get` (every case passes), and against classroom
//! fixtures with one planted fault each (tests/fixtures/classroom_web_server.py and
//! classroom_web_client.py): the fault's case, and only it, does not pass.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::check::{Checked, run_checker};
use crate::util::{TIMEOUT, bin, free_port, wait_until};
use crate::web::Web;

/// The cases a fault fails: (id, verdict, a phrase of its detail).
type Expected = &'static [(&'static str, &'static str, &'static str)];

/// Runs a checker with `args` (a `--` in them starts the command it checks).
fn checker(args: &[&str]) -> Checked {
    match args.iter().position(|a| *a == "--") {
        Some(at) => run_checker(&args[..at], &args[at + 1..]),
        None => run_checker(args, &[]),
    }
}

/// tests/fixtures/classroom_web_server.py with `fault`, serving a temporary root.
struct ClassroomWeb {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

impl ClassroomWeb {
    fn start(fault: &str) -> ClassroomWeb {
        let root = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classroom_web_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(root.path())
            .arg(fault)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        // It says when it listens (a probe connection would kill the dies-on-empty fault).
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("read");
        assert_eq!(line, "listening\n", "the fixture web server did not start");
        ClassroomWeb { child, port, root }
    }

    fn check(&self, case_timeout: &str) -> Checked {
        let addr = format!("127.0.0.1:{}", self.port);
        let root = self.root.path().to_string_lossy().into_owned();
        checker(&[
            "--check-web",
            &addr,
            "--web-root",
            &root,
            "--case-timeout",
            case_timeout,
        ])
    }
}

impl Drop for ClassroomWeb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn check_web_passes_every_case_against_p2p_tui_web_and_leaves_the_root_as_it_was() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("index.html"), "<h1>mine</h1>").unwrap();
    let web = Web::start(root.path(), &[]);
    let page = root.path().join("check.html");
    let addr = format!("127.0.0.1:{}", web.port);
    let root_arg = root.path().to_string_lossy().into_owned();
    let page_arg = page.to_string_lossy().into_owned();
    let run = checker(&[
        "--check-web",
        &addr,
        "--web-root",
        &root_arg,
        "--case-timeout",
        "10",
        "--report",
        "html",
        &page_arg,
    ]);
    assert_eq!(run.not_passed(), vec![], "{}", run.stdout);
    assert_eq!(run.code, Some(0));
    assert_eq!(run.cases().len(), 12, "{}", run.stdout);
    assert!(
        run.junit.contains("classname=\"seed-000.I.vi\""),
        "{}",
        run.junit
    );
    for case in run.cases() {
        assert!(
            case["seed"].as_str().unwrap().starts_with("seed 00"),
            "{case}"
        );
    }
    // Its own files are gone; the server's are untouched.
    let mut names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["check.html", "index.html"]);
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("Every case passed.")
    );
}

#[test]
fn the_classroom_web_server_passes_and_each_planted_fault_fails_exactly_its_case() {
    let faults: &[(&str, Expected)] = &[
        ("none", &[]),
        (
            "html-type",
            &[(
                "html",
                "fail",
                "Content-Type: text/plain; the file is text/html",
            )],
        ),
        (
            "txt-type",
            &[(
                "txt",
                "fail",
                "Content-Type: text/html; the file is text/plain",
            )],
        ),
        (
            "jpg-type",
            &[("jpg", "fail", "Content-Type: application/octet-stream")],
        ),
        (
            "png-type",
            &[(
                "png",
                "fail",
                "Content-Type: image/jpeg; the file is image/png",
            )],
        ),
        (
            "mp3-type",
            &[("mp3", "deviation", "the file is audio/mpeg")],
        ),
        ("mp4-type", &[("mp4", "deviation", "the file is video/mp4")]),
        (
            "no-404",
            &[(
                "missing",
                "fail",
                "answered \\\"HTTP/1.1 200 OK\\\", not 404",
            )],
        ),
        (
            "needs-host",
            &[(
                "no-host",
                "fail",
                "closed the connection without a response",
            )],
        ),
        (
            "http11-only",
            &[("http10", "fail", "505 HTTP Version Not Supported")],
        ),
        (
            "one-read",
            &[(
                "large",
                "fail",
                "Content-Length: 1048576; the file has 5242887 bytes",
            )],
        ),
        ("one-recv", &[("slow", "fail", "400 Bad Request")]),
        (
            "escape",
            &[("escape", "fail", "3 of 3 requests got the bytes of")],
        ),
    ];
    std::thread::scope(|scope| {
        for (fault, expected) in faults {
            scope.spawn(move || {
                let server = ClassroomWeb::start(fault);
                let run = server.check("10");
                eprintln!("--check-web against the fixture with fault {fault}");
                run.exactly(expected);
                // Whatever the fault, the checker's files are removed.
                assert_eq!(
                    std::fs::read_dir(server.root.path()).unwrap().count(),
                    0,
                    "{fault}"
                );
            });
        }
    });
}

/// The checker's probe for a server that is not running is a whole request: a classroom server
/// that dies on a connection closed without one (as one course implementation does) is judged
/// on its cases, not killed by the probe.
#[test]
fn the_checker_does_not_kill_a_server_that_dies_on_an_empty_connection() {
    let server = ClassroomWeb::start("dies-on-empty");
    let run = server.check("10");
    run.exactly(&[]);
}

#[test]
fn a_web_server_that_never_answers_fails_every_case_at_its_deadline() {
    let server = ClassroomWeb::start("silent");
    let started = Instant::now();
    let run = server.check("1");
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(run.json["failed"], 12, "{}", run.stdout);
    let groups = run.json["by_cause"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{}", run.stdout);
    assert!(
        groups[0]["cause"]
            .as_str()
            .unwrap()
            .starts_with("stops answering"),
        "{}",
        run.stdout
    );
}

fn fixture_client(fault: &str) -> Vec<String> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classroom_web_client.py");
    vec![
        "python3".into(),
        script.to_string_lossy().into_owned(),
        fault.into(),
    ]
}

fn check_get(client: &[String], case_timeout: &str) -> Checked {
    let mut args = vec!["--check-get", "--case-timeout", case_timeout, "--"];
    args.extend(client.iter().map(String::as_str));
    checker(&args)
}

#[test]
fn check_get_passes_every_case_against_p2p_tui_get() {
    let run = check_get(&[bin().to_string(), "--get".into()], "10");
    assert_eq!(run.not_passed(), vec![], "{}", run.stdout);
    assert_eq!(run.code, Some(0));
    assert_eq!(run.cases().len(), 6, "{}", run.stdout);
    assert!(
        run.junit.contains("classname=\"seed-004.3.1\""),
        "{}",
        run.junit
    );
}

#[test]
fn the_classroom_web_client_passes_and_each_planted_fault_fails_exactly_its_case() {
    let faults: &[(&str, Expected)] = &[
        ("none", &[]),
        (
            "wrong-lines",
            &[(
                "lines",
                "fail",
                "the seed's line \\\"Connection: OK\\\" is missing",
            )],
        ),
        (
            "first-line",
            &[("text", "fail", "the file's 3 lines are not shown")],
        ),
        (
            "text-mode",
            &[(
                "binary",
                "fail",
                "no file in the client's directory holds the image's 200000 bytes",
            )],
        ),
        (
            "no-404-line",
            &[(
                "not-found",
                "fail",
                "the seed's line \\\"404 Not Found\\\" is missing",
            )],
        ),
        (
            "ignores-timeout",
            &[("timeout", "fail", "with TIMEOUT 2 the client ended")],
        ),
        (
            "no-default-timeout",
            &[("timeout-default", "fail", "the client did not end")],
        ),
    ];
    std::thread::scope(|scope| {
        for (fault, expected) in faults {
            scope.spawn(move || {
                let run = check_get(&fixture_client(fault), "10");
                eprintln!("--check-get against the fixture with fault {fault}");
                run.exactly(expected);
            });
        }
    });
}

/// A client that dies after sending its request: every case it dies in fails with one cause,
/// and each shows the traceback.
#[test]
fn a_crashing_web_client_shows_its_traceback_under_one_cause() {
    let run = check_get(&fixture_client("crash"), "10");
    assert_eq!(run.json["failed"], 6, "{}", run.stdout);
    let groups = run.json["by_cause"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{}", run.stdout);
    assert!(
        groups[0]["cause"]
            .as_str()
            .unwrap()
            .starts_with("exits with an error"),
        "{}",
        run.stdout
    );
    for case in run.cases() {
        let stderr = case["stderr"].to_string();
        assert!(
            stderr.contains("Traceback (most recent call last):"),
            "{}: {stderr}",
            case["id"]
        );
    }
    assert!(
        run.stdout
            .contains("client stderr | Traceback (most recent call last):"),
        "{}",
        run.stdout
    );
}

/// A client started through a shell that starts a helper and never ends: each case fails at
/// its deadline and nothing of it is left running.
#[test]
fn a_web_client_that_never_ends_is_killed_with_its_helpers() {
    let marker = format!("sleep 1{}", std::process::id());
    let script = format!("{marker} & {marker}");
    let started = Instant::now();
    let run = check_get(&["sh".into(), "-c".into(), script, "sh".into()], "1");
    assert!(started.elapsed() < TIMEOUT * 2, "{:?}", started.elapsed());
    assert_eq!(run.json["failed"], 6, "{}", run.stdout);
    wait_until("the client and its helper gone", || {
        let left = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .expect("pgrep");
        left.stdout.is_empty()
    });
}
