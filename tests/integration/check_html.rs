//! The HTML report opens in a browser: a headless Chromium loads the file (no network, no
//! script) and its DOM carries the summary by cause and every case with its seed sentence.
//!
//! Needs `chromium` (Debian: `apt-get install -y chromium`). Under CI (CI=true) a missing
//! Chromium fails the test; elsewhere the test says it was skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{TIMEOUT, bin};

/// The first Chromium on the search path.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium's DOM of `page` after loading it, within a deadline.
fn dump_dom(chromium: &Path, page: &Path, scratch: &Path) -> String {
    let dom = scratch.join("dom.html");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&dom).expect("dom file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not load {} within 90 s", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&dom).expect("read the DOM")
}

#[test]
fn the_html_report_opens_in_a_headless_browser() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed, and CI must run this test: apt-get install -y chromium"
        );
        eprintln!(
            "SKIPPED the_html_report_opens_in_a_headless_browser: no chromium on PATH (apt-get install -y chromium; under CI=true this fails)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("report.html");
    // A client that crashes on its first reply: thirteen cases, one cause.
    let started = Instant::now();
    let output = Command::new(bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--check-client", "--case-timeout", "4", "--report", "html"])
        .arg(&page)
        .args([
            "--",
            "python3",
            "tests/fixtures/classroom_client.py",
            "crash",
        ])
        .output()
        .expect("run --check-client");
    assert!(started.elapsed() < TIMEOUT * 2);
    assert_eq!(output.status.code(), Some(1));
    let dom = dump_dom(&chromium, &page, dir.path());
    for needle in [
        "Not passed, by first cause",
        "the client exits in the middle of a command",
        "13 cases",
        "15 cases: 2 passed, 13 failed, 0 deviations",
        // The seed's words of the download case, and the traceback.
        "chunk i is downloaded from peer r = i % n",
        "Traceback (most recent call last):",
    ] {
        assert!(dom.contains(needle), "{needle:?} is not in the DOM:\n{dom}");
    }
    let summary = dom.find("Not passed, by first cause").unwrap();
    assert!(summary < dom.find("id=\"case-filelist\"").expect("the filelist case"));
    assert!(!dom.contains("<script"));
}

/// The same page for `--check-get` (seed 004): its cause, its seed words, the client's traceback.
#[test]
fn the_check_get_html_report_opens_in_a_headless_browser() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed, and CI must run this test: apt-get install -y chromium"
        );
        eprintln!(
            "SKIPPED the_check_get_html_report_opens_in_a_headless_browser: no chromium on PATH"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("get.html");
    let output = Command::new(bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--check-get", "--case-timeout", "10", "--report", "html"])
        .arg(&page)
        .args([
            "--",
            "python3",
            "tests/fixtures/classroom_web_client.py",
            "crash",
        ])
        .output()
        .expect("run --check-get");
    assert_eq!(output.status.code(), Some(1));
    let dom = dump_dom(&chromium, &page, dir.path());
    for needle in [
        "p2p-tui --check-get",
        "exits with an error before doing what the case asks",
        "6 cases: 0 passed, 6 failed, 0 deviations",
        "Include a time-out for the client set at 5 seconds.",
        "Traceback (most recent call last):",
    ] {
        assert!(dom.contains(needle), "{needle:?} is not in the DOM:\n{dom}");
    }
    assert!(!dom.contains("<script"));
}
