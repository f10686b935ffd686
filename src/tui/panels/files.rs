//! This peer's served_files, with files being received shown apart.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, bytes};
use crate::tui::app::App;
use crate::tui::theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let width = area.width.saturating_sub(2) as usize;
    let now = Instant::now();
    let mut lines: Vec<Line> = app
        .files
        .iter()
        .map(|f| {
            let (size, style) = if f.receiving {
                ("receiving".to_string(), theme::receiving())
            } else if f.new_until.is_some_and(|t| t > now) {
                (bytes(f.size), theme::highlight())
            } else {
                (bytes(f.size), ratatui::style::Style::new())
            };
            let name_width = width.saturating_sub(size.len() + 1).max(1);
            let mut name = f.name.clone();
            if name.chars().count() > name_width {
                name = name
                    .chars()
                    .take(name_width.saturating_sub(1))
                    .collect::<String>()
                    + "…";
            }
            Line::from(vec![
                Span::styled(format!("{name:<name_width$} "), style),
                Span::styled(
                    size,
                    if f.receiving {
                        theme::receiving()
                    } else {
                        theme::dim()
                    },
                ),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("(no files)", theme::dim()));
    }
    let served = app.files.iter().filter(|f| !f.receiving).count();
    frame.render_widget(
        Paragraph::new(lines).block(block(&format!("Served files ({served})"))),
        area,
    );
}
