//! Front ends: the full-screen UI, the line console and its editor, the command history. They read
//! the user's commands through peer::command. May import core, peer and tracker; never modes or cli.

pub(crate) mod console;
pub(crate) mod history;
pub(crate) mod line_editor;
pub(crate) mod tui;
