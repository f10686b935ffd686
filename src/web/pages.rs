//! The web server's own pages and log lines, as pure functions of their inputs.

use std::fmt::Write;
use std::time::Duration;

use crate::tracker::directory::DirectoryView;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str, head_extra: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n{head_extra}\
         <title>{title}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:60em;\
         margin:2em auto;padding:0 1em;color:#222}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\
         code{{background:#f3f3f3;padding:0 .2em}}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
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

/// `/tracker`: the directory as tables, reloading itself every `refresh_secs`.
pub fn tracker_html(view: &DirectoryView, refresh_secs: u32) -> String {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>Tracker</h1>\n<p>{} peer(s), {} file name(s). This page reloads every {refresh_secs} s; \
         the same data is at <a href=\"/tracker.json\">/tracker.json</a>.</p>",
        view.peers.len(),
        view.files.len()
    );
    body.push_str("<h2>Peers</h2>\n");
    if view.peers.is_empty() {
        body.push_str("<p>No peer is connected.</p>\n");
    } else {
        body.push_str("<table>\n<tr><th>Address</th><th>Files</th><th>Last seen</th></tr>\n");
        for p in &view.peers {
            let files: Vec<String> = p.files.iter().map(|f| escape(f)).collect();
            let _ = writeln!(
                body,
                "<tr><td>{}:{}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.ip),
                p.port,
                if files.is_empty() {
                    "<em>none</em>".to_string()
                } else {
                    files.join(", ")
                },
                ago(p.silent_ms)
            );
        }
        body.push_str("</table>\n");
    }
    body.push_str("<h2>Files</h2>\n");
    if view.files.is_empty() {
        body.push_str("<p>No file is announced.</p>\n");
    } else {
        body.push_str(
            "<table>\n<tr><th>Name</th><th>Newest copy</th><th>Holders (mtime), newest first</th></tr>\n",
        );
        for (name, holders) in &view.files {
            let newest = holders.first().map(|h| utc(h.mtime)).unwrap_or_default();
            let list: Vec<String> = holders
                .iter()
                .map(|h| format!("{}:{} ({})", escape(&h.ip), h.port, h.mtime))
                .collect();
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{newest}</td><td>{}</td></tr>",
                escape(name),
                list.join(", ")
            );
        }
        body.push_str("</table>\n");
    }
    page(
        "Tracker",
        &body,
        &format!("<meta http-equiv=\"refresh\" content=\"{refresh_secs}\">\n"),
    )
}

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
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
        assert!(html.contains("<td>127.0.0.1:7001</td><td>a&lt;b.txt</td><td>2 s ago</td>"));
        assert!(html.contains("127.0.0.1:7001 (42)"));
        let json: serde_json::Value = serde_json::from_str(&tracker_json(&view)).unwrap();
        assert_eq!(json["files"]["a<b.txt"][0]["port"], 7001);
        assert_eq!(json["peers"][0]["silent_ms"], 2500);
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
