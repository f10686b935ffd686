//! Startup errors are one clear sentence and a non-zero exit: 1 for a run that cannot start, 2
//! for a command line that cannot run (as `--help` documents).

use std::process::Command;

use crate::util::{Net, bin};

fn run(net: &Net, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin())
        .args(args)
        .current_dir(net.root.path())
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_peer_lists_the_known_ones() {
    let net = Net::new(&["p1", "p2"]);
    let (ok, err) = run(&net, &["--peer", "p9", "--headless"]);
    assert!(!ok);
    assert!(
        err.contains("unknown peer p9") && err.contains("known peers: p1 p2"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn malformed_settings_name_the_file_and_line() {
    let net = Net::new(&["p1"]);
    std::fs::write(net.settings(), "p1 localhost 1\n\nbroken line\n").unwrap();
    let (ok, err) = run(&net, &["--peer", "p1", "--headless"]);
    assert!(!ok);
    assert!(
        err.contains("peer_settings.txt:3: 2 fields instead of 3"),
        "{err}"
    );
}

#[test]
fn port_in_use_and_missing_directory_are_clear_errors() {
    let net = Net::new(&["p1"]);
    let _holder = std::net::TcpListener::bind(("127.0.0.1", net.port("p1"))).expect("hold port");
    let (ok, err) = run(&net, &["--peer", "p1", "--headless"]);
    assert!(!ok);
    assert!(
        err.contains("peer p1 cannot listen on 127.0.0.1:") && err.contains("in use"),
        "{err}"
    );
    let (ok, err) = run(
        &net,
        &["--peer", "p1", "--headless", "--dir", "no/such/dir"],
    );
    assert!(!ok);
    assert!(
        err.contains("peer directory no/such/dir does not exist"),
        "{err}"
    );
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(bin()).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--peer",
        "--headless",
        "--line",
        "--settings",
        "--dir",
        "--chunk-delay",
        "--idle-timeout",
        "--max-connections",
        "--max-message",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn a_flag_that_does_not_apply_to_the_mode_is_an_error_not_ignored() {
    let out = std::process::Command::new(crate::util::bin())
        .args(["--tracker", "127.0.0.1:1", "--chunk-delay", "5"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("--chunk-delay does not apply to --tracker/--web"),
        "{said}"
    );
}

/// A newcomer's bad inputs: each is one line on stderr naming what is wrong, and the exit status
/// `--help` documents (2: the command line cannot run; 1: the run cannot start).
#[test]
fn each_bad_input_is_one_line_naming_it_and_a_documented_status() {
    let root = tempfile::tempdir().expect("tempdir");
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let port = held.local_addr().expect("addr").port().to_string();
    std::fs::write(
        root.path().join("peer_settings.txt"),
        format!("p1 127.0.0.1 {port}\n"),
    )
    .expect("settings");
    std::fs::create_dir_all(root.path().join("p1/served_files")).expect("peer dir");
    let help = Command::new(bin()).arg("--help").output().expect("--help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let cases: &[(&str, &[&str], i32, &[&str])] = &[
        (
            "an unknown flag",
            &["--bogus"],
            2,
            &["unknown flag --bogus"],
        ),
        (
            "a near miss",
            &["--peers", "p1"],
            2,
            &["unknown flag --peers", "did you mean --peer?"],
        ),
        ("a missing value", &["--peer"], 2, &["--peer needs a value"]),
        (
            "a flag of another mode",
            &["--tracker", "--window", "4"],
            2,
            &["--window does not apply to --tracker"],
        ),
        (
            "a port in use",
            &["--peer", "p1", "--headless"],
            1,
            &["cannot listen on 127.0.0.1:", &port, "in use"],
        ),
        (
            "an unknown peer ID",
            &["--peer", "p9", "--headless"],
            1,
            &["unknown peer p9", "known peers: p1"],
        ),
        (
            "a missing settings file",
            &["--peer", "p1", "--headless", "--settings", "nope.txt"],
            1,
            &["nope.txt"],
        ),
    ];
    for (what, args, status, names) in cases {
        let out = Command::new(bin())
            .args(*args)
            .current_dir(root.path())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{what}: not one line:\n{err}");
        for name in *names {
            assert!(err.contains(name), "{what}: {name:?} not named: {err}");
        }
        assert!(!err.contains("-- --"), "{what}: clap's tip: {err}");
        assert_eq!(out.status.code(), Some(*status), "{what}: {err}");
        assert!(
            help.contains(&format!("\n  {status}     ")),
            "{what}: status {status} is not in --help's exit statuses"
        );
    }
    drop(held);
}

/// No mode at all: the short help on stderr (nothing on stdout), and a usage error.
#[test]
fn no_arguments_is_a_usage_error_with_the_help() {
    let out = Command::new(bin()).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "the help goes to stderr");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Usage: p2p-tui"), "{err}");
    assert!(
        err.trim_end().ends_with(
            "p2p-tui: no mode given (e.g. --demo, --peer ID, --tracker, --web); see p2p-tui --help"
        ),
        "{err}"
    );
}
