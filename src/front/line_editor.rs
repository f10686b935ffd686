//! The pure parts of `--line`'s editing on a terminal: which key does what, and the bytes that
//! draw the edit line and print output above it. The console (src/console.rs) owns the terminal;
//! the command bar's editing state and history are the TUI's `CommandBar` (tui-input).
//!
//! The edit line never wraps: text wider than the terminal scrolls sideways, so the line is
//! always one row and "\r" + clear-to-end erases it.

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tui_input::backend::crossterm::to_input_request;
use tui_input::{Input, InputRequest};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Erases the row the cursor is on.
const ERASE_ROW: &str = "\r\x1b[K";
/// Clears the screen and puts the cursor top left (Ctrl-L).
pub const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

/// What a key does to the edit line.
#[derive(Debug, PartialEq, Eq)]
pub enum EditKey {
    /// Enter: the line is run.
    Submit,
    /// Ctrl-C or Ctrl-D on an empty line: the console ends, as at the end of piped input.
    EndOfInput,
    /// Ctrl-C with text: the line is emptied.
    ClearLine,
    HistoryUp,
    HistoryDown,
    /// Tab: completes the word before the cursor.
    Complete,
    /// Ctrl-L: clear the screen, keep the line.
    ClearScreen,
    /// An edit of the line (tui-input's request).
    Edit(InputRequest),
    /// Anything else (a key release, a mouse event, a resize): at most a redraw.
    Ignore,
}

/// The meaning of a terminal event for an edit line that is `empty` or not. Emacs-style keys as in
/// readline: Ctrl-A/E (Home/End), Ctrl-B/F (Left/Right), Ctrl-W, Ctrl-U, Ctrl-K, Ctrl-P/N.
pub fn edit_key(event: &Event, empty: bool) -> EditKey {
    let Event::Key(KeyEvent {
        code,
        modifiers,
        kind,
        ..
    }) = event
    else {
        return EditKey::Ignore;
    };
    if *kind == KeyEventKind::Release {
        return EditKey::Ignore;
    }
    let ctrl = *modifiers == KeyModifiers::CONTROL;
    match code {
        KeyCode::Enter => EditKey::Submit,
        KeyCode::Char('j' | 'm') if ctrl => EditKey::Submit,
        KeyCode::Char('c') if ctrl && empty => EditKey::EndOfInput,
        KeyCode::Char('c') if ctrl => EditKey::ClearLine,
        KeyCode::Char('d') if ctrl && empty => EditKey::EndOfInput,
        KeyCode::Char('d') if ctrl => EditKey::Edit(InputRequest::DeleteNextChar),
        KeyCode::Up => EditKey::HistoryUp,
        KeyCode::Char('p') if ctrl => EditKey::HistoryUp,
        KeyCode::Down => EditKey::HistoryDown,
        KeyCode::Char('n') if ctrl => EditKey::HistoryDown,
        KeyCode::Tab if modifiers.is_empty() => EditKey::Complete,
        KeyCode::Char('l') if ctrl => EditKey::ClearScreen,
        _ => to_input_request(event).map_or(EditKey::Ignore, EditKey::Edit),
    }
}

/// Draws `prompt` and the line on the cursor's row, `width` columns wide, and puts the cursor
/// where the line's cursor is. A line too long for the row scrolls to keep the cursor in view.
pub fn edit_line(prompt: &str, input: &Input, width: u16) -> String {
    let prompt_width = prompt.width();
    // The last column stays free for the cursor at the end of the line.
    let room = (width as usize).saturating_sub(prompt_width + 1).max(1);
    let scroll = input.visual_scroll(room);
    let (mut skipped, mut used) = (0, 0);
    let mut visible = String::new();
    for c in input.value().chars() {
        let w = c.width().unwrap_or(0);
        if skipped < scroll {
            skipped += w;
            continue;
        }
        if used + w > room {
            break;
        }
        used += w;
        visible.push(c);
    }
    let column = prompt_width + input.visual_cursor().saturating_sub(skipped);
    let mut line = format!("{ERASE_ROW}{prompt}{visible}\x1b[K\r");
    if column > 0 {
        line.push_str(&format!("\x1b[{column}C"));
    }
    line
}

/// The line as it stays on screen once run (or at the end of input): whole, wrapped by the
/// terminal if long, and the cursor on the next row.
pub fn committed_line(prompt: &str, line: &str) -> String {
    format!("{ERASE_ROW}{prompt}{line}\r\n")
}

