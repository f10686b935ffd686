//! With `--join`: what the tracker knows (live peers and the newest holder of each name).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::block;
use crate::tracker::join::NetworkView;
use crate::tui::theme;

pub fn render(frame: &mut Frame, area: Rect, view: &NetworkView) {
    let width = area.width.saturating_sub(2) as usize;
    let mut peers: Vec<(String, u16)> = view
        .directory
        .values()
        .map(|h| (h.ip.clone(), h.port))
        .collect();
    peers.sort();
    peers.dedup();
    let state = if view.connected {
        Span::styled(
            format!(
                "{}, {}",
                crate::words::counted(peers.len() as u64, "peer"),
                crate::words::counted(view.directory.len() as u64, "file")
            ),
            theme::online(),
        )
    } else {
        Span::styled("not connected", theme::offline())
    };
    let mut lines = vec![
        Line::styled(format!("tracker {}", view.tracker), theme::dim()),
        Line::from(state),
    ];
    for (name, holder) in &view.directory {
        // Narrow columns show the holder's port alone.
        let full = format!("{}:{}", holder.ip, holder.port);
        let at = if width >= full.len() + 12 {
            full
        } else {
            format!(":{}", holder.port)
        };
        let name_width = width.saturating_sub(at.len() + 1).max(1);
        let shown: String = if name.chars().count() > name_width {
            name.chars()
                .take(name_width.saturating_sub(1))
                .chain(['…'])
                .collect()
        } else {
            name.clone()
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{shown:<name_width$} ")),
            Span::styled(at, theme::dim()),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block("Network")), area);
}
