//! `--web` (SPEC §5) as a real process on loopback: raw sockets speaking HTTP/1.1 by hand, and
//! our own hyper-based `--get` as the real client (tests/integration/get.rs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::util::{TIMEOUT, bin, free_port, random_bytes, sha256, wait_until};

pub const SECRET: &[u8] = b"top secret: never served\n";

/// A web root with one file of each kind the server types, plus a secret file *next to* it.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("www");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        let files: &[(&str, Vec<u8>)] = &[
            (
                "index.html",
                b"<!DOCTYPE html><title>home</title><img src=\"p.png\">\n".to_vec(),
            ),
            ("hello.txt", b"Success!!!\n".to_vec()),
            ("docs/index.html", b"<p>docs</p>\n".to_vec()),
            ("p.png", random_bytes(3000, 1)),
            ("s.css", b"body{}".to_vec()),
            ("s.js", b"1;".to_vec()),
            ("d.json", b"{}".to_vec()),
            ("a.jpg", random_bytes(100, 2)),
            ("a.gif", random_bytes(100, 3)),
            (
                "a.svg",
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            ),
            ("a.ico", random_bytes(100, 4)),
            ("a.pdf", random_bytes(100, 5)),
            ("a.mp3", random_bytes(100, 6)),
            ("a.mp4", random_bytes(100, 7)),
            ("a.webm", random_bytes(100, 8)),
            ("blob.p2p", random_bytes(100, 9)),
            ("big.bin", random_bytes(1 << 20, 10)),
            ("my file.txt", b"spaces\n".to_vec()),
        ];
        for (name, bytes) in files {
            std::fs::write(root.join(name), bytes).unwrap();
        }
        Site { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("www")
    }
}

pub struct Web {
    child: Child,
    pub port: u16,
    pub stderr: Arc<Mutex<String>>,
}