/// Output printed while a line is being edited (raw mode): the edit line is erased, the output
/// printed with "\r\n" line ends (raw mode does not add the carriage return), and the edit line
/// drawn again below it.
pub fn above_edit_line(output: &[u8], edit_line: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(output.len() + output.len() / 16 + edit_line.len() + 8);
    bytes.extend_from_slice(ERASE_ROW.as_bytes());
    for &b in output {
        if b == b'\n' {
            bytes.push(b'\r');
        }
        bytes.push(b);
    }
    if output.last() != Some(&b'\n') {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(edit_line.as_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(code, modifiers))
    }

    fn ctrl(c: char) -> Event {
        key(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn keys_map_to_what_readline_does() {
        let none = KeyModifiers::NONE;
        assert_eq!(edit_key(&key(KeyCode::Enter, none), false), EditKey::Submit);
        assert_eq!(edit_key(&ctrl('m'), true), EditKey::Submit);
        // Ctrl-C and Ctrl-D end the input on an empty line only.
        assert_eq!(edit_key(&ctrl('c'), true), EditKey::EndOfInput);
        assert_eq!(edit_key(&ctrl('c'), false), EditKey::ClearLine);
        assert_eq!(edit_key(&ctrl('d'), true), EditKey::EndOfInput);
        assert_eq!(
            edit_key(&ctrl('d'), false),
            EditKey::Edit(InputRequest::DeleteNextChar)
        );
        assert_eq!(edit_key(&key(KeyCode::Up, none), false), EditKey::HistoryUp);
        assert_eq!(edit_key(&ctrl('p'), false), EditKey::HistoryUp);
        assert_eq!(
            edit_key(&key(KeyCode::Down, none), false),
            EditKey::HistoryDown
        );
        assert_eq!(edit_key(&ctrl('n'), false), EditKey::HistoryDown);
        assert_eq!(edit_key(&key(KeyCode::Tab, none), false), EditKey::Complete);
        assert_eq!(edit_key(&ctrl('l'), false), EditKey::ClearScreen);
        let edits = [
            (ctrl('a'), InputRequest::GoToStart),
            (key(KeyCode::Home, none), InputRequest::GoToStart),
            (ctrl('e'), InputRequest::GoToEnd),
            (key(KeyCode::End, none), InputRequest::GoToEnd),
            (ctrl('w'), InputRequest::DeletePrevWord),
            (ctrl('u'), InputRequest::DeleteLine),
            (key(KeyCode::Left, none), InputRequest::GoToPrevChar),
            (key(KeyCode::Right, none), InputRequest::GoToNextChar),
            (key(KeyCode::Backspace, none), InputRequest::DeletePrevChar),
            (key(KeyCode::Delete, none), InputRequest::DeleteNextChar),
            (
                key(KeyCode::Char('#'), KeyModifiers::SHIFT),
                InputRequest::InsertChar('#'),
            ),
        ];
        for (event, request) in edits {
            assert_eq!(edit_key(&event, false), EditKey::Edit(request), "{event:?}");
        }
        assert_eq!(edit_key(&Event::Resize(80, 24), false), EditKey::Ignore);
        let release = Event::Key(KeyEvent::new_with_kind(
            KeyCode::Enter,
            none,
            KeyEventKind::Release,
        ));
        assert_eq!(edit_key(&release, false), EditKey::Ignore);
    }

    #[test]
    fn the_edit_line_is_one_row_with_the_cursor_in_place() {
        let input = Input::new("#FILELIST p2".into());
        assert_eq!(
            edit_line("> ", &input, 80),
            "\r\x1b[K> #FILELIST p2\x1b[K\r\x1b[14C"
        );
        let input = input.with_cursor(1);
        assert_eq!(
            edit_line("> ", &input, 80),
            "\r\x1b[K> #FILELIST p2\x1b[K\r\x1b[3C"
        );
        // Too long for 20 columns: it scrolls so the cursor (at the end) stays on the row, in
        // the last column.
        let input = Input::new("#DOWNLOAD river.txt p2 p3".into());
        let line = edit_line("> ", &input, 20);
        assert_eq!(line, "\r\x1b[K> D river.txt p2 p3\x1b[K\r\x1b[19C");
        // At its start, the start is shown.
        let input = input.with_cursor(0);
        assert_eq!(
            edit_line("> ", &input, 20),
            "\r\x1b[K> #DOWNLOAD river.t\x1b[K\r\x1b[2C"
        );
        assert_eq!(edit_line("", &Input::default(), 20), "\r\x1b[K\x1b[K\r");
    }

    #[test]
    fn output_goes_above_the_edit_line_with_carriage_returns() {
        let edit = "\r\x1b[K> #FIL\x1b[K\r\x1b[6C";
        let bytes = above_edit_line(b"Client (p2): #FILELIST\nServer (p2): 200\n", edit);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!("\r\x1b[KClient (p2): #FILELIST\r\nServer (p2): 200\r\n{edit}")
        );
        // A partial line is ended before the edit line is drawn again.
        let bytes = above_edit_line(b"half", edit);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!("\r\x1b[Khalf\r\n{edit}")
        );
        assert_eq!(committed_line("> ", "#PEERS"), "\r\x1b[K> #PEERS\r\n");
    }
}
