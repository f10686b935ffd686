//! `--get`: the seed-004 web client. It prints the seed's lines in order: `Connection: OK`,
//! `Request message sent.`, `Server HTTP Response: <status line>`, then the content type and
//! content (text printed, anything else saved to a file), or `404 Not Found`, and last
//! `Socket closed.`.
//!
//! hyper parses the response; this module decides what to print and where bytes go.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Where to send the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// The request target: starts with `/`, percent-encoded.
    pub path: String,
}

/// The seed's calling syntax `HOST PORT FILE [TIMEOUT]`: a fourth argument is the timeout in
/// seconds (in place of `--timeout`). Returns the target's arguments and the timeout.
pub fn seed_timeout(args: &[String], timeout: f64) -> Result<(&[String], f64), String> {
    match args {
        [target @ .., seconds] if args.len() == 4 => seconds
            .parse::<f64>()
            .map(|t| (target, t))
            .map_err(|_| format!("invalid TIMEOUT {seconds:?} (expected seconds, e.g. 5)")),
        _ => Ok((args, timeout)),
    }
}

impl Target {
    /// `HOST PORT FILE`, or one `http://host[:port]/path` URL.
    pub fn parse(args: &[String]) -> Result<Target, String> {
        match args {
            [url] => Target::from_url(url),
            [host, port, file] => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("invalid port {port:?} (expected 1-65535)"))?;
                if host.is_empty() {
                    return Err("empty host".into());
                }
                let host = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                Ok(Target {
                    host,
                    port,
                    path: encode_path(file),
                })
            }
            _ => Err("--get takes HOST PORT FILE, or one http:// URL".into()),
        }
    }

    fn from_url(url: &str) -> Result<Target, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => return Err(format!("only http:// URLs are supported, not {other}://")),
            None => {
                return Err(format!(
                    "{url:?} is not a URL; give HOST PORT FILE or http://HOST:PORT/FILE"
                ));
            }
        }
        let host = uri
            .host()
            .ok_or_else(|| format!("no host in {url:?}"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        Ok(Target {
            host,
            port: uri.port_u16().unwrap_or(80),
            path,
        })
    }

    /// `host:port` for messages and the Host header (IPv6 literals in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A file name as typed becomes a request target: a leading `/` is added and bytes outside
/// the URL's unreserved set (except `/`) are percent-encoded, so `my file.txt` works.
pub fn encode_path(file: &str) -> String {
    let mut out = String::from("/");
    for &b in file.trim_start_matches('/').as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether content of this type is printed (text) rather than saved (anything else).
pub fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || matches!(
            essence.as_str(),
            "application/json" | "application/javascript" | "application/xml"
        )
}

/// The file name saved content gets: the last segment of the request path, decoded, or
/// `index.html` for a directory.
pub fn save_name(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    let decoded = percent_decode(last);
    // Only a plain name in the current directory: no separators, no `.`/`..`.
    let clean: String = decoded
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        "index.html".into()
    } else {
        clean
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `HTTP/1.1 200 OK`, with the reason phrase the server sent when it sent its own.
pub fn status_line(version: http::Version, status: StatusCode, reason: Option<&[u8]>) -> String {
    let reason = reason
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .or_else(|| status.canonical_reason().map(str::to_string))
        .unwrap_or_default();
    format!("{version:?} {} {reason}", status.as_str())
        .trim_end()
        .to_string()
}

/// How `--get` ended, for the exit status.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200, content shown or saved.
    Ok,
    /// The server answered with another status.
    HttpError(u16),
}

/// A failure that ends `--get` early: one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("Connection failed: {authority} refused the connection")]
    Refused { authority: String },
    #[error("Connection failed: {authority}: {reason}")]
    Connect { authority: String, reason: String },
    #[error("Timed out after {secs} s waiting for {authority}")]
    Timeout { authority: String, secs: String },
    #[error("Connection to {authority} broke: {reason}")]
    Broken { authority: String, reason: String },
    #[error("Cannot save the content: {0}")]
    Save(String),
}

