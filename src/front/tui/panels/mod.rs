//! One file per panel; each draws from its state (state/) into its area and changes nothing.
//! May import: state/, areas.rs, theme.rs; status.rs reads `App` (focus and the running count).

pub mod command;
pub mod files;
pub mod help;
pub mod log;
pub mod network;
pub mod peers;
pub mod status;
pub mod transfers;

use ratatui::text::Line;
use ratatui::widgets::{Block, Borders};

use crate::front::tui::theme;

/// The bordered block every panel sits in.
pub fn block(title: &str) -> Block<'_> {
    Block::new()
        .borders(Borders::ALL)
        .border_style(theme::border(false))
        .title(Line::styled(format!(" {title} "), theme::title()))
}

/// Human-readable byte counts: 950 B, 1.0 MB, 1.1 GB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `text` cut to `width` characters, an ellipsis marking the cut.
pub fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    text.chars()
        .take(width.saturating_sub(1))
        .chain(['…'])
        .collect()
}
