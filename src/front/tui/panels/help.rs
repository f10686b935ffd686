//! The help overlay: every key and command.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};

use super::block;
use crate::peer::command::HELP;

pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "run the command in the bar (echoed into the log)"),
    ("Up / Down", "command history (kept in the peer directory)"),
    (
        "Tab",
        "complete (again: next candidate); empty bar: next panel",
    ),
    (
        "Shift-Tab",
        "previous panel (Command, Transfers, Log, Network)",
    ),
    ("Esc", "clear the bar / end a search / back to the bar"),
    ("PgUp / PgDn, wheel", "scroll the message log a page"),
    ("Home / End", "the log's oldest page / follow the newest"),
    ("f", "log: hide per-chunk lines / show every line"),
    ("/  n  N", "search the log; n older match, N newer"),
    ("Transfers: j/k, ↑/↓", "select a transfer (or click it)"),
    (
        "Transfers: d, Del",
        "cancel the selected transfer (partial file removed)",
    ),
    (
        "Transfers: c / C",
        "clear the selected finished transfer / all finished",
    ),
    ("Log: j/k, g/G", "a line down/up, oldest/newest"),
    (
        "Network files: Enter",
        "download the selected file from every holder",
    ),
    ("? or F1", "this help"),
    (
        "F2, F3, F4 (--demo)",
        "take demo peer p2, p3, p4 offline / bring it back",
    ),
    (
        "q, Ctrl-C",
        "quit, partials removed (q asks first if transfers run)",
    ),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| Line::from(format!("{key:<22}{what}")))
        .collect();
    // The commands too, where they fit (#HELP lists them in the log).
    if lines.len() + 2 + HELP.lines().count() < usize::from(area.height) {
        lines.push(Line::from(""));
        lines.extend(HELP.lines().map(Line::from));
    } else {
        lines.push(Line::from("Commands: #HELP lists them in the log"));
    }
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

#[cfg(test)]
mod tests {
    use super::KEYS;

    /// A key as both places write it, for comparison: the README's backticks dropped, runs of
    /// spaces made one.
    fn normalized(key: &str) -> String {
        key.replace('`', "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The README's key table and this overlay list the same keys, in the same order.
    #[test]
    fn the_readme_key_table_lists_the_overlays_keys() {
        let readme = include_str!("../../../../README.md");
        let table: Vec<String> = readme
            .split("\n## Keys of the full-screen UI\n")
            .nth(1)
            .expect("the README has a key table section")
            .lines()
            .take_while(|line| !line.starts_with("## "))
            .filter(|line| line.starts_with("| ") && !line.starts_with("| key |"))
            .filter(|line| !line.starts_with("| ---"))
            .filter_map(|line| line.split(" | ").next())
            .map(|cell| normalized(cell.trim_start_matches("| ")))
            .collect();
        let overlay: Vec<String> = KEYS.iter().map(|(key, _)| normalized(key)).collect();
        assert_eq!(table, overlay);
    }
}
