//! A peer directory the peer cannot use is said at start, before anything listens: one line
//! naming the path and what failed, exit status 1, and no "serving" line (issue 27, point 4).
//!
//! The tests run as root, which ignores permission bits: each failure here is one that holds
//! for root too (a file where a directory belongs, a read-only mount, another file system), and
//! the permission case runs the peer as an unprivileged user (`nobody`) when started as root.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Mount, Net, TIMEOUT, bin};

/// `nobody`, for the permission case when the tests run as root.
const NOBODY: u32 = 65534;

/// `p2p-tui --peer p1 --headless --dir <dir>` from the test's root directory (the checks'
/// paths come out absolute), logging at info level (so a "serving" line would show); its exit status and stderr once it has ended, as it must by `TIMEOUT`.
/// `None` if it could not be started as `user`.
fn start_peer(net: &Net, dir: &str, user: Option<u32>) -> Option<(ExitStatus, String)> {
    let mut command = Command::new(bin());
    command
        .args(["--peer", "p1", "--headless", "--dir", dir, "--settings"])
        .arg(net.settings())
        .current_dir(net.root.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(id) = user {
        command.uid(id).gid(id);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("skipped: cannot start the peer as user {user:?}: {e}");
            return None;
        }
    };
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the peer started with --dir {dir} and kept running");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .map(|mut e| e.read_to_string(&mut stderr));
    Some((status, stderr))
}

/// The peer ended with status 1 and said exactly `line` on stderr, nothing about serving.
fn fails_at_start(outcome: Option<(ExitStatus, String)>, line: &str) {
    let Some((status, stderr)) = outcome else {
        return;
    };
    assert!(!stderr.contains("serving"), "it listened first:\n{stderr}");
    assert_eq!(stderr, format!("p2p-tui: {line}\n"));
    assert_eq!(status.code(), Some(1), "{stderr}");
}

fn root(net: &Net) -> PathBuf {
    net.root.path().to_path_buf()
}

/// Whether the tests run as root (/proc/self belongs to the process's effective user).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn a_missing_peer_directory_is_named_with_its_path() {
    let net = Net::new(&["p1"]);
    let outcome = start_peer(&net, "nowhere", None);
    fails_at_start(
        outcome,
        &format!(
            "peer directory nowhere does not exist in {} (create it, or name another with \
             --dir DIR)",
            root(&net).display()
        ),
    );
}

#[test]
fn a_partial_file_directory_that_cannot_be_created_is_named() {
    let net = Net::new(&["p1"]);
    let partial = root(&net).join("p1/.p2p-tui-partial");
    std::fs::write(&partial, b"in the way").unwrap();
    let outcome = start_peer(&net, "p1", None);
    fails_at_start(
        outcome,
        &format!(
            "cannot write in peer directory {} (creating the directory): File exists",
            partial.display()
        ),
    );
}

/// Said this way before issue 27 too: kept to one line, before listening.
#[test]
fn a_served_files_that_is_a_regular_file_is_named() {
    let net = Net::new(&["p1"]);
    let served = root(&net).join("p1/served_files");
    std::fs::remove_dir(&served).unwrap();
    std::fs::write(&served, b"not a directory").unwrap();
    let outcome = start_peer(&net, "p1", None);
    fails_at_start(
        outcome,
        "p1/served_files is a file; the peer serves the files inside a served_files directory \
         there (move or rename that file)",
    );
}

#[test]
fn a_read_only_served_files_is_named_before_listening() {
    let net = Net::new(&["p1"]);
    let served = root(&net).join("p1/served_files");
    // Root writes through permission bits: a read-only mount stops it too.
    let (_mount, why) = if is_root() {
        let Some(mount) = Mount::read_only(&served) else {
            return;
        };
        (Some(mount), "Read-only file system")
    } else {
        let read_only = std::fs::Permissions::from_mode(0o555);
        std::fs::set_permissions(&served, read_only).unwrap();
        (None, "Permission denied")
    };
    let outcome = start_peer(&net, "p1", None);
    fails_at_start(
        outcome,
        &format!(
            "cannot write in peer directory {} (linking a probe file into it): {why}",
            served.display()
        ),
    );
}

/// The case: an unprivileged user whose peer directory, or its served_files, is not
/// writable. Run as `nobody` when the tests run as root.
#[test]
fn an_unwritable_peer_directory_is_named_for_an_unprivileged_user() {
    let net = Net::new(&["p1"]);
    let user = is_root().then_some(NOBODY);
    // nobody must reach the settings file and the peer directory.
    std::fs::set_permissions(net.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let p1 = root(&net).join("p1");
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    mode(&p1, 0o555);
    let outcome = start_peer(&net, "p1", user);
    fails_at_start(
        outcome,
        &format!(
            "cannot write in peer directory {} (creating the directory): Permission denied",
            p1.join(".p2p-tui-partial").display()
        ),
    );
    // The peer directory writable (and prepared for that user), served_files not.
    mode(&p1, 0o777);
    std::fs::create_dir(p1.join(".p2p-tui-partial")).unwrap();
    mode(&p1.join(".p2p-tui-partial"), 0o777);
    mode(&p1.join("served_files"), 0o555);
    let outcome = start_peer(&net, "p1", user);
    fails_at_start(
        outcome,
        &format!(
            "cannot write in peer directory {} (linking a probe file into it): Permission denied",
            p1.join("served_files").display()
        ),
    );
}

/// Finished files are linked into served_files: on another file system that fails for every
/// download, so it is said at start.
#[test]
fn a_served_files_on_another_file_system_is_named() {
    let net = Net::new(&["p1"]);
    let Ok(elsewhere) = tempfile::tempdir_in("/dev/shm") else {
        eprintln!("skipped: no /dev/shm");
        return;
    };
    let device = |path: &Path| std::fs::metadata(path).unwrap().dev();
    if device(elsewhere.path()) == device(net.root.path()) {
        eprintln!("skipped: /dev/shm is on the test directory's file system");
        return;
    }
    let served = root(&net).join("p1/served_files");
    std::fs::remove_dir(&served).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), &served).unwrap();
    let outcome = start_peer(&net, "p1", None);
    fails_at_start(
        outcome,
        &format!(
            "cannot write in peer directory {} (linking a probe file into it): it is on another \
             file system than the peer directory, and finished files are linked into it (make it \
             a directory on the same file system)",
            served.display()
        ),
    );
}
