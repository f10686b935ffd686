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
mod site;
mod slots;
pub mod zero_copy;

use std::path::PathBuf;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::net::{Acceptor, AddressCap};
use connection::Connection;
use site::Site;
pub use site::WebConfig;

/// What a client over its address's connection cap reads before the close.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 39\r\nRetry-After: 1\r\nConnection: close\r\n\r\nToo many connections from your address\n";
/// What a client reads before the close when the process is at its connection capacity.
const SERVER_BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 34\r\nRetry-After: 1\r\nConnection: close\r\n\r\nServer busy: too many connections\n";
use crate::tracker::Tracker;
use slots::Slots;

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
