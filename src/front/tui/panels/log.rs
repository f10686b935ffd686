//! The message log: the seed's exact lines, coloured by kind, scrollable with a scrollbar,
//! following the newest; per-chunk lines hidden in the filtered view; search matches marked.

use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};

use super::block;
use super::transfers::wrap;
use crate::front::tui::state::log_view::LogView;
use crate::front::tui::theme;

pub fn render(frame: &mut Frame, area: Rect, log: &LogView, focused: bool) {
    let height = usize::from(area.height.saturating_sub(2));
    // One column is the scrollbar's; long lines wrap (a takeover note is read whole).
    let width = usize::from(area.width.saturating_sub(3)).max(10);
    let view = log.view();
    let (lines, start) = rows_shown(log, &view, width, height);
    let mut title = if log.hide_chunks {
        "Message log, no chunk lines (f: all)".to_string()
    } else {
        "Message log (f: hide chunk lines)".to_string()
    };
    if log.scroll > 0 {
        title.push_str(&format!(", {} newer below (End)", log.scroll));
    }
    let panel = block(&title).border_style(theme::border(focused));
    frame.render_widget(Paragraph::new(lines).block(panel), area);
    if view.len() > height {
        // The scrollbar's position is the top line shown.
        let mut state = ScrollbarState::new(view.len().saturating_sub(height))
            .position(start)
            .viewport_content_length(height);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None)
                .thumb_style(Style::new().fg(ratatui::style::Color::Gray))
                .track_style(theme::dim()),
            area.inner(Margin {
                vertical: 1,
                horizontal: 0,
            }),
            &mut state,
        );
    }
}

/// The rows the view shows, wrapped to `width`, filled from the newest line shown upwards;
/// and the view position of the oldest line shown (the scrollbar's).
fn rows_shown(
    log: &LogView,
    view: &[usize],
    width: usize,
    height: usize,
) -> (Vec<Line<'static>>, usize) {
    let end = view.len().saturating_sub(log.scroll);
    let search = log.search.as_deref();
    let mut rows: Vec<Line> = Vec::with_capacity(height);
    let mut start = end;
    for &i in view[..end].iter().rev() {
        if rows.len() >= height {
            break;
        }
        let Some(line) = log.log.get(i) else { continue };
        let mut style = theme::line(line.kind);
        if Some(line.seq) == log.hit {
            style = theme::selected();
        } else if search.is_some_and(|s| line.text.contains(s)) {
            style = style.add_modifier(Modifier::UNDERLINED);
        }
        for piece in wrap(&line.text, width).into_iter().rev() {
            if rows.len() < height {
                rows.push(Line::styled(piece, style));
            }
        }
        start -= 1;
    }
    rows.reverse();
    (rows, start)
}
