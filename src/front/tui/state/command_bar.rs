//! The command bar: the line being typed (history, Tab completion: `input::CommandBar`), what
//! it is typed for (a command, or a text to find in the log), and the one-line message in its
//! title that every panel may set.

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

use super::effect::BarMessage;
use crate::front::tui::input::{CommandBar, Completion};

/// What the bar is being typed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarMode {
    Command,
    /// `/`: a text to find in the log.
    Search,
}

pub struct Bar {
    pub line: CommandBar,
    pub mode: BarMode,
    /// A one-line message in the bar's title.
    pub message: Option<BarMessage>,
}

impl Bar {
    pub fn new(history: Vec<String>) -> Bar {
        Bar {
            line: CommandBar::with_history(history),
            mode: BarMode::Command,
            message: None,
        }
    }

    pub fn value(&self) -> &str {
        self.line.value()
    }

    pub fn say(&mut self, message: BarMessage) {
        self.message = Some(message);
    }

    /// Keys while a command is being typed (Enter and Tab are the App's: they reach further).
    pub fn on_typing_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Up => self.line.history_up(),
            KeyCode::Down => self.line.history_down(),
            KeyCode::Esc => self.line.input.reset(),
            _ => self.edit(key),
        }
    }

    /// Keys with an empty bar focused.
    pub fn on_empty_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Up => self.line.history_up(),
            KeyCode::Down => self.line.history_down(),
            KeyCode::Enter => {}
            _ => self.edit(key),
        }
    }

    /// A key into the line itself (tui-input's editing keys).
    pub fn edit(&mut self, key: KeyEvent) {
        self.line.input.handle_event(&Event::Key(key));
    }

    /// Pasted text, control characters left out.
    pub fn paste(&mut self, text: &str) {
        for c in text.chars().filter(|c| !c.is_control()) {
            (self.line.input).handle(tui_input::InputRequest::InsertChar(c));
        }
    }

    /// `/`: the bar takes a text to find.
    pub fn start_search(&mut self) {
        self.mode = BarMode::Search;
        self.line.input.reset();
    }

    /// Keys while a search is typed; Enter gives the text to find (None: nothing to find yet).
    pub fn on_search_key(&mut self, key: KeyEvent) -> Option<String> {
        match key.code {
            KeyCode::Enter => {
                let text = self.line.input.value_and_reset();
                self.mode = BarMode::Command;
                return (!text.is_empty()).then_some(text);
            }
            KeyCode::Esc => {
                self.line.input.reset();
                self.mode = BarMode::Command;
            }
            _ => self.edit(key),
        }
        None
    }

    /// Tab: completes the last word from these peers and files; several candidates are said.
    pub fn complete(&mut self, peers: &[String], files: &[String]) {
        self.message = match self.line.complete(peers, files) {
            Completion::Several(listed) => {
                Some(BarMessage::info(format!("Tab: {}", listed.join("  "))))
            }
            Completion::Done | Completion::None => None,
        };
    }
}
