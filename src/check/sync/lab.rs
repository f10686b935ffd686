//! One `--check-sync` case's laboratory: a temporary folder with the case's local files (their
//! mtimes set), the played tracker and file servers, and the synchronizer under test started in
//! that folder, in a process group of its own. Dropping the lab stops all of it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::causes;
use super::play::{self, PlayedServer, PlayedTracker, Serve};
use crate::check::lab::{bounded_lines, describe_exit, spawn_program};
use crate::check::wire::{Checked, Ctx, STDERR_LINE, escape_line, fail};

/// How the synchronizer is named in the journal (`s | its stdout line`).
pub const SYNC: &str = "s";

/// Synchronizers are started at least this far apart, unless the one before has sent its
/// first message sooner (see `SyncLab::start`).
pub const START_GAP: Duration = Duration::from_secs(1);

/// A local file: name, bytes, mtime in seconds and nanoseconds.
pub type Local<'a> = (&'a str, &'a [u8], i64, u32);

pub struct SyncLab {
    dir: tempfile::TempDir,
    token: CancellationToken,
    _stop: DropGuard,
    pub tracker: Option<PlayedTracker>,
    process: Option<Running>,
}

impl SyncLab {
    pub fn new(local: &[Local<'_>]) -> Checked<SyncLab> {
        let dir = tempfile::tempdir().or_else(|e| fail(format!("temporary directory: {e}")))?;
        for (name, bytes, secs, nanos) in local {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).or_else(|e| fail(format!("cannot write {name}: {e}")))?;
            set_mtime(&path, *secs, *nanos)?;
        }
        let token = CancellationToken::new();
        Ok(SyncLab {
            dir,
            _stop: token.clone().drop_guard(),
            token,
            tracker: None,
            process: None,
        })
    }

    /// A played file server (`name` in the journal).
    pub async fn server(&self, ctx: &Ctx, name: &str, serve: Serve) -> Checked<PlayedServer> {
        play::file_server(ctx, name, serve, self.token.clone()).await
    }

    /// Starts the played tracker answering with `directory`, then the synchronizer: one at a
    /// time (`gate`), the next once this one has sent its first message or `START_GAP` has
    /// passed. Classroom synchronizers pick their serving port by trying ports from 8000 up and
    /// binding later; nine started in the same instant would take the same port, a failure of
    /// the checker's own making.
    pub async fn start(
        &mut self,
        ctx: &Ctx,
        command: &[String],
        directory: Value,
        gate: &tokio::sync::Mutex<()>,
    ) -> Checked {
        let tracker = play::tracker(ctx, directory, self.token.clone()).await?;
        let command = with_tracker(command, tracker.port);
        self.tracker = Some(tracker);
        let _turn = gate.lock().await;
        self.process = Some(Running::start(ctx, &command, self.dir.path())?);
        self.wait_until(ctx, START_GAP, |l| !l.messages().is_empty())
            .await;
        Ok(())
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(name)).ok()
    }

    /// A file's mtime in whole seconds.
    pub fn mtime(&self, name: &str) -> Option<i64> {
        let modified = std::fs::metadata(self.path(name)).ok()?.modified().ok()?;
        let secs = modified.duration_since(UNIX_EPOCH).ok()?.as_secs();
        i64::try_from(secs).ok()
    }

    /// The messages the played tracker has received so far.
    pub fn messages(&self) -> Vec<(tokio::time::Instant, Value)> {
        self.tracker
            .as_ref()
            .and_then(|t| t.seen.lock().ok().map(|s| s.messages.clone()))
            .unwrap_or_default()
    }

    /// Waits (checking every 50 ms) until `done` holds or `deadline` passes; whether it held.
    /// A synchronizer that exits meanwhile is noted as the cause of what the case then misses.
    pub async fn wait_until(
        &mut self,
        ctx: &Ctx,
        deadline: Duration,
        done: impl Fn(&SyncLab) -> bool,
    ) -> bool {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            if done(self) {
                return true;
            }
            if let Some(process) = self.process.as_mut() {
                process.notice_exit(ctx).await;
            }
            if tokio::time::Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `{host}`, `{port}` and `{addr}` in the command name the played tracker; a command without
/// them gets its host and port appended (the seed's `python fileSynchronizer.py trackerIP
/// trackerPort`).
pub fn with_tracker(command: &[String], port: u16) -> Vec<String> {
    let names = |arg: &str| {
        ["{host}", "{port}", "{addr}"]
            .iter()
            .any(|p| arg.contains(p))
    };
    let mut out: Vec<String> = command
        .iter()
        .map(|arg| {
            arg.replace("{addr}", &format!("127.0.0.1:{port}"))
                .replace("{host}", "127.0.0.1")
                .replace("{port}", &port.to_string())
        })
        .collect();
    if !command.iter().any(|arg| names(arg)) {
        out.extend(["127.0.0.1".to_string(), port.to_string()]);
    }
    out
}

fn set_mtime(path: &Path, secs: i64, nanos: u32) -> Checked {
    let at = UNIX_EPOCH + Duration::new(u64::try_from(secs).unwrap_or(0), nanos);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(at))
        .or_else(|e| fail(format!("cannot set the mtime of {}: {e}", path.display())))
}

