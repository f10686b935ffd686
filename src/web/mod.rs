//! `--web`: a static file server on hyper and tower-http's `ServeDir`, with the tracker's
//! directory at `/tracker` and `/tracker.json` when the tracker runs in the same process; `client`
//! is the seed-004 web client. May import core and tracker (the directory it shows).
//!
//! hyper owns HTTP/1.1 (parsing, keep-alive, 400/431 on bad requests, the header timeout);
//! `ServeDir` owns files (content types, Range, conditional requests, index.html, refusing paths
//! that leave the root). This module wires them up, adds the HTML error pages and logs each
//! request. `ServeDir` reads files through [`cache::CachedFs`], which keeps small files in
//! memory and spares cached requests the trips to tokio's blocking pool; a whole cached file
//! goes out as one body without a copy, large ones with `sendfile` ([`zero_copy`]); the access
//! log is written by a thread of its own ([`access_log`]).

pub mod access_log;
pub mod cache;
pub mod client;
pub mod pages;
mod slots;
pub mod zero_copy;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::core::net::{Acceptor, AddressCap};

/// What a client over its address's connection cap reads before the close.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 39\r\nRetry-After: 1\r\nConnection: close\r\n\r\nToo many connections from your address\n";
/// What a client reads before the close when the process is at its connection capacity.
const SERVER_BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 34\r\nRetry-After: 1\r\nConnection: close\r\n\r\nServer busy: too many connections\n";
use crate::tracker::Tracker;
use cache::{CachedFs, FileCache};
use slots::{Slots, Tenant};

pub type Body = UnsyncBoxBody<Bytes, io::Error>;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The directory served.
    pub root: PathBuf,
    /// A client that has not sent a whole request head within this time is disconnected.
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// Connections one client address may hold (`--max-per-address`); `None`: an eighth of
    /// `max_connections`, loopback exempt (see `net`).
    pub max_per_address: Option<usize>,
    /// Largest request head accepted (hyper answers 431 beyond it).
    pub max_head_bytes: usize,
    /// Files of at most this many bytes are kept in memory...
    pub cache_max_file: u64,
    /// ...up to this many bytes in all (0: no cache).
    pub cache_capacity: u64,
}

impl WebConfig {
    pub fn new(root: PathBuf) -> WebConfig {
        WebConfig {
            root,
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_per_address: None,
            max_head_bytes: 16 * 1024,
            cache_max_file: 4 << 20,
            cache_capacity: 64 << 20,
        }
    }
}

/// The directory `--web` serves: `--www DIR` if given, else `./assets/www`, else the one
/// shipped with the source.
pub fn locate_root(dir: Option<PathBuf>) -> color_eyre::eyre::Result<PathBuf> {
    use color_eyre::eyre::eyre;
    if let Some(d) = dir {
        return if d.is_dir() {
            Ok(d)
        } else {
            Err(eyre!("--www {} is not a directory", d.display()))
        };
    }
    [
        PathBuf::from("assets/www"),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/www"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
    .ok_or_else(|| eyre!("no assets/www directory found (use --www DIR)"))
}

/// Everything a request can reach.
struct Site {
    files: ServeDir<tower_http::services::fs::DefaultServeDirFallback, CachedFs>,
    tracker: Option<Arc<Tracker>>,
}

const SERVER: &str = concat!("p2p-tui/", env!("CARGO_PKG_VERSION"));
/// How often `/tracker` reloads itself.
const TRACKER_REFRESH_SECS: u32 = 2;

/// Serves `config.root` (and the tracker's pages if `tracker` is given) until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: WebConfig,
    tracker: Option<Arc<Tracker>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let site = Arc::new(Site {
        files: ServeDir::with_backend(
            &config.root,
            CachedFs(FileCache::new(config.cache_max_file, config.cache_capacity)),
        )
        // Files beyond the cache are read in 256 KiB chunks: a quarter of the trips to the
        // blocking pool that the 64 KiB default takes.
        .with_buf_chunk_size(256 << 10),
        tracker,
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_head_bytes.max(8192))
        .keep_alive(true);
    // Room for the extra waiting client within the process's capacity (see `net::capacity`).
    let room = crate::core::net::capacity::capacity()
        .connections
        .saturating_sub(1);
    let slots = Slots::new(config.max_connections.min(room));
    // The connections, also tracked by `tasks`: to know when the last one is done.
    let connections = TaskTracker::new();
    let mut acceptor = Acceptor::new(listener, slots.accept_cap())
        .with_address_cap(AddressCap::chosen(
            config.max_per_address,
            config.max_connections,
        ))
        .with_refusal(TOO_MANY_CONNECTIONS)
        .with_busy_refusal(SERVER_BUSY);
    while let Some((stream, client, permit)) = acceptor.next(&shutdown).await {
        let _ = stream.set_nodelay(true);
        let tenant = Arc::new(slots.admit());
        let site = Arc::clone(&site);
        let slots = Arc::clone(&slots);
        let shutdown = shutdown.clone();
        let http = http.clone();
        let stall_timeout = config.header_timeout * 3;
        tasks.spawn(connections.track_future(async move {
            let _permit = permit;
            let served = Arc::clone(&tenant);
            let sends = Arc::new(zero_copy::Sends::default());
            let expected = Arc::clone(&sends);
            let service = hyper::service::service_fn(move |req| {
                let site = Arc::clone(&site);
                let tenant = Arc::clone(&served);
                let sends = Arc::clone(&expected);
                async move { Ok::<_, Infallible>(site.respond(req, client, tenant, &sends).await) }
            });
            let progress = Progress::default();
            let io = Watched {
                inner: stream,
                progress: progress.clone(),
                sends,
            };
            let conn = http.serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = progress.stalled(stall_timeout) => {
                    tracing::info!("{client} connection closed: no progress for {stall_timeout:?}");
                    Ok(())
                }
                _ = tenant.evicted.cancelled() => {
                    tracing::info!(
                        "{client} connection closed: idle, to admit another client ({} open)",
                        slots.open()
                    );
                    if tenant.in_request() || progress.unflushed() {
                        // A request arrived meanwhile, or the last response is still on its
                        // way out: let it finish, then close.
                        conn.as_mut().graceful_shutdown();
                        tokio::time::timeout(stall_timeout, conn.as_mut())
                            .await
                            .unwrap_or(Ok(()))
                    } else {
                        Ok(())
                    }
                }
                _ = shutdown.cancelled() => {
                    // Let a response in progress finish, briefly.
                    conn.as_mut().graceful_shutdown();
                    tokio::time::timeout(Duration::from_secs(2), conn.as_mut())
                        .await
                        .unwrap_or(Ok(()))
                }
            };
            if let Err(e) = result {
                // Bad requests (hyper has already answered 400 or 431), header timeouts and
                // clients that left mid-response.
                tracing::info!("{client} connection closed: {e}");
            }
        }));
    }
    // Once every connection has finished, every access line is on stderr.
    connections.close();
    connections.wait().await;
    tokio::task::spawn_blocking(access_log::flush).await.ok();
}