impl Web {
    pub fn start(root: &Path, extra: &[&str]) -> Web {
        let port = free_port();
        let mut child = Command::new(bin())
            .args(["--web", &format!("127.0.0.1:{port}"), "--www"])
            .arg(root)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn web server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            let mut line = String::new();
            while pipe.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        wait_until("web server listening", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Web {
            child,
            port,
            stderr,
        }
    }

    pub fn connect(&self) -> Http {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Http {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// One GET on a fresh connection.
    pub fn get(&self, target: &str) -> Reply {
        self.connect().ask(&format!(
            "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        ))
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Http {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Http {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends `request` and reads one response (its body too, unless it answers a HEAD).
    pub fn ask(&mut self, request: &str) -> Reply {
        self.send(request.as_bytes());
        self.reply(request.starts_with("HEAD "))
    }

    pub fn reply(&mut self, head_only: bool) -> Reply {
        let mut status_line = String::new();
        self.reader
            .read_line(&mut status_line)
            .expect("status line");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':').expect("header line");
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if !head_only && status != 304 {
            let length: usize = reply
                .header("content-length")
                .map(|v| v.parse().unwrap())
                .unwrap_or(0);
            reply.body = vec![0; length];
            self.reader.read_exact(&mut reply.body).expect("body");
        }
        reply
    }

    /// Waits for the server to close the connection (EOF or reset), up to `TIMEOUT`.
    pub fn closed_by_server(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => true,
            // A read timeout means it is still open; a reset means it was closed.
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}

#[test]
fn files_are_served_with_types_and_lengths_over_one_keep_alive_connection() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let mut http = web.connect();
    let cases = [
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/docs/", "text/html"),
        ("/hello.txt", "text/plain"),
        ("/p.png", "image/png"),
        ("/s.css", "text/css"),
        ("/s.js", "text/javascript"),
        ("/d.json", "application/json"),
        ("/a.jpg", "image/jpeg"),
        ("/a.gif", "image/gif"),
        ("/a.svg", "image/svg+xml"),
        ("/a.ico", "image/x-icon"),
        ("/a.pdf", "application/pdf"),
        ("/a.mp3", "audio/mpeg"),
        ("/a.mp4", "video/mp4"),
        ("/a.webm", "video/webm"),
        ("/blob.p2p", "application/octet-stream"),
        ("/my%20file.txt", "text/plain"),
        ("/big.bin", "application/octet-stream"),
    ];
    for (target, content_type) in cases {
        // Every request on the same connection: keep-alive is the default of HTTP/1.1.
        let reply = http.ask(&format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_eq!(reply.status, 200, "{target}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{target}");
        let file = match target {
            "/" => "index.html".to_string(),
            "/docs/" => "docs/index.html".to_string(),
            "/my%20file.txt" => "my file.txt".to_string(),
            t => t.trim_start_matches('/').to_string(),
        };
        let expected = std::fs::read(site.root().join(file)).unwrap();
        assert_eq!(
            reply.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
        assert_eq!(sha256(&reply.body), sha256(&expected), "{target}");
    }
    // HEAD: the same headers, no body; the connection stays usable afterwards.
    let head = http.ask("HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1048576"));
    let after = http.ask("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(after.body, b"Success!!!\n");
    // A directory without its slash is sent to the slashed form.
    let redirect = web.get("/docs");
    assert!(matches!(redirect.status, 301 | 307 | 308), "{redirect:?}");
    assert_eq!(redirect.header("location"), Some("/docs/"));
    // One access-log line per request.
    wait_until("access log", || {
        web.stderr
            .lock()
            .unwrap()
            .contains("\"GET /hello.txt HTTP/1.1\" 200 11 ")
    });
}

#[test]
fn range_and_conditional_requests() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let big = std::fs::read(site.root().join("big.bin")).unwrap();
    let mut http = web.connect();
    let part = http.ask("GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-1999\r\n\r\n");
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some("bytes 1000-1999/1048576")
    );
    assert_eq!(part.body, &big[1000..2000]);
    let tail = http.ask("GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-10\r\n\r\n");
    assert_eq!(
        (tail.status, tail.body.as_slice()),
        (206, &big[big.len() - 10..])
    );
    let beyond = http.ask("GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=2000000-\r\n\r\n");
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */1048576"));

    let full = http.ask("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let modified = full
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();
    let unchanged = http.ask(&format!(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {modified}\r\n\r\n"
    ));
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    let older = http.ask(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n\r\n",
    );
    assert_eq!(
        (older.status, older.body.as_slice()),
        (200, &b"Success!!!\n"[..])
    );
}

#[test]
fn errors_are_clear_and_leave_the_server_serving() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let missing = web.get("/nope.html");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(String::from_utf8_lossy(&missing.body).contains("<h1>404 Not Found</h1>"));
    let head_missing = web
        .connect()
        .ask("HEAD /nope.html HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head_missing.status, 404);

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let reply = web.connect().ask(&format!(
            "{method} /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
        ));
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    }

    let garbage: [&[u8]; 5] = [
        b"HELLO\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
    ];
    for bytes in garbage {
        let mut http = web.connect();
        http.send(bytes);
        let reply = http.reply(false);
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(bytes));
        assert!(http.closed_by_server());
    }

    // A request head larger than the bound gets 431, not unbounded buffering.
    let mut http = web.connect();
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    http.send(huge.as_bytes());
    assert_eq!(http.reply(false).status, 431);

    assert_eq!(web.get("/hello.txt").body, b"Success!!!\n");
}

#[test]
fn no_path_leaves_the_root() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let secret = site.dir.path().join("secret.txt");
    let absolute = secret.to_string_lossy().into_owned();
    let encoded_absolute = absolute.replace('/', "%2f");
    let targets = [
        "/../secret.txt".to_string(),
        "/docs/../../secret.txt".to_string(),
        "/%2e%2e/secret.txt".to_string(),
        "/%2E%2E%2Fsecret.txt".to_string(),
        "/..%2fsecret.txt".to_string(),
        "/docs/%2e%2e%2f%2e%2e%2fsecret.txt".to_string(),
        "/%252e%252e/secret.txt".to_string(),
        "/%252e%252e%252fsecret.txt".to_string(),
        "/..\\secret.txt".to_string(),
        "/%5c..%5csecret.txt".to_string(),
        "/.%2e/secret.txt".to_string(),
        "/%c0%ae%c0%ae/secret.txt".to_string(),
        format!("/{absolute}"),
        format!("/{encoded_absolute}"),
        format!("/%2f{}", &encoded_absolute[3..]),
        "http://127.0.0.1/../secret.txt".to_string(),
        "/docs/..%00/secret.txt".to_string(),
    ];
    for target in &targets {
        let mut http = web.connect();
        http.send(
            format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let mut all = Vec::new();
        let _ = http.reader.read_to_end(&mut all);
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.starts_with("HTTP/1.1 4"),
            "{target}: expected a 4xx, got {text:?}"
        );
        assert!(!text.contains("top secret"), "{target} leaked the secret");
    }
    // The secret really is readable, so the checks above could have failed.
    assert_eq!(std::fs::read(&secret).unwrap(), SECRET);
}

#[test]
fn a_hundred_clients_at_once() {
    let site = Site::new();
    let web = Arc::new(Web::start(&site.root(), &[]));
    let expected = sha256(&std::fs::read(site.root().join("big.bin")).unwrap());
    let handles: Vec<_> = (0..100)
        .map(|_| {
            let web = Arc::clone(&web);
            std::thread::spawn(move || sha256(&web.get("/big.bin").body))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}

#[test]
fn a_slow_client_does_not_block_others_and_is_timed_out() {
    let site = Site::new();
    let web = Web::start(&site.root(), &["--header-timeout", "1"]);
    let mut slow = web.connect();
    slow.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    // While it dawdles, another client is served in full.
    assert_eq!(web.get("/hello.txt").body, b"Success!!!\n");
    // The server ends the dawdling connection after the header timeout.
    let started = Instant::now();
    assert!(slow.closed_by_server());
    assert!(started.elapsed() < TIMEOUT);
    // A keep-alive connection idle after a response is closed too, without blocking anyone.
    let mut idle = web.connect();
    assert_eq!(
        idle.ask("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        200
    );
    assert!(idle.closed_by_server());
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    let site = Site::new();
    // Larger than what loopback socket buffers can hold.
    const HUGE: usize = 48 << 20;
    std::fs::write(site.root().join("huge.bin"), vec![7u8; HUGE]).unwrap();
    let web = Web::start(&site.root(), &["--header-timeout", "1"]);
    let mut stalled = web.connect();
    let port = stalled.stream.local_addr().unwrap().port();
    stalled.send(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    // It reads nothing; the server gives up on it (and says so) while serving others.
    assert_eq!(web.get("/hello.txt").body, b"Success!!!\n");
    wait_until("the stalled connection dropped", || {
        web.stderr
            .lock()
            .unwrap()
            .lines()
            .any(|l| l.contains(&format!(":{port} connection closed: no progress")))
    });
    // What it gets now is cut short: the body never arrives whole.
    let mut all = Vec::new();
    let _ = stalled.reader.read_to_end(&mut all);
    assert!(all.len() < HUGE, "{} bytes", all.len());
}

/// The same for responses sent with `sendfile` (cached files of 256 KiB to 4 MiB): pipelined
/// until they are more than the socket buffers hold, then never read.
#[test]
fn a_client_that_stops_reading_sent_files_is_dropped() {
    let site = Site::new();
    const FILE: usize = 4 << 20;
    const COPIES: usize = 16;
    std::fs::write(site.root().join("big4.bin"), vec![9u8; FILE]).unwrap();
    let web = Web::start(&site.root(), &["--header-timeout", "1"]);
    // Once read whole, so the pipelined copies come from memory.
    let first = web.get("/big4.bin");
    assert_eq!(first.body.len(), FILE);
    let mut stalled = web.connect();
    let port = stalled.stream.local_addr().unwrap().port();
    stalled.send(
        "GET /big4.bin HTTP/1.1\r\nHost: t\r\n\r\n"
            .repeat(COPIES)
            .as_bytes(),
    );
    assert_eq!(web.get("/hello.txt").body, b"Success!!!\n");
    wait_until("the stalled connection dropped", || {
        web.stderr
            .lock()
            .unwrap()
            .lines()
            .any(|l| l.contains(&format!(":{port} connection closed: no progress")))
    });
    let mut all = Vec::new();
    let _ = stalled.reader.read_to_end(&mut all);
    assert!(all.len() < FILE * COPIES, "{} bytes", all.len());
}

#[test]
fn with_the_tracker_the_web_server_shows_its_directory() {
    let site = Site::new();
    let tracker_port = free_port();
    let web = Web::start(
        &site.root(),
        &["--tracker", &format!("127.0.0.1:{tracker_port}")],
    );
    wait_until("tracker listening", || {
        TcpStream::connect(("127.0.0.1", tracker_port)).is_ok()
    });
    let mut peer = TcpStream::connect(("127.0.0.1", tracker_port)).unwrap();
    peer.write_all(br#"{"port": 7001, "files": [{"name": "a<b>.txt", "mtime": 1700000000}]}"#)
        .unwrap();
    wait_until("the peer in /tracker.json", || {
        let reply = web.get("/tracker.json");
        let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        json["files"]["a<b>.txt"][0]["port"] == 7001
    });
    let page = web.get("/tracker");
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(html.contains("a&lt;b&gt;.txt"), "{html}");
    assert!(html.contains(":7001"), "{html}");
    // The peer leaves; the page follows.
    drop(peer);
    wait_until("the peer gone from /tracker.json", || {
        let json: serde_json::Value =
            serde_json::from_slice(&web.get("/tracker.json").body).unwrap();
        json["peers"].as_array().is_some_and(|p| p.is_empty())
    });
    // Without --tracker there is no such page.
    let plain = Web::start(&site.root(), &[]);
    assert_eq!(plain.get("/tracker").status, 404);
}

/// Replaces each "Last seen" cell (`just now`, `3 s ago`): it changes between two requests.
fn without_ages(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("<td>") {
        out.push_str(&rest[..at + 4]);
        rest = &rest[at + 4..];
        let cell = rest.split("</td>").next().unwrap_or("");
        let age = cell == "just now"
            || cell
                .strip_suffix(" s ago")
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if age {
            out.push_str("AGE");
            rest = &rest[cell.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Node.js running `/tracker`'s own script against the live server, with a stand-in document
/// that prints every change the script makes to the page.
struct PageScript {
    node: Child,
    printed: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl PageScript {
    fn start(port: u16, script: &str) -> Option<PageScript> {
        let harness = format!(
            r#"const realFetch = globalThis.fetch;
globalThis.fetch = (url, options) => realFetch("http://127.0.0.1:{port}" + url, options);
const status = {{ className: "", set textContent(text) {{ console.log(JSON.stringify({{ status: text, stale: this.className === "stale" }})); }} }};
const directory = {{ set innerHTML(html) {{ console.log(JSON.stringify({{ directory: html }})); }} }};
globalThis.document = {{ hidden: false, getElementById: (id) => ({{ status, directory }})[id], addEventListener() {{}} }};
{script}
"#
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.js");
        std::fs::write(&path, harness).unwrap();
        let mut node = Command::new("node")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let printed = crate::util::collect(node.stdout.take().unwrap());
        Some(PageScript {
            node,
            printed,
            _dir: dir,
        })
    }

    /// Waits for a change the script made to the page that `wanted` accepts.
    fn wait_for(
        &self,
        what: &str,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut found = None;
        wait_until(what, || {
            let printed = self.printed.lock().unwrap().clone();
            found = printed
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .find(|v| wanted(v));
            found.is_some()
        });
        found.unwrap()
    }
}

impl Drop for PageScript {
    fn drop(&mut self) {
        let _ = self.node.kill();
        let _ = self.node.wait();
    }
}

#[test]
fn the_tracker_page_formats_dates_links_home_and_updates_in_place() {
    let site = Site::new();
    let tracker_port = free_port();
    let web = Web::start(
        &site.root(),
        &["--tracker", &format!("127.0.0.1:{tracker_port}")],
    );
    wait_until("tracker listening", || {
        TcpStream::connect(("127.0.0.1", tracker_port)).is_ok()
    });
    let mut first = TcpStream::connect(("127.0.0.1", tracker_port)).unwrap();
    first
        .write_all(br#"{"port": 7001, "files": [{"name": "a<b>.txt", "mtime": 1700000000}]}"#)
        .unwrap();
    wait_until("the peer in /tracker.json", || {
        let json: serde_json::Value =
            serde_json::from_slice(&web.get("/tracker.json").body).unwrap();
        json["files"]["a<b>.txt"][0]["port"] == 7001
    });
    let page = web.get("/tracker");
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(html.contains("<a href=\"/\">"), "no link home: {html}");
    assert!(html.contains("<p>1 peer, 1 file name.</p>"), "{html}");
    assert!(
        html.contains("<td>127.0.0.1:7001 (2023-11-14 22:13:20 UTC)</td>"),
        "{html}"
    );
    assert!(!html.contains("1700000000"), "a raw epoch: {html}");
    // The page no longer reloads itself where a script can update it.
    assert!(
        html.contains("<noscript><meta http-equiv=\"refresh\""),
        "{html}"
    );
    let script = html
        .split_once("<script>\n")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(script, _)| script.to_owned())
        .expect("a script");
    assert!(script.contains("fetch(\"/tracker.json\""), "{script}");
    let served_directory = html
        .split_once("<div id=\"directory\">")
        .and_then(|(_, rest)| rest.split_once("</div>"))
        .map(|(d, _)| d.to_owned())
        .expect("the directory");

    let Some(browser) = PageScript::start(web.port, &script) else {
        eprintln!("node is not installed: the page's script was not run");
        return;
    };
    // Its first poll draws what the server drew.
    let drawn = browser.wait_for("the script's first update", |v| v["directory"].is_string());
    assert_eq!(
        without_ages(drawn["directory"].as_str().unwrap()),
        without_ages(&served_directory)
    );
    let updated = browser.wait_for("the status line", |v| v["status"].is_string());
    assert_eq!(updated["stale"], false, "{updated}");
    // A peer joins: the open page shows it without being reloaded.
    let mut second = TcpStream::connect(("127.0.0.1", tracker_port)).unwrap();
    second
        .write_all(br#"{"port": 7002, "files": [{"name": "new.txt", "mtime": 1800000000}]}"#)
        .unwrap();
    let drawn = browser.wait_for("the new peer drawn in place", |v| {
        v["directory"]
            .as_str()
            .is_some_and(|d| d.contains("<td>127.0.0.1:7002 (2027-01-15 08:00:00 UTC)</td>"))
    });
    assert!(
        drawn["directory"]
            .as_str()
            .unwrap()
            .starts_with("<p>2 peers, 2 file names.</p>"),
        "{drawn}"
    );
    // The server goes away: the page says its data may be stale, and keeps what it showed.
    drop(web);
    let stale = browser.wait_for("the stale note", |v| v["stale"] == true);
    assert!(
        stale["status"]
            .as_str()
            .unwrap()
            .contains("The tracker did not answer"),
        "{stale}"
    );
    drop(first);
    drop(second);
}

/// The seed-004 classroom client: sends `request` as is, reads until the server closes, gives up
/// after 5 s without a byte. Returns what it read and how long the whole exchange took.
fn classroom_exchange(port: u16, request: &[u8]) -> (Vec<u8>, std::time::Duration) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    stream.write_all(request).unwrap();
    let mut all = Vec::new();
    if let Err(e) = stream.read_to_end(&mut all) {
        panic!(
            "the classroom client gave up after {:?} ({e}) with {} bytes: the server did not close",
            started.elapsed(),
            all.len()
        );
    }
    (all, started.elapsed())
}

/// Splits a whole response into its head (lowercased, for header checks) and body.
fn split_response(all: &[u8]) -> (String, &[u8]) {
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(all)));
    (
        String::from_utf8_lossy(&all[..end]).to_ascii_lowercase(),
        &all[end + 4..],
    )
}

#[test]
fn a_classroom_client_without_host_gets_the_page_and_the_close_at_once() {
    let site = Site::new();
    // The default header timeout (10 s): before the fix the connection stayed open that long,
    // and the classroom client's 5 s read timeout ran out first.
    let web = Web::start(&site.root(), &[]);
    let page = std::fs::read(site.root().join("index.html")).unwrap();
    for request in [
        &b"GET /index.html HTTP/1.1\r\n\r\n"[..],
        // HTTP/1.0 without keep-alive: hyper closes already; the header says so too.
        &b"GET /index.html HTTP/1.0\r\n\r\n"[..],
    ] {
        let what = String::from_utf8_lossy(request).into_owned();
        let (all, took) = classroom_exchange(web.port, request);
        let (head, body) = split_response(&all);
        assert!(head.starts_with("http/1."), "{what}: {head}");
        assert!(
            head.lines().next().unwrap().contains(" 200 "),
            "{what}: {head}"
        );
        assert!(head.contains("\r\nconnection: close"), "{what}: {head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", page.len())),
            "{what}: {head}"
        );
        assert_eq!(body, page.as_slice(), "{what}: the page byte for byte");
        assert!(
            took < std::time::Duration::from_secs(2),
            "{what}: the close came after {took:?}"
        );
    }
}

#[test]
fn a_browser_style_request_keeps_its_connection_alive() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let page = std::fs::read(site.root().join("index.html")).unwrap();
    let mut http = web.connect();
    for round in 0..2 {
        let reply = http.ask(
            "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
        );
        assert_eq!(reply.status, 200, "request {round}");
        assert_eq!(reply.body, page, "request {round}");
        assert!(
            !reply
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close")),
            "request {round}: {reply:?}"
        );
    }
    // So does an HTTP/1.0 client that asks for keep-alive.
    let mut old = web.connect();
    for round in 0..2 {
        let reply = old.ask("GET /hello.txt HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, &b"Success!!!\n"[..]),
            "HTTP/1.0 request {round}"
        );
    }
}

#[test]
fn a_client_dripping_its_head_is_cut_off_at_the_header_timeout_while_others_are_served() {
    let site = Site::new();
    let header_timeout = std::time::Duration::from_secs(2);
    let web = Web::start(&site.root(), &["--header-timeout", "2"]);
    let head =
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Drip: one byte a second, never done\r\n\r\n";
    let mut drip = TcpStream::connect(("127.0.0.1", web.port)).unwrap();
    // Reading with a 1 s timeout paces the drip: one byte, then a second of listening.
    drip.set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .unwrap();
    let started = Instant::now();
    let mut sent = 0;
    let mut answer = Vec::new();
    let closed = loop {
        if sent == head.len() - 1 {
            // Bounded: the whole head minus its last byte, about 70 s if nothing cuts it off.
            break false;
        }
        if drip.write_all(&head[sent..sent + 1]).is_err() {
            break true;
        }
        sent += 1;
        // Another client meanwhile is served in full.
        assert_eq!(web.get("/hello.txt").body, b"Success!!!\n");
        let mut buf = [0u8; 1024];
        match drip.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
    };
    let took = started.elapsed();
    assert!(closed, "still open after {sent} bytes over {took:?}");
    // Each byte came well within the timeout, so only a deadline on the whole head closes it.
    assert!(
        took < header_timeout + std::time::Duration::from_secs(4),
        "closed after {took:?}"
    );
    assert!(
        !String::from_utf8_lossy(&answer).contains(" 200 "),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

/// Raises this process's open-file limit (the server inherits it) to at least `need`.
fn ensure_fd_limit(need: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < need {
        assert!(
            hard >= need,
            "this test needs {need} open files; the hard limit is {hard}"
        );
        setrlimit(Resource::RLIMIT_NOFILE, need, hard).expect("setrlimit");
    }
}

/// Whether the server has closed `stream` (EOF or reset) without waiting.
fn closed_now(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1];
    let closed = match (&*stream).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

#[test]
fn idle_connections_beyond_the_cap_make_room_for_a_good_client() {
    const CAP: usize = 1024; // WebConfig's max_connections
    const KEEP_ALIVE: usize = 24;
    const SILENT: usize = 1000;
    const HALF_HEAD: usize = 100;
    const HUGE: usize = 48 << 20;
    ensure_fd_limit(4 * (CAP as u64) + 1024);
    let site = Site::new();
    std::fs::write(site.root().join("huge.bin"), vec![7u8; HUGE]).unwrap();
    // A long header timeout: what frees slots here is eviction, not hyper's timer.
    let web = Web::start(&site.root(), &["--header-timeout", "120"]);

    // A download in progress whose client is not reading yet: busy, never evicted.
    let mut busy = web.connect();
    busy.send(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    // Browsers' keep-alive connections gone idle after a response: the oldest idle.
    let keep_alive: Vec<Http> = (0..KEEP_ALIVE)
        .map(|_| {
            let mut http = web.connect();
            assert_eq!(
                http.ask("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                    .status,
                200
            );
            http
        })
        .collect();
    // Then a flood: connections that send nothing, and ones that send half a head.
    let silent: Vec<TcpStream> = (0..SILENT)
        .map(|_| TcpStream::connect(("127.0.0.1", web.port)).expect("connect"))
        .collect();
    let half: Vec<TcpStream> = (0..HALF_HEAD)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", web.port)).expect("connect");
            s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n")
                .unwrap();
            s
        })
        .collect();
    const { assert!(1 + KEEP_ALIVE + SILENT + HALF_HEAD > CAP) };

    // A good client is served, long before any header timeout could have freed a slot.
    let started = Instant::now();
    let reply = web.get("/hello.txt");
    let took = started.elapsed();
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, &b"Success!!!\n"[..])
    );
    assert!(
        took < std::time::Duration::from_secs(20),
        "served after {took:?}"
    );

    // Room was made by closing idle connections, the longest idle first.
    for (i, http) in keep_alive.iter().enumerate() {
        wait_until(&format!("idle keep-alive connection {i} closed"), || {
            closed_now(&http.stream)
        });
    }
    let flood_closed = silent.iter().chain(&half).filter(|s| closed_now(s)).count();
    let admitted_beyond_cap = 1 + KEEP_ALIVE + SILENT + HALF_HEAD + 1 - (CAP + 1);
    assert!(
        KEEP_ALIVE + flood_closed >= admitted_beyond_cap,
        "{flood_closed} flood connections closed"
    );
    // The newest stay: only as many as needed were closed.
    assert!(!closed_now(half.last().unwrap()));
    assert!(
        web.stderr
            .lock()
            .unwrap()
            .contains("connection closed: idle, to admit another client")
    );

    // The download in progress was not touched: all of it arrives.
    let reply = busy.reply(false);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), HUGE);
    assert!(reply.body.iter().all(|&b| b == 7));
}

#[test]
fn long_methods_and_paths_are_cut_short_in_the_access_log() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let path = format!("/{}", "p".repeat(8000));
    assert_eq!(web.get(&path).status, 404);
    let method = "M".repeat(500);
    let reply = web.connect().ask(&format!(
        "{method} /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(reply.status, 405);
    let line_with = |needle: String| {
        let mut found = None;
        wait_until(&format!("a log line with {needle}"), || {
            found = web
                .stderr
                .lock()
                .unwrap()
                .lines()
                .find(|l| l.contains(&needle))
                .map(str::to_string);
            found.is_some()
        });
        found.unwrap()
    };
    let line = line_with(format!("{}...[8001 bytes] HTTP/1.1\" 404", &path[..200]));
    assert!(line.len() < 600, "{} bytes: {line}", line.len());
    let line = line_with(format!("\"{}...[500 bytes] /hello.txt", &method[..200]));
    assert!(line.len() < 600, "{} bytes: {line}", line.len());
}

#[test]
fn a_file_changed_on_disk_is_served_fresh_and_large_files_stream_from_disk() {
    let site = Site::new();
    let web = Web::start(&site.root(), &[]);
    let mut http = web.connect();
    let path = site.root().join("hello.txt");
    let get = |http: &mut Http| http.ask("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    // Twice: the second comes from memory.
    assert_eq!(get(&mut http).body, b"Success!!!\n");
    let first = get(&mut http);
    assert_eq!(first.body, b"Success!!!\n");
    // Same size, new content and time; then another size: each served at once.
    for (n, content) in [
        &b"Changed!!!\n"[..],
        b"shorter\n",
        b"a good deal longer now\n",
    ]
    .into_iter()
    .enumerate()
    {
        // (A cached copy is checked against its file at most every 20 ms.)
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::write(&path, content).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(
                std::time::SystemTime::now() + std::time::Duration::from_secs(10 * (n as u64 + 1)),
            )
            .unwrap();
        let reply = get(&mut http);
        assert_eq!(reply.body, content);
        assert_eq!(
            reply.header("content-length"),
            Some(content.len().to_string().as_str())
        );
        assert_ne!(reply.header("last-modified"), first.header("last-modified"));
    }
    // A range of a cached file, and a deleted one.
    let part = http.ask("GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=2-5\r\n\r\n");
    assert_eq!((part.status, part.body.as_slice()), (206, &b"good"[..]));
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(get(&mut http).status, 404);
    // Beyond the cache's largest file (4 MiB): read from disk, whole and exact, and fresh.
    let huge = random_bytes(5 << 20, 11);
    std::fs::write(site.root().join("huge.bin"), &huge).unwrap();
    for _ in 0..2 {
        let reply = http.ask("GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(sha256(&reply.body), sha256(&huge));
    }
    let tail = http.ask("GET /huge.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-5\r\n\r\n");
    assert_eq!(tail.body, &huge[huge.len() - 5..]);
}

/// Whole files of 256 KiB to 4 MiB are cached as sealed copies and sent with `sendfile`: pipelined
/// behind and between other responses on one connection, each arrives whole and in order, and a
/// file changed on disk is served fresh.
#[test]
fn large_cached_files_are_sent_whole_pipelined_and_fresh() {
    let site = Site::new();
    let sizes = [256 << 10, 1 << 20, (4 << 20) - 1, 4 << 20];
    let files: Vec<(String, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (format!("f{i}.bin"), random_bytes(n, 20 + i as u64)))
        .collect();
    for (name, bytes) in &files {
        std::fs::write(site.root().join(name), bytes).unwrap();
    }
    let web = Web::start(&site.root(), &[]);
    let mut http = web.connect();
    // Twice round: the first fills the cache, the second is served from it.
    for _ in 0..2 {
        let mut batch = String::new();
        for (name, _) in &files {
            batch.push_str(&format!("GET /{name} HTTP/1.1\r\nHost: t\r\n\r\n"));
            batch.push_str("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
            batch.push_str(&format!(
                "GET /{name} HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-1009\r\n\r\n"
            ));
            batch.push_str(&format!("HEAD /{name} HTTP/1.1\r\nHost: t\r\n\r\n"));
        }
        http.send(batch.as_bytes());
        for (name, bytes) in &files {
            let whole = http.reply(false);
            assert_eq!(whole.status, 200, "{name}");
            assert_eq!(sha256(&whole.body), sha256(bytes), "{name} differs");
            assert_eq!(http.reply(false).body, b"Success!!!\n");
            let part = http.reply(false);
            assert_eq!((part.status, &part.body[..]), (206, &bytes[1000..1010]));
            let head = http.reply(true);
            assert_eq!(
                head.header("content-length"),
                Some(bytes.len().to_string().as_str())
            );
        }
    }
    // Changed on disk, same size: the new bytes (the cached copy is checked every 20 ms).
    let (name, old) = &files[1];
    let new = random_bytes(old.len(), 99);
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::write(site.root().join(name), &new).unwrap();
    std::fs::File::options()
        .write(true)
        .open(site.root().join(name))
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
        .unwrap();
    for _ in 0..2 {
        let reply = http.ask(&format!("GET /{name} HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_eq!(sha256(&reply.body), sha256(&new));
    }
    // Many connections at once on the same cached file: every copy whole.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let port = web.port;
            let expected = sha256(&files[2].1);
            std::thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                let mut http = Http {
                    reader: BufReader::new(stream.try_clone().unwrap()),
                    stream,
                };
                for _ in 0..3 {
                    let reply = http.ask("GET /f2.bin HTTP/1.1\r\nHost: t\r\n\r\n");
                    assert_eq!(sha256(&reply.body), expected);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