/// Now, in whole seconds.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// A directory entry for a played server.
pub fn entry(port: u16, mtime: i64) -> Value {
    json!({"ip": "127.0.0.1", "port": port, "mtime": mtime})
}

/// The synchronizer under test. Dropping it kills its process group.
struct Running {
    child: Child,
    group: Option<Pid>,
    exited: bool,
}

impl Running {
    fn start(ctx: &Ctx, command: &[String], dir: &Path) -> Checked<Running> {
        if command.is_empty() {
            return fail("no synchronizer command given");
        }
        ctx.note(format!("{SYNC} started: {}", command.join(" ")));
        let (mut child, group) = spawn_program(command, &[], dir, Stdio::null(), "synchronizer")?;
        if let Some(stdout) = child.stdout.take() {
            spawn_lines(stdout, ctx.clone(), false);
        }
        if let Some(stderr) = child.stderr.take() {
            spawn_lines(stderr, ctx.clone(), true);
        }
        Ok(Running {
            child,
            group,
            exited: false,
        })
    }

    /// If it has exited, records that as a cause (once), after letting its last stderr lines
    /// arrive.
    async fn notice_exit(&mut self, ctx: &Ctx) {
        if self.exited {
            return;
        }
        if let Ok(Some(status)) = self.child.try_wait() {
            self.exited = true;
            tokio::time::sleep(ctx.grace.min(Duration::from_millis(300))).await;
            let status = describe_exit(status);
            ctx.note(format!("{SYNC} (the synchronizer {status})"));
            ctx.cause(causes::EXITED, format!("the synchronizer {status}"));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(group) = self.group {
            // ESRCH when nothing of it is left: nothing to do.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// Its stdout lines go into the journal; its stderr lines too, and into the case's kept stderr.
fn spawn_lines<R>(reader: R, ctx: Ctx, stderr: bool)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(256);
    tokio::spawn(bounded_lines(reader, STDERR_LINE, tx));
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if stderr {
                // Shown under the case, not in its exchange.
                ctx.stderr_line(&line);
            } else {
                ctx.note(format!("{SYNC} | {}", escape_line(&line)));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tracker_is_named_by_placeholders_or_appended() {
        let seed = ["python3".to_string(), "fileSynchronizer.py".to_string()];
        assert_eq!(with_tracker(&seed, 9)[2..], ["127.0.0.1", "9"]);
        let ours = ["p2p-tui", "--sync", "{addr}"].map(String::from);
        assert_eq!(with_tracker(&ours, 9), ["p2p-tui", "--sync", "127.0.0.1:9"]);
        let split = ["x", "-h", "{host}", "-p", "{port}"].map(String::from);
        assert_eq!(with_tracker(&split, 9), ["x", "-h", "127.0.0.1", "-p", "9"]);
    }
}