/// Whether the answer to `req` should close the connection: a client that sent no `Host` (the
/// seed's classroom client: it reads until the server closes) or speaks HTTP/1.0 without asking
/// for keep-alive. hyper closes after a `Connection: close` response.
fn closes_after(req: &Request<Incoming>) -> bool {
    let asks_keep_alive = req
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("keep-alive"));
    !req.headers().contains_key(header::HOST)
        || (req.version() == Version::HTTP_10 && !asks_keep_alive)
}

/// Marks its connection idle again when hyper drops the response body (it has all been handed
/// to the connection's write buffer).
struct IdleOnDrop(Arc<Tenant>);

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        self.0.idle();
    }
}

impl Site {
    async fn respond(
        &self,
        req: Request<Incoming>,
        client: SocketAddr,
        tenant: Arc<Tenant>,
        sends: &zero_copy::Sends,
    ) -> Response<Body> {
        tenant.busy();
        let started = Instant::now();
        // What the access line needs from the request, if it is wanted.
        let logged = access_log::enabled()
            .then(|| (req.method().clone(), req.uri().to_string(), req.version()));
        let close = closes_after(&req);
        let mut response = self.route(req, sends).await;
        response
            .headers_mut()
            .insert(header::SERVER, HeaderValue::from_static(SERVER));
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some((method, target, version)) = logged {
            let bytes = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            access_log::write(&pages::access_line(
                &client.to_string(),
                method.as_str(),
                &target,
                &format!("{version:?}"),
                response.status().as_u16(),
                bytes,
                started.elapsed(),
            ));
        }
        let guard = IdleOnDrop(tenant);
        response.map(move |body| {
            body.map_frame(move |frame| {
                let _keep = &guard;
                frame
            })
            .boxed_unsync()
        })
    }

