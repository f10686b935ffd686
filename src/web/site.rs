//! What a request can reach (the files, the tracker's pages) and how each answer is finished:
//! the `Server` header, closing after a classroom client, the access line, marking the
//! connection idle once the body is handed over. `routes` picks the answer.

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
use tower_http::services::ServeDir;

use super::cache::{CachedFs, FileCache};
use super::slots::Tenant;
use super::{access_log, pages, zero_copy};
use crate::tracker::Tracker;

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

/// Everything a request can reach.
pub(super) struct Site {
    pub(super) files: ServeDir<tower_http::services::fs::DefaultServeDirFallback, CachedFs>,
    pub(super) tracker: Option<Arc<Tracker>>,
}

const SERVER: &str = concat!("p2p-tui/", env!("CARGO_PKG_VERSION"));
/// How often `/tracker` reloads itself.
pub(super) const TRACKER_REFRESH_SECS: u32 = 2;

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
    pub(super) fn new(config: &WebConfig, tracker: Option<Arc<Tracker>>) -> Site {
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

    pub(super) async fn respond(
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
