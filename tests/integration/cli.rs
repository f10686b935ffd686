//! Startup errors are one clear sentence and a non-zero exit.

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
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("--chunk-delay does not apply to --tracker/--web"),
        "{said}"
    );
}
