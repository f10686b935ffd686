//! `--sync ADDR`: the seed-002 synchronizer. It announces its folder's files to the tracker
//! (mtime rounded down), sends a keep-alive every 5 s, and fetches every name that the directory
//! shows as new or newer from its holder with a plain file request. Fetched files are written
//! atomically, with the directory's mtime. It serves plain file requests from its own folder and
//! re-announces when the folder changes, one message at a time. It is a daemon: when the tracker
//! goes away it reconnects with backoff until it is stopped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use color_eyre::eyre::{Result, WrapErr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::net::Acceptor;
use crate::peer::connection::Connection;
use crate::protocol::validate_file_name;
use crate::tracker::messages::{self, JsonStream, initial};
use crate::tracker::outbox::{Outbox, Outgoing};
use crate::tracker::{FileEntry, Holder};

const KEEP_ALIVE: Duration = Duration::from_secs(5);
const RESCAN: Duration = Duration::from_secs(2);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnecting to a lost tracker: the first wait, doubled each failure up to the last.
const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
const PARTIAL_DIR: &str = ".p2p-tui-partial";

pub struct SyncArgs {
    pub tracker: String,
    pub dir: PathBuf,
    pub port: u16,
}

type DirectoryView = BTreeMap<String, Holder>;

pub async fn run(args: SyncArgs, shutdown: CancellationToken) -> Result<()> {
    let dir = args.dir;
    if !dir.is_dir() {
        color_eyre::eyre::bail!("folder {} does not exist", dir.display());
    }
    let partials = dir.join(PARTIAL_DIR);
    std::fs::create_dir_all(&partials)?;
    for stale in std::fs::read_dir(&partials)? {
        std::fs::remove_file(stale?.path())?;
    }
    let tracker = TcpStream::connect(&args.tracker)
        .await
        .wrap_err_with(|| format!("cannot reach the tracker at {}", args.tracker))?;
    // Serve on the address the tracker sees us at, so the directory points at us correctly.
    let local_ip = tracker.local_addr()?.ip();
    let listener = TcpListener::bind((local_ip, args.port))
        .await
        .wrap_err("cannot open the file-serving port")?;
    let me = listener.local_addr()?;
    info!(
        "synchronizing {} through tracker {}; serving files on {me}",
        dir.display(),
        args.tracker
    );
    let (directory_tx, directory_rx) = watch::channel(DirectoryView::new());
    let dir = Arc::new(dir);
    let served = tokio::spawn(serve_files(listener, Arc::clone(&dir), shutdown.clone()));
    let fetcher = tokio::spawn(fetch_loop(
        Arc::clone(&dir),
        me,
        directory_rx,
        shutdown.clone(),
    ));
    keep_in_touch(
        tracker,
        &args.tracker,
        &dir,
        me.port(),
        directory_tx,
        &shutdown,
    )
    .await;
    let _ = tokio::join!(served, fetcher);
    Ok(())
}

/// The folder's files as announced: regular files with valid names, mtime in whole seconds.
pub fn scan(dir: &Path) -> Vec<FileEntry> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<FileEntry> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let meta = e.metadata().ok()?;
            (meta.is_file() && validate_file_name(&name).is_ok() && !name.starts_with('.')).then(
                || FileEntry {
                    name,
                    mtime: mtime_secs(&meta),
                },
            )
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

fn mtime_secs(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Stays registered with the tracker until shutdown: a lost connection (a tracker restart) is
/// re-established with backoff, and said so on stderr.
async fn keep_in_touch(
    mut tracker: TcpStream,
    addr: &str,
    dir: &Path,
    port: u16,
    directory: watch::Sender<DirectoryView>,
    shutdown: &CancellationToken,
) {
    let mut backoff = RECONNECT_MIN;
    loop {
        let mut why = session(tracker, dir, port, &directory, shutdown, &mut backoff).await;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            warn!("tracker {addr}: {why}; reconnecting in {backoff:?}");
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RECONNECT_MAX);
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    info!("reconnected to tracker {addr}");
                    tracker = stream;
                    break;
                }
                Err(e) => why = format!("cannot reach it ({e})"),
            }
        }
    }
}

