//! `--line`: the seed's console. Prompts `Input your command: `, reads commands from stdin (a
//! terminal or a pipe), runs each to its end and prints the seed's lines on stdout.
//!
//! On a terminal (stdin and stdout both), the line is edited in raw mode (keys in
//! src/line_editor.rs, editing state and history the TUI's `CommandBar`), and the history is kept
//! in the peer directory. Raw mode is on only while a line is edited, as with readline: a command
//! runs with the terminal as the seed left it (Ctrl-C a signal, typed-ahead keys echoed). On a
//! pipe nothing of this applies: the bytes are the seed's.
//!
//! Lines are gathered in a buffer and written by a flusher thread every few milliseconds, so a
//! transfer printing a line per chunk is not bound by one write per line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use ratatui::crossterm::event::EventStream;
use ratatui::crossterm::terminal;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::core::protocol::lines::LineKind;
use crate::front::line_editor::{self, EditKey};
use crate::front::tui::input::{CommandBar, Completion};
use crate::peer::command::{self, Command};
use crate::peer::runtime::{PeerHandle, ServedView};
use crate::peer::{Client, LineBatch, LineSink};

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
    /// While a line is edited on a terminal (raw mode on): the bytes that draw it. Output is then
    /// printed above it. Held while writing, so output and the edit line never interleave.
    editing: Mutex<Option<String>>,
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
            let editing = self.editing();
            let mut stdout = std::io::stdout().lock();
            // Standard output gone (closed pipe): nothing useful is left to do with the text.
            let _ = match &*editing {
                None => stdout.write_all(&pending),
                Some(line) => stdout.write_all(&line_editor::above_edit_line(&pending, line)),
            }
            .and_then(|_| stdout.flush());
        }
        pending.clear();
        if pending.capacity() <= MAX_BUFFERED * 2 {
            *self.spare() = pending;
        }
    }

    fn spare(&self) -> MutexGuard<'_, Vec<u8>> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn editing(&self) -> MutexGuard<'_, Option<String>> {
        self.editing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Output so far printed, then raw mode on and `line` drawn: from now on output goes above
    /// it.
    fn begin_edit(&self, line: String) -> std::io::Result<()> {
        self.flush();
        let mut editing = self.editing();
        terminal::enable_raw_mode()?;
        write_now(line.as_bytes());
        *editing = Some(line);
        Ok(())
    }

    /// Draws the edit line again (changed, or after `before`, e.g. a clear screen).
    fn redraw(&self, before: &str, line: String) {
        let mut editing = self.editing();
        if editing.is_some() {
            write_now(format!("{before}{line}").as_bytes());
            *editing = Some(line);
        }
    }

    /// Output so far printed above the edit line, `last` drawn over it, raw mode off. Nothing if
    /// no line is being edited.
    fn end_edit(&self, last: &str) {
        self.flush();
        let mut editing = self.editing();
        if editing.take().is_some() {
            write_now(last.as_bytes());
            let _ = terminal::disable_raw_mode();
        }
    }
}

fn write_now(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|_| stdout.flush());
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

/// What the console edits lines with on a terminal: the history file and the words Tab
/// completes.
pub struct LineEditing {
    pub history_file: PathBuf,
    /// Peer IDs of the settings file.
    pub peers: Vec<String>,
    /// This peer's served files (file names for #UPLOAD).
    pub served: watch::Receiver<ServedView>,
}

impl LineEditing {
    pub fn for_peer(peer: &PeerHandle) -> LineEditing {
        LineEditing {
            history_file: crate::front::history::path_beside(peer.store.served_dir()),
            peers: peer.settings.peers.iter().map(|p| p.id.clone()).collect(),
            served: peer.served.clone(),
        }
    }
}

/// Runs the console until end of input, `#QUIT` or `shutdown`.
pub async fn run(
    client: Client,
    out: Arc<ConsoleOut>,
    shutdown: CancellationToken,
    editing: LineEditing,
) {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() && raw_mode_works() {
        run_editing(client, out, shutdown, editing).await;
    } else {
        run_plain(client, out, shutdown).await;
    }
}

/// The seed's console, byte for byte: lines read from stdin as they come.
async fn run_plain(client: Client, out: Arc<ConsoleOut>, shutdown: CancellationToken) {
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
        if !process(&client, &out, &line, &shutdown).await {
            break;
        }
    }
    out.flush();
}

/// Runs one line as the seed does; false when the console is to end.
async fn process(
    client: &Client,
    out: &ConsoleOut,
    line: &str,
    shutdown: &CancellationToken,
) -> bool {
    if line.trim().is_empty() {
        return true;
    }
    match command::parse(line) {
        Ok(Command::Quit) => return false,
        Ok(command) => run_command(client, command, shutdown).await,
        Err(e) => client.out().error(e.to_string()),
    }
    out.write("\n");
    !shutdown.is_cancelled()
}

fn raw_mode_works() -> bool {
    terminal::enable_raw_mode().is_ok() && terminal::disable_raw_mode().is_ok()
}

/// Leaves raw mode however the edit ends (an early return, a panic unwinding the console).
struct EditSession<'a>(&'a ConsoleOut);

impl Drop for EditSession<'_> {
    fn drop(&mut self) {
        self.0.end_edit("\r\n");
    }
}

