//! The client under test, run once per case: `COMMAND HOST PORT FILE [TIMEOUT]` in a fresh
//! temporary directory (where it saves what it saves), stdin closed, in a process group of its
//! own. Its stdout is kept (as lines for the journal and as bytes, bounded), its last stderr
//! lines go to the case's journal, and when the case ends, however it ends, its whole process
//! group is killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::check::lab::{bounded_lines, describe_exit, spawn_program};
use crate::check::wire::{Checked, Ctx, STDERR_LINE, escape_line, fail};

/// At most this much of its stdout is kept (a binary printed on the terminal included).
const STDOUT_LIMIT: usize = 16 << 20;

/// What the client did.
pub struct Ran {
    /// Its stdout lines, `\r` removed, not escaped.
    pub lines: Vec<String>,
    /// Its stdout as bytes.
    pub stdout: Vec<u8>,
    /// When it exited.
    pub exited_at: Instant,
    /// "exited with status 0", "was killed by SIGSEGV".
    pub status: String,
    /// Whether it exited with status 0.
    pub success: bool,
    /// How many lines it wrote on stderr.
    pub stderr_lines: usize,
}

/// A running client; dropping it kills its process group.
struct Running {
    child: Child,
    group: Option<Pid>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(group) = self.group {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// Runs `command` with `args` in `dir` until it exits (the case's deadline bounds the wait).
pub async fn run(ctx: &Ctx, command: &[String], args: &[String], dir: &Path) -> Checked<Ran> {
    if command.is_empty() {
        return fail("no client command given");
    }
    ctx.note(format!("client $ {} {}", command.join(" "), args.join(" ")));
    let (mut child, group) = spawn_program(command, args, dir, Stdio::null(), "client")?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut running = Running { child, group };
    let read_out = async {
        let mut bytes = Vec::new();
        if let Some(mut out) = stdout {
            let mut chunk = vec![0u8; 64 * 1024];
            while let Ok(n) = out.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                let room = STDOUT_LIMIT.saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
        bytes
    };
    let (stdout, stderr_lines, status) =
        tokio::join!(read_out, keep_stderr(ctx, stderr), running.child.wait());
    let exited_at = Instant::now();
    let success = status.as_ref().is_ok_and(|s| s.success());
    let status = match status {
        Ok(status) => describe_exit(status),
        Err(e) => format!("could not be waited for ({e})"),
    };
    let lines = lines_of(&stdout);
    for line in lines.iter().take(200) {
        ctx.note(format!("client | {}", escape_line(line.as_bytes())));
    }
    ctx.note(format!("client | (its output ends: it {status})"));
    Ok(Ran {
        lines,
        stdout,
        exited_at,
        status,
        success,
        stderr_lines,
    })
}

/// Its stderr lines into the case's journal (the last ones are kept); how many there were.
async fn keep_stderr(ctx: &Ctx, stderr: Option<tokio::process::ChildStderr>) -> usize {
    let Some(stderr) = stderr else { return 0 };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let keep = async {
        let mut count = 0;
        while let Some(line) = rx.recv().await {
            ctx.stderr_line(&line);
            count += 1;
        }
        count
    };
    tokio::join!(bounded_lines(stderr, STDERR_LINE, tx), keep).1
}

fn lines_of(stdout: &[u8]) -> Vec<String> {
    stdout
        .split(|b| *b == b'\n')
        .map(|line| String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .skip_while(|l| l.is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// Every regular file under `dir` (three levels deep at most), with its path.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_file() => out.push(path),
                Ok(t) if t.is_dir() && depth > 0 => walk(&path, depth - 1, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 3, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_lines_lose_their_carriage_returns_and_trailing_blank_lines() {
        assert_eq!(lines_of(b"a\r\n\r\nb\n\n\n"), ["a", "", "b"]);
        assert!(lines_of(b"").is_empty());
    }
}
