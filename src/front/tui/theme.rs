//! Every colour and style of the UI, in one place.

use ratatui::style::{Color, Modifier, Style};

use crate::core::protocol::lines::LineKind;

pub fn line(kind: LineKind) -> Style {
    match kind {
        LineKind::Request => Style::new().fg(Color::Cyan),
        LineKind::Reply => Style::new().fg(Color::Gray),
        LineKind::Outcome => Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        LineKind::Error => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        LineKind::Note => Style::new().fg(Color::Yellow),
    }
}

pub fn title() -> Style {
    Style::new().fg(Color::White).add_modifier(Modifier::BOLD)
}

pub fn border(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::LightBlue)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn highlight() -> Style {
    Style::new().fg(Color::Black).bg(Color::LightGreen)
}

pub fn online() -> Style {
    Style::new().fg(Color::Green)
}

pub fn offline() -> Style {
    Style::new().fg(Color::Red)
}

pub fn me() -> Style {
    Style::new()
        .fg(Color::LightBlue)
        .add_modifier(Modifier::BOLD)
}

pub fn receiving() -> Style {
    Style::new()
        .fg(Color::Yellow)
        .add_modifier(Modifier::ITALIC)
}

pub fn status() -> Style {
    Style::new().fg(Color::Black).bg(Color::Gray)
}

pub fn error_message() -> Style {
    Style::new().fg(Color::White).bg(Color::Red)
}

/// One colour per serving peer (by position in the serving set), for rows and the chunk map.
pub fn peer(position: usize) -> Color {
    const PALETTE: [Color; 6] = [
        Color::Cyan,
        Color::Magenta,
        Color::Yellow,
        Color::LightBlue,
        Color::LightGreen,
        Color::White,
    ];
    PALETTE[position % PALETTE.len()]
}

pub fn failed() -> Style {
    Style::new()
        .fg(Color::LightRed)
        .add_modifier(Modifier::BOLD)
}

/// Something the user should act on that is not an error of a command (files not served).
pub fn warning() -> Style {
    Style::new().fg(Color::LightYellow)
}

pub fn succeeded() -> Style {
    Style::new().fg(Color::Green)
}

/// The selected transfer, the log line found by a search.
pub fn selected() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::LightYellow)
        .add_modifier(Modifier::BOLD)
}