/// A panic anywhere leaves raw mode first, so its message and the shell after it are readable
/// (as ratatui's hook does for the TUI).
fn restore_terminal_on_panic() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let earlier = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = terminal::disable_raw_mode();
            earlier(info);
        }));
    });
}

fn width() -> u16 {
    terminal::size().map_or(80, |(columns, _)| columns)
}

/// The console on a terminal: each line edited (history, Tab completion), then run as a piped
/// line is.
async fn run_editing(
    client: Client,
    out: Arc<ConsoleOut>,
    shutdown: CancellationToken,
    editing: LineEditing,
) {
    restore_terminal_on_panic();
    let mut bar = CommandBar::with_history(crate::front::history::read(&editing.history_file));
    // One stream for the whole session: keys typed while a command runs wait in it.
    let mut events = EventStream::new();
    loop {
        if out.begin_edit(edited_line(&bar)).is_err() {
            break;
        }
        let session = EditSession(&out);
        let Some(line) = read_line(&mut bar, &mut events, &out, &shutdown, &editing).await else {
            break;
        };
        out.end_edit(&line_editor::committed_line(PROMPT, &line));
        drop(session);
        if !process(&client, &out, &line, &shutdown).await {
            break;
        }
    }
    out.flush();
}

/// The prompt and the line being edited, as drawn.
fn edited_line(bar: &CommandBar) -> String {
    line_editor::edit_line(PROMPT, &bar.input, width())
}

/// Edits a line key by key until it is submitted; `None` at the end of input or on shutdown.
async fn read_line(
    bar: &mut CommandBar,
    events: &mut EventStream,
    out: &ConsoleOut,
    shutdown: &CancellationToken,
    editing: &LineEditing,
) -> Option<String> {
    let mut listed_last_tab = false;
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = shutdown.cancelled() => None,
        };
        // The end (a signal, the terminal gone): the line stays as it was, the cursor below.
        let Some(Ok(event)) = event else {
            out.end_edit(&line_editor::committed_line(PROMPT, bar.value()));
            return None;
        };
        let key = line_editor::edit_key(&event, bar.value().is_empty());
        if key != EditKey::Complete {
            bar.end_cycle();
            listed_last_tab = false;
        }
        let mut before = "";
        match key {
            EditKey::Submit => return Some(submit(bar, editing)),
            EditKey::EndOfInput => {
                out.end_edit(&line_editor::committed_line(PROMPT, bar.value()));
                return None;
            }
            EditKey::ClearLine => bar.clear(),
            EditKey::HistoryUp => bar.history_up(),
            EditKey::HistoryDown => bar.history_down(),
            EditKey::Complete => listed_last_tab |= complete(bar, editing, out, listed_last_tab),
            EditKey::ClearScreen => before = line_editor::CLEAR_SCREEN,
            EditKey::Edit(request) => {
                bar.input.handle(request);
            }
            EditKey::Ignore => {}
        }
        out.redraw(before, edited_line(bar));
    }
}

/// Tab: completes the word under the cursor from the peers and the served files. Several
/// candidates are listed above the line once (unless `listed` already), then Tab cycles; returns
/// whether there were several.
fn complete(bar: &mut CommandBar, editing: &LineEditing, out: &ConsoleOut, listed: bool) -> bool {
    let files: Vec<String> = editing
        .served
        .borrow()
        .served
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let Completion::Several(candidates) = bar.complete(&editing.peers, &files) else {
        return false;
    };
    if !listed {
        out.write(&format!("{}\n", candidates.join("  ")));
        out.flush();
    }
    true
}

/// Takes the edited line, saving it in the history file if it went into the history.
fn submit(bar: &mut CommandBar, editing: &LineEditing) -> String {
    let remembered = !bar.value().trim().is_empty()
        && bar.history().last().map(String::as_str) != Some(bar.value());
    let line = bar.submit();
    if remembered {
        crate::front::history::save_newest(&editing.history_file, bar.history());
    }
    line
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submitted_line_is_saved_once_and_ctrl_c_clears_without_saving() {
        let dir = tempfile::tempdir().unwrap();
        let (_served, watched) = watch::channel(ServedView::default());
        let editing = LineEditing {
            history_file: dir.path().join(".p2p-tui-history"),
            peers: vec!["p1".into(), "p2".into()],
            served: watched,
        };
        let mut bar = CommandBar::with_history(crate::front::history::read(&editing.history_file));
        for typed in ["#FILELIST p2", "#FILELIST p2", "   ", "#PEERS"] {
            bar.input = typed.into();
            assert_eq!(submit(&mut bar, &editing), typed);
        }
        // Ctrl-C on a recalled line: empty again, the history as it was.
        bar.history_up();
        assert_eq!(bar.value(), "#PEERS");
        bar.clear();
        assert_eq!(bar.value(), "");
        bar.history_up();
        assert_eq!(bar.value(), "#PEERS");
        let saved = std::fs::read_to_string(&editing.history_file).unwrap();
        assert_eq!(saved, "#FILELIST p2\n#PEERS\n");
        // The next run starts from it.
        let mut again =
            CommandBar::with_history(crate::front::history::read(&editing.history_file));
        again.history_up();
        again.history_up();
        assert_eq!(again.value(), "#FILELIST p2");
    }
}
