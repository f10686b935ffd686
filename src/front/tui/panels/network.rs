//! What the network offers: the files other peers listed (`#FILELIST` replies) and, with
//! `--join`, the tracker's directory, grouped by name with who holds them (settings IDs where
//! known). Focused, j/k select and Enter downloads from every holder; a holder seen going
//! offline is marked "(off)" and skipped.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::block;
use crate::core::words::counted;
use crate::front::tui::state::network_files::{NetworkFile, NetworkFiles};
use crate::front::tui::state::peers::Peers;
use crate::front::tui::theme;
use crate::tracker::join::NetworkView;

/// Rows above the first file (the tracker's state, with `--join`).
pub fn first_file_row(network: &NetworkFiles) -> usize {
    usize::from(network.tracker.is_some())
}

pub fn render(frame: &mut Frame, area: Rect, network: &NetworkFiles, peers: &Peers, focused: bool) {
    let width = usize::from(area.width.saturating_sub(2));
    let height = usize::from(area.height.saturating_sub(2));
    let files = network.files(peers);
    let mut lines = Vec::new();
    if let Some(view) = &network.tracker {
        lines.push(tracker_line(view, &files, width));
    }
    if files.is_empty() {
        lines.push(Line::styled("(none yet: #FILELIST)", theme::dim()));
    }
    let rows = height.saturating_sub(lines.len()).max(1);
    // Keep the selection in sight.
    let skip = network.selected.saturating_sub(rows - 1);
    for (n, file) in files.iter().enumerate().skip(skip).take(rows) {
        let selected = focused && n == network.selected;
        lines.push(file_line(file, peers, width, selected));
    }
    let title = format!("Network files ({})", files.len());
    frame.render_widget(
        Paragraph::new(lines).block(block(&title).border_style(theme::border(focused))),
        area,
    );
}

/// `tracker 127.0.0.1:9000: 3 peers`, or "not connected"; the address goes first when short.
fn tracker_line(view: &NetworkView, files: &[NetworkFile], width: usize) -> Line<'static> {
    let mut peers: Vec<&str> = (files.iter())
        .flat_map(|f| f.holders.iter().map(|h| h.name()))
        .collect();
    peers.sort();
    peers.dedup();
    let state = if view.connected {
        counted(peers.len() as u64, "peer")
    } else {
        "not connected".to_string()
    };
    let full = format!("tracker {}: {state}", view.tracker);
    let text = if full.chars().count() <= width {
        full
    } else {
        format!("tracker: {state}")
    };
    let style = if view.connected {
        theme::online()
    } else {
        theme::offline()
    };
    Line::styled(text, style)
}

/// A file's name (cut to what its holders leave), then its holders.
fn file_line(file: &NetworkFile, peers: &Peers, width: usize, selected: bool) -> Line<'static> {
    // A holder seen going offline is marked, not dropped: it may come back with the same
    // files, and Enter skips it meanwhile.
    let holders: Vec<(String, bool)> = file
        .holders
        .iter()
        .map(|h| {
            let off = peers.holder_offline(h);
            let name = h.name();
            (
                if off {
                    format!("{name}(off)")
                } else {
                    name.to_string()
                },
                off,
            )
        })
        .collect();
    let holders_width = holders
        .iter()
        .map(|(h, _)| h.chars().count() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    let name_width = width.saturating_sub(holders_width + 1).max(4);
    let name = super::shorten(&file.name, name_width);
    let all_offline = holders.iter().all(|(_, off)| *off);
    let style = if selected {
        theme::selected()
    } else if all_offline {
        theme::dim()
    } else {
        Style::new()
    };
    let mut spans = vec![Span::styled(format!("{name:<name_width$} "), style)];
    for (k, (holder, off)) in holders.into_iter().enumerate() {
        if k > 0 {
            spans.push(Span::raw(" "));
        }
        let style = if off { theme::offline() } else { theme::dim() };
        spans.push(Span::styled(holder, style));
    }
    Line::from(spans)
}
