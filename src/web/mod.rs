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
mod connection;
pub mod pages;
mod routes;
mod slots;
pub mod zero_copy;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, Version};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use crate::core::net::{Acceptor, AddressCap};
use connection::Connection;

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
    let site = Arc::new(Site::new(&config, tracker));
    let http = http_builder(&config);
    // Room for the extra waiting client within the process's capacity (see `net::capacity`).
    let room = crate::core::net::capacity::capacity()
        .connections
        .saturating_sub(1);
    let slots = Slots::new(config.max_connections.min(room));
    // The connections, also tracked by `tasks`: to know when the last one is done.
    let connections = TaskTracker::new();
    let mut acceptor = acceptor(listener, &config, &slots);
    while let Some((stream, client, permit)) = acceptor.next(&shutdown).await {
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            tenant: Arc::new(slots.admit()),
            site: Arc::clone(&site),
            slots: Arc::clone(&slots),
            http: http.clone(),
            shutdown: shutdown.clone(),
            client,
            stall_timeout: config.header_timeout * 3,
        };
        tasks.spawn(connections.track_future(async move {
            let _permit = permit;
            connection.run(stream).await;
        }));
    }
    // Once every connection has finished, every access line is on stderr.
    connections.close();
    connections.wait().await;
    tokio::task::spawn_blocking(access_log::flush).await.ok();
}

fn http_builder(config: &WebConfig) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_head_bytes.max(8192))
        .keep_alive(true);
    http
}

/// Accepts up to the slots' cap, refusing clients over their address's cap or over capacity.
fn acceptor(listener: TcpListener, config: &WebConfig, slots: &Slots) -> Acceptor {
    Acceptor::new(listener, slots.accept_cap())
        .with_address_cap(AddressCap::chosen(
            config.max_per_address,
            config.max_connections,
        ))
        .with_refusal(TOO_MANY_CONNECTIONS)
        .with_busy_refusal(SERVER_BUSY)
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
    fn new(config: &WebConfig, tracker: Option<Arc<Tracker>>) -> Site {
        Site {
            files: ServeDir::with_backend(
                &config.root,
                CachedFs(FileCache::new(config.cache_max_file, config.cache_capacity)),
            )
            // Files beyond the cache are read in 256 KiB chunks: a quarter of the trips to the
            // blocking pool that the 64 KiB default takes.
            .with_buf_chunk_size(256 << 10),
            tracker,
        }
    }

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
}