    async fn route(&self, req: Request<Incoming>, sends: &zero_copy::Sends) -> Response<Body> {
        if let Some(tracker) = &self.tracker {
            let page = match req.uri().path() {
                "/tracker" | "/tracker/" => Some(false),
                "/tracker.json" => Some(true),
                _ => None,
            };
            if let Some(json) = page {
                if req.method() != Method::GET && req.method() != Method::HEAD {
                    return method_not_allowed(req.method());
                }
                let view = tracker.directory().view(Instant::now());
                return if json {
                    full(
                        StatusCode::OK,
                        "application/json",
                        pages::tracker_json(&view),
                    )
                } else {
                    let mut r = full(
                        StatusCode::OK,
                        "text/html; charset=utf-8",
                        pages::tracker_html(&view, TRACKER_REFRESH_SECS),
                    );
                    r.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                };
            }
        }
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (response, memory) = cache::with_memory_body(self.files.clone().oneshot(req)).await;
        let response = match response {
            Ok(r) => r,
            Err(never) => match never {},
        };
        // A whole file from memory: sent as it is, one frame and no copy, rather than
        // copied out by ServeDir in chunks (a range or a HEAD keeps ServeDir's body); a sealed
        // copy leaves by `sendfile`.
        if let Some(memory) = memory
            && response.status() == StatusCode::OK
            && method == Method::GET
            && response.headers().get(header::CONTENT_LENGTH)
                == Some(&HeaderValue::from(memory.bytes.len()))
        {
            if let Some(sealed) = memory.sealed {
                sends.expect(sealed);
            }
            return response.map(|_| {
                Full::new(memory.bytes)
                    .map_err(|never| match never {})
                    .boxed_unsync()
            });
        }
        match response.status() {
            // ServeDir answers these with an empty body; people get a page.
            // A name longer than any file system allows cannot be a file here; ServeDir
            // reports the open's ENAMETOOLONG as a 500.
            StatusCode::INTERNAL_SERVER_ERROR if name_too_long(&path) => full(
                StatusCode::NOT_FOUND,
                "text/html; charset=utf-8",
                pages::not_found(&path),
            ),
            StatusCode::NOT_FOUND => {
                // (For HEAD, hyper sends these headers and leaves the body out.)
                full(
                    StatusCode::NOT_FOUND,
                    "text/html; charset=utf-8",
                    pages::not_found(&path),
                )
            }
            StatusCode::METHOD_NOT_ALLOWED => method_not_allowed(&method),
            _ => response.map(|b| b.boxed_unsync()),
        }
    }
}

/// Whether the URL path `path` names a file no file system could hold: a segment of more than
/// 255 bytes or a whole of more than 4095 once percent-decoded (each `%XX` is one byte).
fn name_too_long(path: &str) -> bool {
    let decoded = |s: &str| s.len().saturating_sub(2 * s.matches('%').count());
    decoded(path) > 4095 || path.split('/').any(|segment| decoded(segment) > 255)
}

fn method_not_allowed(method: &Method) -> Response<Body> {
    let mut r = full(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/html; charset=utf-8",
        pages::method_not_allowed(method.as_str()),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

fn full(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let length = HeaderValue::from(body.len());
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CONTENT_LENGTH, length);
    r
}

/// When a connection last moved a byte either way.
#[cfg(test)]
mod tests {
    use super::name_too_long;

    #[test]
    fn names_too_long_for_a_file_system() {
        assert!(!name_too_long("/docs/index.html"));
        assert!(!name_too_long(&format!("/{}", "a".repeat(255))));
        assert!(name_too_long(&format!("/{}", "a".repeat(256))));
        // Percent-encoded bytes count once.
        assert!(!name_too_long(&format!("/{}", "%c3%a9".repeat(127))));
        assert!(name_too_long(&format!("/{}", "%c3%a9".repeat(128))));
        assert!(name_too_long(&"/a".repeat(2048)));
    }
}

#[derive(Clone)]
struct Progress {
    started: Instant,
    last_ms: Arc<std::sync::atomic::AtomicU64>,
    /// hyper has written since it last flushed: it may hold bytes not yet in the socket.
    unflushed: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Instant::now(),
            last_ms: Arc::default(),
            unflushed: Arc::default(),
        }
    }
}

impl Progress {
    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    fn set_unflushed(&self, unflushed: bool) {
        self.unflushed
            .store(unflushed, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a response may still be partly in hyper's buffer (it ends every write with a
    /// flush).
    fn unflushed(&self) -> bool {
        self.unflushed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Resolves once nothing has moved for `limit`: a client that stopped reading a response
    /// (hyper's header timeout covers one that stops sending).
    async fn stalled(&self, limit: Duration) {
        loop {
            let last =
                Duration::from_millis(self.last_ms.load(std::sync::atomic::Ordering::Relaxed));
            let idle = self.started.elapsed().saturating_sub(last);
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// The client's socket, noting progress in `progress`.
struct Watched {
    inner: tokio::net::TcpStream,
    progress: Progress,
    /// Whole cached files in the responses being written, sent from their sealed copies.
    sends: Arc<zero_copy::Sends>,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.progress.touch();
        }
        r
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        self.progress.set_unflushed(true);
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.progress.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        self.progress.set_unflushed(true);
        let this = &mut *self;
        let r = match this.sends.poll_write_vectored(&this.inner, cx, bufs) {
            Some(r) => r,
            None => std::pin::Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
        };
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.progress.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(r, std::task::Poll::Ready(Ok(()))) {
            self.progress.set_unflushed(false);
        }
        r
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
