//! The client checker's laboratory: a temporary peer layout (peer_settings.txt, p1/served_files/)
//! with played servers, the client under test started in p1/, fed one command on stdin, and its
//! terminal lines collected. Everything stops when the lab and the client are dropped: the played
//! servers and the client's whole process group.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::causes;
use super::play::{self, Behaviour, Seen};
use super::wire::{Checked, Ctx, STDERR_LINE, escape_line, fail};

/// The peer whose client is under test.
pub const ME: &str = "p1";

pub struct Lab {
    dir: tempfile::TempDir,
    pub seen: HashMap<String, Arc<Mutex<Seen>>>,
    command: Vec<String>,
    _stop: DropGuard,
}

impl Lab {
    /// Servers by peer ID (`None`: offline) and the files in p1/served_files/.
    pub async fn new(
        ctx: &Ctx,
        command: &[String],
        servers: Vec<(&str, Option<Behaviour>)>,
        local: &[(&str, &[u8])],
    ) -> Checked<Lab> {
        let stop = CancellationToken::new();
        let dir = tempfile::tempdir().or_else(|e| fail(format!("temporary directory: {e}")))?;
        let mut settings = format!("{ME} 127.0.0.1 {}\n", free_port().await?);
        let mut seen = HashMap::new();
        for (id, behaviour) in servers {
            let port = match behaviour {
                Some(b) => {
                    let tap = play::Tap {
                        ctx: ctx.clone(),
                        peer: id.to_string(),
                    };
                    let played = play::start(b, stop.clone(), tap)
                        .await
                        .or_else(|e| fail(format!("cannot play server {id}: {e}")))?;
                    seen.insert(id.to_string(), played.seen);
                    played.port
                }
                None => free_port().await?,
            };
            settings.push_str(&format!("{id} 127.0.0.1 {port}\n"));
        }
        let lab = Lab {
            dir,
            seen,
            command: command.to_vec(),
            _stop: stop.drop_guard(),
        };
        let served = lab.served_dir();
        let write = |path: PathBuf, bytes: &[u8]| {
            std::fs::write(&path, bytes)
                .or_else(|e| fail(format!("cannot write {}: {e}", path.display())))
        };
        std::fs::create_dir_all(&served).or_else(|e| fail(format!("served_files: {e}")))?;
        write(
            lab.dir.path().join("peer_settings.txt"),
            settings.as_bytes(),
        )?;
        write(
            lab.peer_dir().join("peer_settings.txt"),
            settings.as_bytes(),
        )?;
        for (name, bytes) in local {
            write(served.join(name), bytes)?;
        }
        Ok(lab)
    }

    pub fn peer_dir(&self) -> PathBuf {
        self.dir.path().join(ME)
    }

    pub fn served_dir(&self) -> PathBuf {
        self.peer_dir().join("served_files")
    }

    pub fn served(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.served_dir().join(name)).ok()
    }

    /// Names in p1/served_files/ (partial files left there show up here).
    pub fn served_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.served_dir())
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Runs the client with `input` on its stdin until every `expected` line has been printed
    /// (then `ctx.grace` more for extra lines) or `deadline` passes; returns its lines, prompts
    /// and the echoed command removed.
    pub async fn run(
        &self,
        ctx: &Ctx,
        input: &str,
        expected: &[String],
        deadline: Duration,
    ) -> Checked<Vec<String>> {
        let mut client = self.start(ctx, input).await?;
        client
            .wait_for(
                ctx,
                |got| super::lines::missing(expected, got).is_empty(),
                deadline,
            )
            .await;
        let exited = client.exited;
        let got = client.finish(ctx).await;
        if exited && !super::lines::missing(expected, &got).is_empty() {
            return fail(format!(
                "for \"{input}\" the client exited before printing {} of the seed's lines, e.g. \"{}\"",
                super::lines::missing(expected, &got).len(),
                super::lines::missing(expected, &got)[0]
            ));
        }
        Ok(got)
    }

    /// Starts the client in p1/, in a process group of its own (so a client started through a
    /// shell or that starts helpers is stopped whole), and writes `input` on its stdin.
    pub async fn start(&self, ctx: &Ctx, input: &str) -> Checked<Client> {
        let dir = self.peer_dir();
        let (mut child, group) = spawn_program(&self.command, &[], &dir, Stdio::piped(), "client")?;
        let (tx, rx) = mpsc::channel(1024);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(bounded_lines(stdout, STDOUT_LINE, tx));
        }
        let stderr = child.stderr.take().map(|stderr| {
            let ctx = ctx.clone();
            let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
            tokio::spawn(async move {
                let keep = async {
                    while let Some(line) = rx.recv().await {
                        ctx.stderr_line(&line);
                    }
                };
                tokio::join!(bounded_lines(stderr, STDERR_LINE, tx), keep);
            })
        });
        let mut stdin = child.stdin.take();
        if let Some(stdin) = stdin.as_mut() {
            ctx.note(format!("stdin > {input}"));
            let _ = stdin.write_all(format!("{input}\n").as_bytes()).await;
            let _ = stdin.flush().await;
        }
        Ok(Client {
            child,
            group,
            stdin,
            lines: rx,
            stderr,
            got: Vec::new(),
            input: input.to_string(),
            exited: false,
        })
    }
}

/// The client under test, running. Dropping it kills its whole process group.
pub struct Client {
    child: Child,
    group: Option<Pid>,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Vec<u8>>,
    /// Reads its stderr into the case's journal; done when the client and what it started
    /// have exited.
    stderr: Option<JoinHandle<()>>,
    /// Its lines so far, prompts and the echoed command removed.
    pub got: Vec<String>,
    input: String,
    /// Its output has ended: it exited (or closed its stdout).
    pub exited: bool,
}

