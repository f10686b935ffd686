//! The help overlay: every key and command.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};

use super::block;
use crate::command::HELP;

pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "run the command in the bar"),
    ("Up / Down", "command history"),
    ("Tab", "complete a command, file name or peer ID"),
    ("Esc", "clear the bar / close this help"),
    ("PgUp / PgDn, wheel", "scroll the message log"),
    ("Home / End", "oldest line / follow the newest (bar empty)"),
    ("? or F1", "this help"),
    (
        "F2, F3, F4 (--demo)",
        "take demo peer p2, p3, p4 offline / bring it back",
    ),
    (
        "q (bar empty), Ctrl-C",
        "quit: transfers cancelled, partial files removed",
    ),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| Line::from(format!("{key:<24}{what}")))
        .collect();
    lines.push(Line::from(""));
    lines.extend(HELP.lines().map(Line::from));
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 104.min(area.width);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block("Help")), popup);
}
