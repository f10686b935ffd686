//! Clear words (issue 14): a command that cannot go anywhere, and a start that cannot happen,
//! each say why in a sentence of their own.

use std::process::Command;

use crate::util::{Net, bin};

fn start_error(net: &Net, args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .current_dir(net.root.path())
        .output()
        .expect("run");
    assert!(!out.status.success(), "{args:?} started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn commands_to_this_peer_or_an_unknown_one_say_so() {
    let net = Net::new(&["p1", "p2"]);
    net.put("p1", "f2.txt", b"mine\n");
    let settings = net.settings().display().to_string();
    let mut console = net.console("p1", &[]);

    console.send("#DOWNLOAD river.txt p9");
    console.expect_line(&format!(
        "Unknown peer p9: the peers in {settings} are p1 p2."
    ));
    console.expect_line("No peer to download file river.txt from.");
    console.expect_line("File river.txt download failed");

    console.send("#DOWNLOAD river.txt p1");
    console.expect_line(&format!(
        "p1 is this peer; commands go to the other peers in {settings}."
    ));
    console.expect_count("No peer to download file river.txt from.", 2);

    console.send("#FILELIST p1");
    console.expect_line("No peer to ask for its file list.");

    console.send("#UPLOAD f2.txt p1");
    console.expect_line("No peer to upload file f2.txt to, so nothing was sent.");

    let (status, lines) = console.finish();
    assert!(status.success());
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("p1 is this peer"))
            .count(),
        3,
        "{lines:#?}"
    );
    // No tracker was asked, and an upload that goes nowhere does not start.
    assert!(
        !lines.iter().any(|l| l.contains("asked the tracker")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l == "Uploading file f2.txt"),
        "{lines:#?}"
    );
}

#[test]
fn a_missing_settings_file_is_said_once_with_where_and_how() {
    let net = Net::new(&["p1"]);
    let err = start_error(&net, &["--peer", "p1", "--settings", "nope.txt"]);
    let root = net.root.path().canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "cannot read the peer settings file nope.txt (in {}): there is no such file.",
            root.display()
        )),
        "{err}"
    );
    assert!(err.contains("--settings FILE"), "{err}");
    assert_eq!(err.matches("no such file").count(), 1, "{err}");
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn a_file_where_a_directory_belongs_is_named() {
    let net = Net::new(&["p1"]);
    std::fs::write(net.root.path().join("somefile"), b"x").unwrap();
    let err = start_error(&net, &["--peer", "p1", "--headless", "--dir", "somefile"]);
    assert!(
        err.contains("somefile is a file, not a peer directory"),
        "{err}"
    );
    std::fs::create_dir(net.root.path().join("p9")).unwrap();
    std::fs::write(net.root.path().join("p9/served_files"), b"x").unwrap();
    let err = start_error(&net, &["--peer", "p1", "--headless", "--dir", "p9"]);
    assert!(
        err.contains(
            "p9/served_files is a file; the peer serves the files inside a served_files directory"
        ),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn two_peers_on_one_address_are_refused() {
    let net = Net::new(&["p1", "p2"]);
    let port = net.port("p1");
    std::fs::write(
        net.settings(),
        format!("p1 localhost {port}\np2 127.0.0.1 {port}\n"),
    )
    .unwrap();
    let err = start_error(&net, &["--peer", "p1", "--headless"]);
    assert!(
        err.contains(&format!(
            "peer_settings.txt:2: peer p2 has the same address as peer p1 (localhost {port})"
        )),
        "{err}"
    );
}

#[test]
fn help_is_grouped_by_mode_and_every_flag_is_in_the_readme_table() {
    let out = Command::new(bin()).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    let mut at = 0;
    for heading in [
        "Peer:",
        "Tracker and web server:",
        "Web client (--get):",
        "Synchronizer:",
        "Demo:",
        "Checking an implementation:",
    ] {
        let found = help[at..]
            .find(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("--help lacks the heading {heading}:\n{help}"));
        at += found + 1;
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let table: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `--")).collect();
    let flags: Vec<&str> = help
        .lines()
        // Flag lines are indented less than their descriptions (which may start with "--get:").
        .filter(|l| l.len() - l.trim_start().len() < 8)
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split([' ', '<', '[']).next())
        .filter(|f| !["help", "version"].contains(f))
        .collect();
    assert!(flags.len() > 20, "{flags:?}");
    for flag in flags {
        assert!(
            table
                .iter()
                .any(|row| row.contains(&format!("`--{flag} "))
                    || row.contains(&format!("`--{flag}`"))),
            "--{flag} is missing from the README's flags table"
        );
    }
}

#[test]
fn a_file_the_protocol_cannot_name_is_said_once_not_hidden_silently() {
    let net = Net::new(&["p1", "p2"]);
    net.put("p2", "ok.txt", b"fine\n");
    net.put("p2", "my file.txt", b"a space\n");
    let mut server = net
        .peer_command("p2", "--headless", &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn p2");
    let stderr = crate::util::collect(server.stderr.take().expect("stderr"));
    let warning = format!(
        "\"{}/my file.txt\" is not served: its file name contains whitespace",
        net.dir("p2").join("served_files").display()
    );
    // Said at start, before anyone asks.
    crate::util::wait_until("the warning", || stderr.lock().unwrap().contains(&warning));
    let mut console = net.console("p1", &[]);
    console.send("#FILELIST p2");
    console.expect_line("Server (p2): 200 Files served: ok.txt");
    console.send("#FILELIST p2");
    console.expect_count("Server (p2): 200 Files served: ok.txt", 2);
    let _ = server.kill();
    let _ = server.wait();
    let said = stderr.lock().unwrap().clone();
    assert_eq!(said.matches(&warning).count(), 1, "{said}");
    assert!(said.contains("rename it to share it"), "{said}");
}