/// One connection to the tracker: the initial message, keep-alives and re-announces on change,
/// one at a time (see `Outbox`); each directory response goes to the fetcher. Returns why the
/// connection ended.
async fn session(
    mut tracker: TcpStream,
    dir: &Path,
    port: u16,
    directory: &watch::Sender<DirectoryView>,
    shutdown: &CancellationToken,
    backoff: &mut Duration,
) -> String {
    let mut announced = scan(dir);
    let mut outbox = Outbox::new();
    let mut json = JsonStream::new(64 << 20);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    keep_alive.tick().await;
    let mut rescan = tokio::time::interval(RESCAN);
    loop {
        if let Some(message) = outbox.next(Instant::now()) {
            // (The synchronizer never asks for holders.)
            let bytes = match message {
                Outgoing::Announce => initial(port, &announced),
                Outgoing::KeepAlive | Outgoing::Holders(_) => messages::keep_alive(port),
            };
            if let Err(e) = tracker.write_all(&bytes).await {
                return e.to_string();
            }
        }
        let wake = outbox
            .wake_at()
            .unwrap_or_else(|| Instant::now() + KEEP_ALIVE);
        tokio::select! {
            _ = shutdown.cancelled() => return "shutting down".into(),
            _ = keep_alive.tick() => outbox.keep_alive_due(),
            _ = rescan.tick() => {
                let now = scan(dir);
                if now != announced {
                    info!(
                        "folder changed: announcing {}",
                        crate::words::counted(now.len() as u64, "file")
                    );
                    announced = now;
                    outbox.announce_due();
                }
            }
            _ = tokio::time::sleep_until(wake) => {}
            read = tracker.read_buf(json.buffer()) => match read {
                Ok(0) => return "the tracker closed the connection".into(),
                Ok(_) => loop {
                    match json.next_value() {
                        Ok(Some(value)) => {
                            outbox.replied();
                            *backoff = RECONNECT_MIN;
                            if let Ok(view) = serde_json::from_value::<DirectoryView>(value) {
                                directory.send_replace(view);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return format!("the tracker sent {e}"),
                    }
                },
                Err(e) => return e.to_string(),
            },
        }
    }
}

/// Fetches what the latest directory shows as new or newer, one file at a time.
async fn fetch_loop(
    dir: Arc<PathBuf>,
    me: SocketAddr,
    mut directory: watch::Receiver<DirectoryView>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = directory.changed() => if changed.is_err() { return },
        }
        let view = directory.borrow_and_update().clone();
        let local: BTreeMap<String, i64> =
            scan(&dir).into_iter().map(|f| (f.name, f.mtime)).collect();
        for (name, holder) in view {
            let ours = holder.port == me.port() && holder.ip == me.ip().to_string();
            let newer = local.get(&name).is_none_or(|&mtime| mtime < holder.mtime);
            if ours || !newer || validate_file_name(&name).is_err() {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                fetched = fetch(&dir, &name, &holder) => match fetched {
                    Ok(bytes) => info!("fetched {name} ({bytes} bytes, mtime {}) from {}:{}", holder.mtime, holder.ip, holder.port),
                    Err(e) => warn!("skipped {name} from {}:{}: {e}", holder.ip, holder.port),
                },
            }
        }
    }
}

/// One plain file request: name out, raw bytes in until the holder closes; written atomically
/// with the directory's mtime.
async fn fetch(dir: &Path, name: &str, holder: &Holder) -> Result<u64> {
    let addr = format!("{}:{}", holder.ip, holder.port);
    let mut stream = tokio::time::timeout(FETCH_TIMEOUT, TcpStream::connect(&addr))
        .await
        .wrap_err("connection timed out")??;
    stream.write_all(name.as_bytes()).await?;
    stream.shutdown().await?;
    // One fetch at a time per synchronizer: serial 0 is unique enough.
    let partial = dir
        .join(PARTIAL_DIR)
        .join(crate::store::partial_file_name(name, 0));
    let guard = RemoveOnDrop(partial.clone());
    let mut out = tokio::fs::File::create(&partial).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = tokio::time::timeout(FETCH_TIMEOUT, stream.read(&mut buf))
            .await
            .wrap_err("no data from the holder")??;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).await?;
        total += n as u64;
    }
    // An empty answer is the holder's "not here" (an empty file cannot be told apart).
    color_eyre::eyre::ensure!(total > 0, "the holder sent nothing");
    out.sync_all().await?;
    let out = out.into_std().await;
    let mtime = UNIX_EPOCH + Duration::from_secs(holder.mtime.max(0) as u64);
    out.set_modified(mtime)?;
    drop(out);
    std::fs::rename(&partial, dir.join(name))?;
    std::mem::forget(guard);
    Ok(total)
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Answers plain file requests from the folder.
async fn serve_files(listener: TcpListener, dir: Arc<PathBuf>, shutdown: CancellationToken) {
    // Each request is one short exchange; the cap only guards against a flood.
    let mut acceptor = Acceptor::new(listener, 256);
    while let Some((stream, addr, permit)) = acceptor.next(&shutdown).await {
        let dir = Arc::clone(&dir);
        tokio::spawn(async move {
            let mut conn = Connection::new(stream, FETCH_TIMEOUT);
            let Ok(name) = conn.read_plain_name(Duration::from_millis(300)).await else {
                return;
            };
            let path = dir.join(&name);
            let servable = validate_file_name(&name).is_ok()
                && !name.starts_with('.')
                && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
            match servable.then(|| std::fs::File::open(&path)) {
                Some(Ok(file)) => match conn.send_file(file).await {
                    Ok(sent) => info!("sent {name} ({sent} bytes) to {addr}"),
                    Err(e) => warn!("sending {name} to {addr} failed: {e}"),
                },
                _ => info!("{addr} asked for {name:?}, which is not here"),
            }
            conn.shutdown().await;
            drop(permit);
        });
    }
}

/// Seconds since the epoch, for tests and logs.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
