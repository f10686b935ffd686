//! `--get` (SPEC §5, seed 004): the exact lines it prints, against our `--web` and against
//! sockets that refuse or never answer.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

use crate::util::{bin, free_port, sha256};
use crate::web::{Site, Web};

fn get(cwd: &std::path::Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--get")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run --get")
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_text_file_is_printed_between_the_seed_lines() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let cwd = tempfile::tempdir().unwrap();
    let port = web.port.to_string();
    let out = get(cwd.path(), &["127.0.0.1", &port, "hello.txt"]);
    assert_eq!(
        lines(&out.stdout),
        [
            "Connection: OK",
            "Request message sent.",
            "Server HTTP Response: HTTP/1.1 200 OK",
            "Content-Type: text/plain",
            "Success!!!",
            "Socket closed.",
        ]
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    // The URL form and HTML behave alike.
    let out = get(cwd.path(), &[&format!("http://127.0.0.1:{port}/")]);
    let printed = lines(&out.stdout);
    assert_eq!(printed[3], "Content-Type: text/html");
    assert!(printed[4].starts_with("<!DOCTYPE html>"));
    assert_eq!(printed.last().map(String::as_str), Some("Socket closed."));
    // Nothing was saved for text.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

#[test]
fn an_image_is_saved_next_to_the_user_and_never_over_a_file() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let cwd = tempfile::tempdir().unwrap();
    let port = web.port.to_string();
    let out = get(cwd.path(), &["127.0.0.1", &port, "p.png"]);
    assert_eq!(
        lines(&out.stdout),
        [
            "Connection: OK",
            "Request message sent.",
            "Server HTTP Response: HTTP/1.1 200 OK",
            "Content-Type: image/png",
            "Content saved to ./p.png (3000 bytes).",
            "Socket closed.",
        ]
    );
    assert_eq!(out.status.code(), Some(0));
    let original = std::fs::read(site.root().join("p.png")).unwrap();
    assert_eq!(
        sha256(&std::fs::read(cwd.path().join("p.png")).unwrap()),
        sha256(&original)
    );
    // A second fetch keeps the first file and says where the new one went.
    std::fs::write(cwd.path().join("p.png"), b"mine").unwrap();
    let out = get(cwd.path(), &["127.0.0.1", &port, "p.png"]);
    assert_eq!(
        lines(&out.stdout)[4],
        "Content saved to ./p.png.1 (3000 bytes)."
    );
    assert_eq!(std::fs::read(cwd.path().join("p.png")).unwrap(), b"mine");
    // No temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["p.png", "p.png.1"]);
}

#[test]
fn a_missing_file_prints_404() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let cwd = tempfile::tempdir().unwrap();
    let out = get(
        cwd.path(),
        &["127.0.0.1", &web.port.to_string(), "nope.txt"],
    );
    assert_eq!(
        lines(&out.stdout),
        [
            "Connection: OK",
            "Request message sent.",
            "Server HTTP Response: HTTP/1.1 404 Not Found",
            "404 Not Found",
            "Socket closed.",
        ]
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_silent_server_times_out_in_one_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts (the kernel's backlog does) and never answers.
    let cwd = tempfile::tempdir().unwrap();
    let out = get(
        cwd.path(),
        &["127.0.0.1", &port.to_string(), "x", "--timeout", "1"],
    );
    assert_eq!(
        lines(&out.stdout),
        ["Connection: OK", "Request message sent."]
    );
    assert_eq!(
        lines(&out.stderr),
        [format!("Timed out after 1 s waiting for 127.0.0.1:{port}")]
    );
    assert_eq!(out.status.code(), Some(2));
    drop(listener);
}

#[test]
fn a_refused_connection_is_one_line() {
    let port = free_port();
    let cwd = tempfile::tempdir().unwrap();
    let out = get(cwd.path(), &["127.0.0.1", &port.to_string(), "x"]);
    assert!(out.stdout.is_empty());
    assert_eq!(
        lines(&out.stderr),
        [format!(
            "Connection failed: 127.0.0.1:{port} refused the connection"
        )]
    );
    assert_eq!(out.status.code(), Some(2));
    let bad = get(cwd.path(), &["127.0.0.1", "http", "x"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid port"));
}

#[test]
fn ctrl_c_mid_download_leaves_nothing_behind() {
    // A server that sends the head and a few bytes of a large PNG, then stalls.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n\x89PNG",
        );
        // Hold the connection open until the client goes.
        let _ = stream.read(&mut request);
    });
    let cwd = tempfile::tempdir().unwrap();
    let child = Command::new(bin())
        .args([
            "--get",
            "127.0.0.1",
            &port.to_string(),
            "big.png",
            "--timeout",
            "30",
        ])
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::util::wait_until("the temporary file", || {
        std::fs::read_dir(cwd.path()).unwrap().count() == 1
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(lines(&out.stderr), ["Interrupted; nothing saved."]);
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

#[test]
fn a_saved_file_gets_the_usual_permissions_under_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let cwd = tempfile::tempdir().unwrap();
    for (umask, mode) in [("022", 0o644), ("002", 0o664)] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" --get 127.0.0.1 {} p.png",
                web.port
            ))
            .arg(bin())
            .current_dir(cwd.path())
            .stdin(Stdio::null())
            .output()
            .expect("run --get under sh");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let saved = lines(&out.stdout)[4].clone();
        let name = saved
            .strip_prefix("Content saved to ./")
            .and_then(|s| s.split_once(' '))
            .map(|(name, _)| name.to_string())
            .expect("a Content saved line");
        let meta = std::fs::metadata(cwd.path().join(&name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "umask {umask}");
    }
}
