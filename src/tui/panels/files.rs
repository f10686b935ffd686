//! This peer's served_files, with files being received shown apart.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, bytes};
use crate::tui::app::App;
use crate::tui::theme;

/// The upload status in lines of at most `width`, broken between its " · " parts.
fn fold(status: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in status.split(" · ") {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 3 + part.chars().count() <= width => {
                line.push_str(" · ");
                line.push_str(part);
            }
            _ => lines.push(clip(part, width)),
        }
    }
    lines
}

/// `text` cut to `width` characters, with "…" when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

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
    // Who may write here, last and dim: under the files when there is room, else in place of
    // the last one (the count in the title still says how many there are).
    if let Some(uploads) = &app.uploads {
        let inner = area.height.saturating_sub(2) as usize;
        let mut status = fold(uploads, width);
        if status.len() > inner.saturating_sub(lines.len()) {
            // Short of rows: one line, cut.
            status = vec![clip(uploads, width)];
        }
        if inner > status.len() {
            lines.truncate(inner - status.len());
            lines.extend(status.into_iter().map(|l| Line::styled(l, theme::dim())));
        }
    }
    let served = app.files.iter().filter(|f| !f.receiving).count();
    frame.render_widget(
        Paragraph::new(lines).block(block(&format!("Served files ({served})"))),
        area,
    );
}