/// Runs one request, printing the seed's lines to `out`; saved files go to `save_dir`.
pub async fn run(
    target: &Target,
    timeout: Duration,
    save_dir: &Path,
    out: &mut impl Write,
) -> Result<Outcome, GetError> {
    let deadline = Deadline {
        authority: target.authority(),
        timeout,
    };
    let stream = connect(target, &deadline).await?;
    let _ = writeln!(out, "Connection: OK");
    let _ = out.flush();
    let (sender, driver, response) = send(target, stream, &deadline, out).await?;
    let reason = response
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| r.as_bytes().to_vec());
    let line = status_line(response.version(), response.status(), reason.as_deref());
    let _ = writeln!(out, "Server HTTP Response: {line}");
    let _ = out.flush();
    let status = response.status();
    let outcome = if status == StatusCode::OK {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let _ = writeln!(
            out,
            "Content-Type: {}",
            content_type.as_deref().unwrap_or("(none)")
        );
        let body = response.into_body();
        if content_type.as_deref().is_some_and(is_text) {
            print_body(body, &deadline, out).await?;
        } else {
            let (saved, size) = save_body(body, &deadline, save_dir, &target.path).await?;
            let _ = writeln!(out, "Content saved to {} ({size} bytes).", saved.display());
        }
        Outcome::Ok
    } else {
        if status == StatusCode::NOT_FOUND {
            let _ = writeln!(out, "404 Not Found");
        } else if let Some(location) = response.headers().get(header::LOCATION) {
            let _ = writeln!(
                out,
                "Location: {}",
                String::from_utf8_lossy(location.as_bytes())
            );
        }
        Outcome::HttpError(status.as_u16())
    };
    drop(sender);
    // The server closes after `Connection: close`; wait for the socket to be closed.
    let _ = tokio::time::timeout(timeout, driver).await;
    let _ = writeln!(out, "Socket closed.");
    let _ = out.flush();
    Ok(outcome)
}

/// The server's name and how long each step may take, for the errors that end `--get`.
struct Deadline {
    authority: String,
    timeout: Duration,
}

impl Deadline {
    fn timed_out(&self) -> GetError {
        GetError::Timeout {
            authority: self.authority.clone(),
            secs: format_secs(self.timeout),
        }
    }

    fn broken(&self, e: &dyn std::fmt::Display) -> GetError {
        GetError::Broken {
            authority: self.authority.clone(),
            reason: e.to_string(),
        }
    }
}

