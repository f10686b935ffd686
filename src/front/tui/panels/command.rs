//! The command bar (tui-input) and its one-line message.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::front::tui::state::command_bar::{Bar, BarMode};
use crate::front::tui::state::effect::BarMessage;
use crate::front::tui::theme;

/// The bar, its border lit when `focused`, the terminal's cursor in it when `cursor`.
pub fn render(frame: &mut Frame, area: Rect, bar: &Bar, focused: bool, cursor: bool) {
    let inner_width = area.width.saturating_sub(4) as usize;
    let scroll = bar.line.input.visual_scroll(inner_width);
    let searching = bar.mode == BarMode::Search;
    let title = match &bar.message {
        _ if searching => Line::styled(
            " Search the log: type, Enter finds (n older, N newer), Esc cancels ",
            theme::title(),
        ),
        Some(BarMessage {
            text,
            is_error: true,
        }) => Line::from(vec![
            Span::raw(" "),
            Span::styled(text.as_str(), theme::error_message()),
            Span::raw(" "),
        ]),
        Some(BarMessage { text, .. }) => Line::from(format!(" {text} ")),
        None => Line::styled(
            " Command: #FILELIST | #UPLOAD f | #DOWNLOAD f, then peers (Tab completes) ",
            theme::dim(),
        ),
    };
    let input = Paragraph::new(Line::from(vec![
        Span::styled(if searching { "/ " } else { "> " }, theme::dim()),
        Span::raw(bar.value()),
    ]))
    .scroll((0, scroll as u16))
    .block(
        Block::new()
            .borders(Borders::ALL)
            .border_style(theme::border(focused))
            .title(title),
    );
    frame.render_widget(input, area);
    if cursor {
        let cursor = bar.line.input.visual_cursor().saturating_sub(scroll) as u16;
        frame.set_cursor_position(Position::new(area.x + 3 + cursor, area.y + 1));
    }
}