impl Client {
    /// Collects lines until `done` holds for them or `deadline` passes; whether `done` held.
    pub async fn wait_for(
        &mut self,
        ctx: &Ctx,
        done: impl Fn(&[String]) -> bool,
        deadline: Duration,
    ) -> bool {
        let end = tokio::time::Instant::now() + deadline;
        while !done(&self.got) {
            match tokio::time::timeout_at(end, self.lines.recv()).await {
                Ok(Some(line)) => self.keep(ctx, line),
                Ok(None) => {
                    self.on_exit(ctx).await;
                    return done(&self.got);
                }
                Err(_) => return done(&self.got),
            }
        }
        true
    }

    /// Why it printed no more: it exited, or `deadline` passed.
    pub fn stopped(&self, deadline: Duration) -> String {
        if self.exited {
            "before it exited".to_string()
        } else {
            format!("within {:.1} s", deadline.as_secs_f64())
        }
    }

    /// Its output ended while its command ran: it exited (the cause of whatever the case then
    /// misses). Notes its exit status and the last message it was sent, and lets its stderr
    /// reach the journal.
    async fn on_exit(&mut self, ctx: &Ctx) {
        if self.exited {
            return;
        }
        self.exited = true;
        let status = match tokio::time::timeout(ctx.grace, self.child.wait()).await {
            Ok(Ok(status)) => describe_exit(status),
            _ => "closed its output".to_string(),
        };
        ctx.note(format!("{ME} | (its output ends: the client {status})"));
        let after = match ctx.last_to_client() {
            Some(last) => format!("after the last message it was sent, {last}"),
            None => "before any server had replied to it".to_string(),
        };
        ctx.cause(
            causes::CLIENT_EXITED,
            format!("the client {status} {after}"),
        );
        self.stderr_read(ctx).await;
    }

    /// Waits (at most `ctx.grace`) for the rest of its stderr.
    async fn stderr_read(&mut self, ctx: &Ctx) {
        if let Some(reader) = self.stderr.take() {
            let _ = tokio::time::timeout(ctx.grace, reader).await;
        }
    }

    fn keep(&mut self, ctx: &Ctx, line: Vec<u8>) {
        ctx.note(format!("{ME} | {}", escape_line(&line)));
        let text = String::from_utf8_lossy(&line);
        if let Some(line) = super::lines::clean(&text, &self.input) {
            self.got.push(line);
        }
    }

    /// Collects extra lines for `ctx.grace`, ends the input (a client that exits cleanly does
    /// so now), then stops whatever is left of it; returns all its lines.
    pub async fn finish(mut self, ctx: &Ctx) -> Vec<String> {
        while !self.exited {
            match tokio::time::timeout(ctx.grace, self.lines.recv()).await {
                Ok(Some(line)) => self.keep(ctx, line),
                Ok(None) => self.on_exit(ctx).await,
                Err(_) => break,
            }
        }
        drop(self.stdin.take());
        let _ = tokio::time::timeout(ctx.grace, self.child.wait()).await;
        self.kill().await;
        self.stderr_read(ctx).await;
        std::mem::take(&mut self.got)
    }

    /// SIGKILL to the client's process group, and waits for the client.
    pub async fn kill(&mut self) {
        self.kill_group();
        let _ = self.child.kill().await;
    }

    fn kill_group(&self) {
        if let Some(group) = self.group {
            // ESRCH when it has exited and has nothing left: nothing to do.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A case that ran out of time drops its client here: nothing of it may keep running.
        self.kill_group();
    }
}

/// A client's stdout line is cut after this many bytes (a line with a chunk's payload in it is
/// well under).
const STDOUT_LINE: usize = 64 * 1024;

/// How a process ended, for a sentence: "exited with status 1", "was killed by SIGSEGV".
pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(signal) => format!("was killed by {signal}"),
            Err(_) => format!("was killed by signal {signal}"),
        },
        _ => "exited".to_string(),
    }
}

/// Reads `reader` line by line, each line cut after `max` bytes (the rest of it is dropped, so
/// a line without an end cannot fill memory), a trailing `\r` removed, and sends each to `tx`
/// until the output ends or nobody receives.
pub(crate) async fn bounded_lines<R>(reader: R, max: usize, tx: mpsc::Sender<Vec<u8>>)
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) if !buf.is_empty() => buf,
            _ => break,
        };
        let end = buf.iter().position(|b| *b == b'\n');
        let take = end.unwrap_or(buf.len());
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        reader.consume(take + usize::from(end.is_some()));
        if end.is_some() {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if tx.send(std::mem::take(&mut line)).await.is_err() {
                return;
            }
        }
    }
    if !line.is_empty() {
        let _ = tx.send(line).await;
    }
}

async fn free_port() -> Checked<u16> {
    play::offline_port()
        .await
        .or_else(|e| fail(format!("no free port: {e}")))
}

/// Starts the program under test: `command` then `extra` arguments, in `dir`, its output piped,
/// unbuffered if it is Python, in a process group of its own (so one started through a shell,
/// or that starts helpers, is stopped whole) and killed if dropped. `what` names it in errors.
pub(crate) fn spawn_program(
    command: &[String],
    extra: &[String],
    dir: &std::path::Path,
    stdin: Stdio,
    what: &str,
) -> Checked<(Child, Option<Pid>)> {
    let Some((program, args)) = command.split_first() else {
        return fail(format!("no {what} command given"));
    };
    let child = Command::new(program)
        .args(args)
        .args(extra)
        .current_dir(dir)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .or_else(|e| fail(format!("cannot start {program}: {e}")))?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    Ok((child, group))
}