async fn connect(target: &Target, deadline: &Deadline) -> Result<TcpStream, GetError> {
    let connect = TcpStream::connect((target.host.as_str(), target.port));
    match tokio::time::timeout(deadline.timeout, connect).await {
        Err(_) => Err(deadline.timed_out()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(GetError::Refused {
            authority: deadline.authority.clone(),
        }),
        Ok(Err(e)) => Err(GetError::Connect {
            authority: deadline.authority.clone(),
            reason: e.to_string(),
        }),
        Ok(Ok(stream)) => Ok(stream),
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;
type Driver = tokio::task::JoinHandle<hyper::Result<()>>;
type Response = http::Response<hyper::body::Incoming>;

/// Sends the GET and waits for the response head, printing `Request message sent.` once the
/// request's bytes are flushed to the socket. The connection's driver task runs until the
/// server closes.
async fn send(
    target: &Target,
    stream: TcpStream,
    deadline: &Deadline,
    out: &mut impl Write,
) -> Result<(Sender, Driver, Response), GetError> {
    let (flushed_tx, mut flushed_rx) = oneshot::channel();
    let io = TokioIo::new(NotifyOnFlush {
        inner: stream,
        flushed: Some(flushed_tx),
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| deadline.broken(&e))?;
    let driver = tokio::spawn(connection);
    let request = Request::get(target.path.as_str())
        .header(header::HOST, deadline.authority.as_str())
        .header(
            header::USER_AGENT,
            concat!("p2p-tui/", env!("CARGO_PKG_VERSION")),
        )
        .header(header::ACCEPT, "*/*")
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| deadline.broken(&e))?;
    let response = sender.send_request(request);
    tokio::pin!(response);
    let mut announced = false;
    let response = tokio::time::timeout(deadline.timeout, async {
        loop {
            tokio::select! {
                r = &mut response => break r,
                _ = &mut flushed_rx, if !announced => {
                    announced = true;
                    let _ = writeln!(out, "Request message sent.");
                    let _ = out.flush();
                }
            }
        }
    })
    .await
    .map_err(|_| deadline.timed_out())?
    .map_err(|e| deadline.broken(&e))?;
    if !announced {
        let _ = writeln!(out, "Request message sent.");
    }
    Ok((sender, driver, response))
}

/// Prints a text body as it arrives, ending it with a line end.
async fn print_body(
    mut body: hyper::body::Incoming,
    deadline: &Deadline,
    out: &mut impl Write,
) -> Result<(), GetError> {
    let mut last = b'\n';
    while let Some(frame) = tokio::time::timeout(deadline.timeout, body.frame())
        .await
        .map_err(|_| deadline.timed_out())?
    {
        let frame = frame.map_err(|e| deadline.broken(&e))?;
        if let Ok(data) = frame.into_data()
            && let Some(&b) = data.last()
        {
            let _ = out.write_all(&data);
            last = b;
        }
    }
    if last != b'\n' {
        let _ = writeln!(out);
    }
    Ok(())
}

/// Saves a body under the name the URL path gives, in `dir`, never over an existing file: a
/// hidden temporary file first, renamed when whole. Returns where and how many bytes.
async fn save_body(
    mut body: hyper::body::Incoming,
    deadline: &Deadline,
    dir: &Path,
    url_path: &str,
) -> Result<(PathBuf, u64), GetError> {
    let mut file = save_builder()
        .tempfile_in(dir)
        .map_err(|e| GetError::Save(e.to_string()))?;
    let mut size = 0u64;
    while let Some(frame) = tokio::time::timeout(deadline.timeout, body.frame())
        .await
        .map_err(|_| deadline.timed_out())?
    {
        let frame = frame.map_err(|e| deadline.broken(&e))?;
        if let Ok(data) = frame.into_data() {
            file.write_all(&data)
                .map_err(|e| GetError::Save(e.to_string()))?;
            size += data.len() as u64;
        }
    }
    let saved = persist_unique(file, dir, &save_name(url_path))?;
    Ok((saved, size))
}

/// Moves the finished download to `name` in `dir`, or `name.1`, `name.2`, ... if taken: an
/// existing file is never overwritten.
fn persist_unique(
    file: tempfile::NamedTempFile,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, GetError> {
    let mut file = file;
    for n in 0..1000 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{name}.{n}"))
        };
        match file.persist_noclobber(&candidate) {
            Ok(_) => return Ok(candidate),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => file = e.file,
            Err(e) => return Err(GetError::Save(e.error.to_string())),
        }
    }
    Err(GetError::Save(format!("too many files named {name}.N")))
}

fn format_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// The socket, reporting once when a flush has completed (the request is on the wire).
struct NotifyOnFlush {
    inner: TcpStream,
    flushed: Option<oneshot::Sender<()>>,
}

impl AsyncRead for NotifyOnFlush {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for NotifyOnFlush {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        // A TCP write is on its way once the kernel has it.
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
            && let Some(tx) = self.flushed.take()
        {
            let _ = tx.send(());
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Saved files are created as curl and wget create them: 0666 less the umask (0644 by default),
/// not with a temporary file's 0600.
fn save_builder<'a>() -> tempfile::Builder<'a, 'a> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".p2p-tui-get.");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_host_port_file_and_urls() {
        let t = Target::parse(&args(&["127.0.0.1", "8080", "index.html"])).unwrap();
        assert_eq!(t.path, "/index.html");
        assert_eq!(t.authority(), "127.0.0.1:8080");
        let t = Target::parse(&args(&["::1", "80", "/a b.txt"])).unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str()), ("::1", "/a%20b.txt"));
        assert_eq!(t.authority(), "[::1]:80");
        let t = Target::parse(&args(&["http://localhost:9/docs/?x=1"])).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("localhost", 9, "/docs/?x=1")
        );
        let t = Target::parse(&args(&["http://[::1]"])).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 80, "/"));
        assert!(Target::parse(&args(&["https://x/"])).is_err());
        assert!(Target::parse(&args(&["h", "0", "f"])).is_err());
        assert!(Target::parse(&args(&["h", "http", "f"])).is_err());
        assert!(Target::parse(&args(&["h", "1"])).is_err());
    }

    #[test]
    fn text_types_are_printed_and_others_saved() {
        for t in [
            "text/html",
            "text/plain; charset=utf-8",
            "application/json",
            "image/svg+xml",
        ] {
            assert!(is_text(t), "{t}");
        }
        for t in [
            "image/png",
            "audio/mpeg",
            "video/mp4",
            "application/octet-stream",
            "",
        ] {
            assert!(!is_text(t), "{t}");
        }
    }

    #[test]
    fn saved_names_stay_in_the_directory() {
        assert_eq!(save_name("/img/network.png"), "network.png");
        assert_eq!(save_name("/a%20b.png?x=1"), "a b.png");
        assert_eq!(save_name("/docs/"), "index.html");
        assert_eq!(save_name("/x/%2e%2e"), "index.html");
        assert_eq!(save_name("/%2Fetc%2Fpasswd"), "_etc_passwd");
        assert_eq!(save_name("/100%"), "100%");
    }

    #[test]
    fn status_lines_keep_the_servers_reason() {
        assert_eq!(
            status_line(http::Version::HTTP_11, StatusCode::NOT_FOUND, None),
            "HTTP/1.1 404 Not Found"
        );
        assert_eq!(
            status_line(
                http::Version::HTTP_11,
                StatusCode::NOT_FOUND,
                Some(b"not found")
            ),
            "HTTP/1.1 404 not found"
        );
        assert_eq!(
            status_line(
                http::Version::HTTP_10,
                StatusCode::from_u16(599).unwrap(),
                None
            ),
            "HTTP/1.0 599"
        );
    }
}
