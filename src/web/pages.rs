//! The web server's own pages and log lines, as pure functions of their inputs.

use std::fmt::Write;
use std::time::Duration;

use crate::core::markup::escape;
use crate::tracker::directory::DirectoryView;

/// The one stylesheet of every page the web server shows: the front page (assets/www/index.html)
/// links this file, and the pages generated here embed it, so they work whatever `--www` serves.
pub const STYLESHEET: &str = include_str!("../../assets/www/style.css");

/// A generated page: the shared stylesheet, and the body in `<main>` as on the front page.
fn page(title: &str, body: &str, head_extra: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n{head_extra}\
         <title>{title}</title>\n<style>\n{STYLESHEET}</style>\n</head>\n<body>\n<main>\n{body}</main>\n\
         </body>\n</html>\n",
        title = escape(title),
    )
}

/// The 404 page; `path` is the request's path as sent.
pub fn not_found(path: &str) -> String {
    page(
        "404 Not Found",
        &format!(
            "<h1>404 Not Found</h1>\n<p>There is no file at <code>{}</code> on this server.</p>\n\
             <p><a href=\"/\">Home</a></p>\n",
            escape(path)
        ),
        "",
    )
}

/// The 405 page.
pub fn method_not_allowed(method: &str) -> String {
    page(
        "405 Method Not Allowed",
        &format!(
            "<h1>405 Method Not Allowed</h1>\n<p>This server answers GET and HEAD, not <code>{}</code>.</p>\n",
            escape(method)
        ),
        "",
    )
}

/// Seconds since 1970 as `2026-11-23 02:03:06 UTC` (the proleptic Gregorian calendar).
pub fn utc(secs: i64) -> String {
    let (year, month, day) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 as (year, month, day) (Howard Hinnant's algorithm).
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn ago(ms: u64) -> String {
    let d = Duration::from_millis(ms);
    if d < Duration::from_secs(1) {
        "just now".to_string()
    } else {
        format!("{} s ago", d.as_secs())
    }
}

/// A peer's address as a person writes it: `127.0.0.1:7001`, `[::1]:7001`.
fn address(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{}]:{port}", escape(ip))
    } else {
        format!("{}:{port}", escape(ip))
    }
}

/// `/tracker`: the directory as tables. A small script polls `/tracker.json` every
/// `refresh_secs` and redraws the tables in place (the scroll position, a text selection
/// elsewhere and the browser history stay); without JavaScript the page reloads itself instead.
pub fn tracker_html(view: &DirectoryView, refresh_secs: u32) -> String {
    let mut body = String::new();
    body.push_str(
        "<nav><a href=\"/\">&larr; Home</a> &middot; <a href=\"/tracker.json\">/tracker.json</a></nav>\n\
         <h1>Tracker</h1>\n",
    );
    let _ = writeln!(
        body,
        "<div id=\"directory\">{}</div>\n<p id=\"status\">Updates every {refresh_secs} s.</p>\n\
         <script>\n\"use strict\";\nconst REFRESH_MS = {};\n{TRACKER_SCRIPT}</script>",
        directory_html(view),
        u64::from(refresh_secs) * 1000,
    );
    page(
        "Tracker",
        &body,
        &format!("<noscript><meta http-equiv=\"refresh\" content=\"{refresh_secs}\"></noscript>\n"),
    )
}

/// The part of `/tracker` the script redraws: `renderDirectory` in [`TRACKER_SCRIPT`] builds the
/// same markup from `/tracker.json` (a test runs both on one view and compares).
pub fn directory_html(view: &DirectoryView) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<p>{}, {}.</p>",
        crate::core::words::counted(view.peers.len() as u64, "peer"),
        crate::core::words::counted(view.files.len() as u64, "file name"),
    );
    body.push_str("<h2>Peers</h2>");
    if view.peers.is_empty() {
        body.push_str("<p>No peer is connected.</p>");
    } else {
        body.push_str("<table><tr><th>Address</th><th>Files</th><th>Last seen</th></tr>");
        for p in &view.peers {
            let files: Vec<String> = p.files.iter().map(|f| escape(f)).collect();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                address(&p.ip, p.port),
                if files.is_empty() {
                    "<em>none</em>".to_string()
                } else {
                    files.join(", ")
                },
                ago(p.silent_ms)
            );
        }
        body.push_str("</table>");
    }
    body.push_str("<h2>Files</h2>");
    if view.files.is_empty() {
        body.push_str("<p>No file is announced.</p>");
    } else {
        body.push_str(
            "<table><tr><th>Name</th><th>Newest copy</th><th>Holders, newest first</th></tr>",
        );
        for (name, holders) in &view.files {
            let newest = holders.first().map(|h| utc(h.mtime)).unwrap_or_default();
            let list: Vec<String> = holders
                .iter()
                .map(|h| format!("{} ({})", address(&h.ip, h.port), utc(h.mtime)))
                .collect();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{newest}</td><td>{}</td></tr>",
                escape(name),
                list.join("<br>")
            );
        }
        body.push_str("</table>");
    }
    body
}

