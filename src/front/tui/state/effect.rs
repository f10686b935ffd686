//! What a panel's key asks of the rest of the UI (`App` routes it), and what the event loop
//! must do after an update.

use std::sync::Arc;

use ratatui::crossterm::event::KeyEvent;

use crate::core::protocol::lines::LineKind;
use crate::peer::command::Command;
use crate::peer::transfer::progress::TransferProgress;

/// The echo of a typed command, as the seed's console shows it.
pub const ECHO: &str = "Input your command: ";

/// What the event loop must do after an update.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Run(Command),
    /// Take the n-th switchable (demo) peer offline or bring it back.
    TogglePeer(usize),
    /// Stop this running transfer (its partial file is removed).
    Cancel(TransferHandle),
    Quit,
}

/// A transfer the UI shows, the same one (not an equal one) wherever it goes.
#[derive(Clone)]
pub struct TransferHandle(pub Arc<TransferProgress>);

impl PartialEq for TransferHandle {
    fn eq(&self, other: &TransferHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TransferHandle {}

impl std::fmt::Debug for TransferHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} of {}", self.0.direction, self.0.file)
    }
}

/// The one-line message in the command bar's title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarMessage {
    pub text: String,
    pub is_error: bool,
}

impl BarMessage {
    pub fn info(text: String) -> BarMessage {
        BarMessage {
            text,
            is_error: false,
        }
    }

    pub fn error(text: String) -> BarMessage {
        BarMessage {
            text,
            is_error: true,
        }
    }
}

/// One thing a panel's key asks for beyond its own state.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Say this in the command bar's title.
    Say(BarMessage),
    /// Log a line of the UI's own (a command's echo, a cancel).
    Log(LineKind, String),
    /// `#` from another panel: focus the bar and start typing a command with this key.
    TypeIntoBar(KeyEvent),
    /// For the event loop.
    Act(Action),
}
