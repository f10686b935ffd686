//! `--line`: the seed's console. Prompts `Input your command: `, reads commands from stdin (a
//! terminal or a pipe), runs each to its end and prints the seed's lines on stdout.
//!
//! Lines are gathered in a buffer and written by a flusher thread every few milliseconds, so a
//! transfer printing a line per chunk is not bound by one write per line.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::command::{self, Command};
use crate::peer::{Client, LineBatch, LineSink};
use crate::protocol::lines::LineKind;

pub const PROMPT: &str = "Input your command: ";
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Past this, a writer flushes itself (back-pressure from a slow terminal).
const MAX_BUFFERED: usize = 4 << 20;

/// Standard output shared by the prompt and the peer tasks' lines.
#[derive(Default)]
pub struct ConsoleOut {
    buf: Mutex<Vec<u8>>,
    /// The buffer last written out, emptied, waiting to be swapped in again.
    spare: Mutex<Vec<u8>>,
}

impl ConsoleOut {
    /// A console writer with its flusher thread (which ends with the process).
    pub fn start() -> Arc<ConsoleOut> {
        let out = Arc::new(ConsoleOut::default());
        let weak = Arc::downgrade(&out);
        std::thread::Builder::new()
            .name("stdout-flusher".into())
            .spawn(move || {
                while let Some(out) = weak.upgrade() {
                    out.flush();
                    drop(out);
                    std::thread::sleep(FLUSH_EVERY);
                }
            })
            .ok();
        out
    }

    fn buf(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self, text: &str) {
        let mut buf = self.buf();
        buf.extend_from_slice(text.as_bytes());
        if buf.len() > MAX_BUFFERED {
            drop(buf);
            self.flush();
        }
    }

    pub fn flush(&self) {
        // Swap in the spare buffer (keeping its capacity), so writers rarely reallocate.
        let mut pending = std::mem::take(&mut *self.spare());
        std::mem::swap(&mut pending, &mut *self.buf());
        if !pending.is_empty() {
            let mut stdout = std::io::stdout().lock();
            // Standard output gone (closed pipe): nothing useful is left to do with the text.
            let _ = stdout.write_all(&pending).and_then(|_| stdout.flush());
        }
        pending.clear();
        if pending.capacity() <= MAX_BUFFERED * 2 {
            *self.spare() = pending;
        }
    }

    fn spare(&self) -> MutexGuard<'_, Vec<u8>> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LineSink for ConsoleOut {
    fn emit(&self, _kind: LineKind, mut text: String) {
        text.push('\n');
        self.write(&text);
    }

    fn emit_batch(&self, batch: &LineBatch) {
        self.write(batch.text());
    }
}

/// Runs the console until end of input, `#QUIT` or `shutdown`.
pub async fn run(client: Client, out: Arc<ConsoleOut>, shutdown: CancellationToken) {
    // Piped input is not shown by a terminal; echo it so the transcript reads like the seed's.
    let echo = !std::io::stdin().is_terminal();
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    loop {
        out.write(PROMPT);
        out.flush();
        let line = tokio::select! {
            line = input.next_line() => line,
            _ = shutdown.cancelled() => break,
        };
        let Ok(Some(line)) = line else {
            out.write("\n");
            break;
        };
        if echo {
            out.write(&format!("{line}\n"));
        }
        if line.trim().is_empty() {
            continue;
        }
        match command::parse(&line) {
            Ok(Command::Quit) => break,
            Ok(command) => run_command(&client, command, &shutdown).await,
            Err(e) => client.out().error(e.to_string()),
        }
        out.write("\n");
        if shutdown.is_cancelled() {
            break;
        }
    }
    out.flush();
}

/// Runs one command; on shutdown it gets a moment to cancel cleanly (remove partial files).
async fn run_command(client: &Client, command: Command, shutdown: &CancellationToken) {
    let grace = async {
        shutdown.cancelled().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    tokio::select! {
        biased;
        _ = client.run(command, shutdown) => {}
        _ = grace => {}
    }
}