/// `/tracker`'s script (after `"use strict"; const REFRESH_MS = ...;`). `renderDirectory` mirrors
/// [`directory_html`] character for character; the polling waits for each answer before the
/// next (no pile-up behind a slow server) and pauses while the tab is hidden.
pub const TRACKER_SCRIPT: &str = r#"function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function counted(n, noun) { return n === 1 ? "1 " + noun : n + " " + noun + "s"; }
function address(ip, port) { return ip.includes(":") ? "[" + esc(ip) + "]:" + port : esc(ip) + ":" + port; }
function ago(ms) { return ms < 1000 ? "just now" : Math.floor(ms / 1000) + " s ago"; }
function pad(n, width) { return String(n).padStart(width, "0"); }
// Seconds since 1970 as "2026-11-23 02:03:06 UTC" (Howard Hinnant's civil-from-days, as the server).
function utc(secs) {
  const days = Math.floor(secs / 86400), rem = secs - days * 86400;
  const z = days + 719468, era = Math.floor(z / 146097), doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153), day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9, year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + " " + pad(Math.floor(rem / 3600), 2) +
    ":" + pad(Math.floor(rem % 3600 / 60), 2) + ":" + pad(rem % 60, 2) + " UTC";
}
// File names in the server's order (by UTF-8 bytes, that is by code point).
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0)), y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
function renderDirectory(view) {
  const names = Object.keys(view.files).sort(byCodePoint);
  let html = "<p>" + counted(view.peers.length, "peer") + ", " + counted(names.length, "file name") + ".</p><h2>Peers</h2>";
  if (view.peers.length === 0) {
    html += "<p>No peer is connected.</p>";
  } else {
    html += "<table><tr><th>Address</th><th>Files</th><th>Last seen</th></tr>";
    for (const p of view.peers) {
      const files = p.files.length === 0 ? "<em>none</em>" : p.files.map(esc).join(", ");
      html += "<tr><td>" + address(p.ip, p.port) + "</td><td>" + files + "</td><td>" + ago(p.silent_ms) + "</td></tr>";
    }
    html += "</table>";
  }
  html += "<h2>Files</h2>";
  if (names.length === 0) {
    html += "<p>No file is announced.</p>";
  } else {
    html += "<table><tr><th>Name</th><th>Newest copy</th><th>Holders, newest first</th></tr>";
    for (const name of names) {
      const holders = view.files[name];
      const newest = holders.length > 0 ? utc(holders[0].mtime) : "";
      const list = holders.map((h) => address(h.ip, h.port) + " (" + utc(h.mtime) + ")").join("<br>");
      html += "<tr><td>" + esc(name) + "</td><td>" + newest + "</td><td>" + list + "</td></tr>";
    }
    html += "</table>";
  }
  return html;
}
if (typeof document !== "undefined") {
  const directory = document.getElementById("directory");
  const status = document.getElementById("status");
  let shown = null, timer = null, inFlight = false;
  const clock = () => new Date().toLocaleTimeString();
  async function poll() {
    timer = null;
    inFlight = true;
    try {
      const reply = await fetch("/tracker.json", { cache: "no-store" });
      if (!reply.ok) throw new Error("HTTP " + reply.status);
      const html = renderDirectory(await reply.json());
      // Only a change touches the page: an unchanged directory keeps a selection in it.
      if (html !== shown) { directory.innerHTML = html; shown = html; }
      status.className = "";
      status.textContent = "Updated " + clock() + "; updates every " + REFRESH_MS / 1000 + " s.";
    } catch (e) {
      status.className = "stale";
      status.textContent = "The tracker did not answer at " + clock() + " (" + e.message +
        "): what is shown may be out of date. Trying again every " + REFRESH_MS / 1000 + " s.";
    }
    inFlight = false;
    schedule();
  }
  function schedule() { if (!document.hidden && timer === null && !inFlight) timer = setTimeout(poll, REFRESH_MS); }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { clearTimeout(timer); timer = null; }
    else if (!inFlight) { clearTimeout(timer); poll(); }
  });
  schedule();
}
"#;

