//! The message log: the seed's exact lines, coloured by kind, scrollable, following the newest.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::block;
use crate::tui::app::App;
use crate::tui::theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(2) as usize;
    let end = app.log.len().saturating_sub(app.scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = app
        .log
        .range(start..end)
        .map(|(kind, text)| Line::styled(text.as_str(), theme::line(*kind)))
        .collect();
    let title = if app.scroll > 0 {
        format!(
            "Message log (scrolled back {} lines, End to follow)",
            app.scroll
        )
    } else {
        "Message log".to_string()
    };
    frame.render_widget(Paragraph::new(lines).block(block(&title)), area);
}
