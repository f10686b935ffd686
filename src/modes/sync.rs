//! `--sync ADDR`: the seed-002 synchronizer. It announces its folder's files to the tracker
//! (mtime rounded down), sends a keep-alive every 5 s, and fetches every name that the directory
//! shows as new or newer from its holder with a plain file request. Fetched files are written
//! atomically, with the directory's mtime. It serves plain file requests from its own folder and
//! re-announces when the folder changes, one message at a time. It is a daemon: when the tracker
//! goes away it reconnects with jittered backoff until it is stopped.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use color_eyre::eyre::{Result, WrapErr};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::cli::DirFlag;
use crate::core::net::Acceptor;
use crate::core::protocol::validate_file_name;
use crate::core::shutdown;
use crate::core::signals::Signals;
use crate::core::store::PARTIAL_DIR;
use crate::peer::connection::Connection;
use crate::peer::transfer::plain::{self, Answered};
use crate::tracker::announce::{self, DirectoryView, Member};
use crate::tracker::reconnect::Reconnect;
use crate::tracker::{FileEntry, Holder};

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SyncArgs {
    pub tracker: String,
    pub dir: PathBuf,
    pub port: u16,
}

/// `--sync ADDR`, until a signal.
pub async fn start(
    tracker: String,
    port: Option<u16>,
    dir: DirFlag,
    signals: Signals,
) -> Result<()> {
    crate::core::logging::init_stderr("info");
    let args = SyncArgs {
        tracker,
        dir: dir.dir.unwrap_or_else(|| ".".into()),
        port: port.unwrap_or(0),
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(signals.cancel_on_signal(shutdown.clone()));
    run(args, shutdown).await
}

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
    let listener = crate::core::net::capacity::listen((local_ip, args.port))
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
    let tasks = TaskTracker::new();
    tasks.spawn(serve_files(
        listener,
        Arc::clone(&dir),
        shutdown.clone(),
        tasks.clone(),
    ));
    tasks.spawn(fetch_loop(
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
    // Every task ends on the shutdown: the server, the fetcher, and each file being sent.
    shutdown::finish(&shutdown, &tasks).await;
    Ok(())
}

/// The folder's files as announced: regular files with valid names that are not hidden, mtime
/// in whole seconds.
pub fn scan(dir: &Path) -> Vec<FileEntry> {
    let scan = crate::core::folder::scan_folder(dir).unwrap_or_default();
    scan.files
        .into_iter()
        .filter(|f| !f.name.starts_with('.'))
        .map(|f| FileEntry {
            name: f.name,
            mtime: f.mtime,
        })
        .collect()
}

/// Stays registered with the tracker until shutdown: a lost connection (a tracker restart) is
/// re-established with the members' jittered backoff (see `tracker::reconnect`), and said so
/// on stderr.
async fn keep_in_touch(
    tracker: TcpStream,
    addr: &str,
    dir: &Path,
    port: u16,
    directory: watch::Sender<DirectoryView>,
    shutdown: &CancellationToken,
) {
    let mut reconnect = Reconnect::with_connection(addr, tracker);
    let mut first = true;
    while let Some(stream) = reconnect.connect(shutdown).await {
        if !first {
            reconnect.say_reconnected();
        }
        first = false;
        let ended = session(stream, dir, port, &directory, shutdown).await;
        reconnect.ended(&ended.why, ended.replied, shutdown);
    }
}

/// One connection to the tracker (see `announce::session`); each directory goes to the
/// fetcher.
async fn session(
    tracker: TcpStream,
    dir: &Path,
    port: u16,
    directory: &watch::Sender<DirectoryView>,
    shutdown: &CancellationToken,
) -> announce::Ended {
    let dir = dir.to_path_buf();
    let files: announce::FolderScanner = Arc::new(move || scan(&dir));
    let mut fetch_from = |view| {
        directory.send_replace(view);
    };
    let member = Member {
        port,
        files,
        directory: &mut fetch_from,
        queries: None,
    };
    announce::session(tracker, member, shutdown).await
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

/// One plain file request, written atomically with the directory's mtime (an older copy is
/// replaced).
async fn fetch(dir: &Path, name: &str, holder: &Holder) -> Result<u64> {
    let addr = format!("{}:{}", holder.ip, holder.port);
    // One fetch at a time per synchronizer: serial 0 is unique enough.
    let partial = dir
        .join(PARTIAL_DIR)
        .join(crate::core::store::partial_file_name(name, 0));
    let guard = RemoveOnDrop(partial.clone());
    let mut out = std::fs::File::create(&partial)?;
    let total = plain::request(&addr, name, FETCH_TIMEOUT, FETCH_TIMEOUT, |_, bytes| {
        out.write_all(bytes)
    })
    .await?;
    out.sync_all()?;
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
async fn serve_files(
    listener: TcpListener,
    dir: Arc<PathBuf>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    // Each request is one short exchange; the cap only guards against a flood.
    let mut acceptor = Acceptor::new(listener, 256);
    while let Some((stream, addr, permit)) = acceptor.next(&shutdown).await {
        let dir = Arc::clone(&dir);
        tasks.spawn(async move {
            let mut conn = Connection::new(stream, FETCH_TIMEOUT);
            let open = |name: &str| {
                let path = dir.join(name);
                let servable = validate_file_name(name).is_ok()
                    && !name.starts_with('.')
                    && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
                servable.then(|| std::fs::File::open(&path).ok()).flatten()
            };
            match plain::answer(&mut conn, open).await {
                Answered::Sent { name, bytes } => info!("sent {name} ({bytes} bytes) to {addr}"),
                Answered::NotHere { name } => {
                    info!("{addr} asked for {name:?}, which is not here")
                }
                Answered::Failed { name, why } => warn!("sending {name} to {addr} failed: {why}"),
            }
            drop(permit);
        });
    }
}
