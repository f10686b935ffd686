//! Front ends: the full-screen UI, the line console and its editor, the command history, and the
//! table of user commands they share. May import core and peer (whose tasks they drive), never modes.

pub(crate) mod command;
pub(crate) mod console;
pub(crate) mod history;
pub(crate) mod line_editor;
pub(crate) mod tui;