/// `/tracker.json`.
pub fn tracker_json(view: &DirectoryView) -> String {
    let mut json = serde_json::to_string_pretty(view).unwrap_or_else(|_| "{}".to_string());
    json.push('\n');
    json
}

/// How much of a client's text (method, target) an access-log line quotes.
pub const LOGGED_TEXT_BYTES: usize = 200;

/// The client's `text` as a log line quotes it: on one line (escaped), and if it is longer than
/// [`LOGGED_TEXT_BYTES`], its start followed by `...[N bytes]`, N its whole length.
pub fn logged_text(text: &str) -> String {
    if text.len() <= LOGGED_TEXT_BYTES {
        return text.escape_debug().collect();
    }
    let mut cut = LOGGED_TEXT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let start: String = text[..cut].escape_debug().collect();
    format!("{start}...[{} bytes]", text.len())
}

/// One access-log line: `client "METHOD target VERSION" status bytes time`, the client's text
/// escaped and cut short (see [`logged_text`]).
pub fn access_line(
    client: &str,
    method: &str,
    target: &str,
    version: &str,
    status: u16,
    bytes: Option<u64>,
    elapsed: Duration,
) -> String {
    let bytes = bytes.map_or_else(|| "-".to_string(), |b| b.to_string());
    // The method and target are the client's text: one line, of bounded length, whatever it sent.
    let method = logged_text(method);
    let target = logged_text(target);
    format!(
        "{client} \"{method} {target} {version}\" {status} {bytes} {:.1}ms",
        elapsed.as_secs_f64() * 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::directory::{Holder, PeerView};

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert!(not_found("/<script>").contains("/&lt;script&gt;"));
    }

    #[test]
    fn tracker_page_lists_peers_and_holders() {
        let view = DirectoryView {
            peers: vec![PeerView {
                ip: "127.0.0.1".into(),
                port: 7001,
                files: vec!["a<b.txt".into()],
                silent_ms: 2500,
            }],
            files: [(
                "a<b.txt".to_string(),
                vec![Holder {
                    ip: "127.0.0.1".into(),
                    port: 7001,
                    mtime: 42,
                }],
            )]
            .into(),
        };
        let html = tracker_html(&view, 2);
        // Without JavaScript, the page reloads itself; with it, the script polls.
        assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"2\"></noscript>"));
        assert!(html.contains("const REFRESH_MS = 2000;"));
        assert!(html.contains("<a href=\"/\">&larr; Home</a>"));
        assert!(html.contains("<p>1 peer, 1 file name.</p>"));
        assert!(html.contains("<td>127.0.0.1:7001</td><td>a&lt;b.txt</td><td>2 s ago</td>"));
        // Every date formatted, no raw epoch beside it.
        assert!(html.contains(
            "<td>a&lt;b.txt</td><td>1970-01-01 00:00:42 UTC</td>\
             <td>127.0.0.1:7001 (1970-01-01 00:00:42 UTC)</td>"
        ));
        assert!(!html.contains("(42)"));
        // The script ends only where the page means it to.
        assert_eq!(html.matches("</script>").count(), 1);
        let json: serde_json::Value = serde_json::from_str(&tracker_json(&view)).unwrap();
        assert_eq!(json["files"]["a<b.txt"][0]["port"], 7001);
        assert_eq!(json["peers"][0]["silent_ms"], 2500);
    }

    /// A view with what could trip one renderer and not the other: markup and quotes in names,
    /// names JavaScript would order as numbers, non-ASCII, IPv6, no files, odd dates.
    fn tricky_view() -> DirectoryView {
        let holder = |ip: &str, port, mtime| Holder {
            ip: ip.into(),
            port,
            mtime,
        };
        DirectoryView {
            peers: vec![
                PeerView {
                    ip: "127.0.0.1".into(),
                    port: 7001,
                    files: vec!["<b>\"x\"&'y'.txt".into(), "10".into(), "9".into()],
                    silent_ms: 999,
                },
                PeerView {
                    ip: "::1".into(),
                    port: 7002,
                    files: vec![],
                    silent_ms: 61_500,
                },
            ],
            files: [
                (
                    "<b>\"x\"&'y'.txt".to_string(),
                    vec![
                        holder("::1", 7002, 1_795_399_386),
                        holder("127.0.0.1", 7001, 951_782_400),
                    ],
                ),
                ("10".to_string(), vec![holder("127.0.0.1", 7001, -1)]),
                ("9".to_string(), vec![holder("127.0.0.1", 7001, 0)]),
                (
                    "\u{e9}t\u{e9}.txt".to_string(),
                    vec![holder("127.0.0.1", 7001, 253_402_300_799)],
                ),
                (
                    "\u{1f600}".to_string(),
                    vec![holder("127.0.0.1", 7001, 1_700_000_000)],
                ),
                (
                    "\u{ff01}".to_string(),
                    vec![holder("127.0.0.1", 7001, 1_700_000_000)],
                ),
            ]
            .into(),
        }
    }

    #[test]
    fn addresses_dates_and_plurals_read_as_a_person_writes_them() {
        let html = directory_html(&tricky_view());
        assert!(html.starts_with("<p>2 peers, 6 file names.</p>"), "{html}");
        assert!(html.contains("<td>[::1]:7002</td><td><em>none</em></td><td>61 s ago</td>"));
        assert!(html.contains("<td>just now</td>"));
        assert!(html.contains(
            "[::1]:7002 (2026-11-23 02:03:06 UTC)<br>127.0.0.1:7001 (2000-02-29 00:00:00 UTC)"
        ));
        assert!(html.contains("(9999-12-31 23:59:59 UTC)"));
        assert!(html.contains("&lt;b&gt;&quot;x&quot;&amp;&#39;y&#39;.txt"));
        let empty = directory_html(&DirectoryView {
            peers: vec![],
            files: Default::default(),
        });
        assert_eq!(
            empty,
            "<p>0 peers, 0 file names.</p><h2>Peers</h2><p>No peer is connected.</p>\
             <h2>Files</h2><p>No file is announced.</p>"
        );
    }

    /// The page's script, run by Node.js on the view's JSON, draws exactly what the server drew.
    #[test]
    fn the_script_renders_tracker_json_as_the_server_renders_the_page() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        for view in [
            tricky_view(),
            DirectoryView {
                peers: vec![],
                files: Default::default(),
            },
        ] {
            let program = format!(
                "\"use strict\";\nconst REFRESH_MS = 2000;\n{TRACKER_SCRIPT}\n\
                 process.stdout.write(renderDirectory(JSON.parse(require(\"fs\").readFileSync(0, \"utf8\"))));\n"
            );
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("render.js");
            std::fs::write(&path, program).expect("write");
            let Ok(mut node) = Command::new("node")
                .arg(&path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
            else {
                eprintln!("node is not installed: the script was not run");
                return;
            };
            node.stdin
                .take()
                .expect("stdin")
                .write_all(tracker_json(&view).as_bytes())
                .expect("feed node");
            let out = node.wait_with_output().expect("node");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout), directory_html(&view));
        }
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_399_386), "2026-11-23 02:03:06 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn access_line_stays_on_one_line() {
        let line = access_line(
            "127.0.0.1:5000",
            "GET",
            "/a\nb",
            "HTTP/1.1",
            404,
            None,
            Duration::from_micros(1500),
        );
        assert_eq!(line, "127.0.0.1:5000 \"GET /a\\nb HTTP/1.1\" 404 - 1.5ms");
    }

    #[test]
    fn long_client_text_is_cut_with_its_length_noted() {
        let target = format!("/{}", "a".repeat(10_000));
        let method = "X".repeat(300);
        let line = access_line(
            "127.0.0.1:5000",
            &method,
            &target,
            "HTTP/1.1",
            405,
            Some(10),
            Duration::from_millis(1),
        );
        assert!(
            line.len() < 2 * LOGGED_TEXT_BYTES + 100,
            "{} bytes",
            line.len()
        );
        assert!(
            line.contains(&format!("\"{}...[300 bytes] /", &method[..200])),
            "{line}"
        );
        assert!(line.contains(&format!(" {}...[10001 bytes] HTTP/1.1\"", &target[..200])));
        // Never cut inside a character: 'é' is two bytes, so 200 bytes would split the 100th.
        let accented = format!("/{}", "é".repeat(150));
        assert_eq!(
            logged_text(&accented),
            format!("/{}...[301 bytes]", "é".repeat(99))
        );
        assert_eq!(logged_text("/short"), "/short");
    }
}
