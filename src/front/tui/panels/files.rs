//! This peer's served_files, with files being received shown apart, the files it cannot serve
//! (names the protocol cannot carry) said under them, and who may upload here.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{block, bytes, shorten};
use crate::core::words::counted;
use crate::front::tui::state::served_files::{FileRow, ServedFiles};
use crate::front::tui::theme;

/// The upload status in lines of at most `width`, broken between its " · " parts.
fn fold(status: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in status.split(" · ") {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 3 + part.chars().count() <= width => {
                line.push_str(" · ");
                line.push_str(part);
            }
            _ => lines.push(shorten(part, width)),
        }
    }
    lines
}

/// The files not served, in words: in full (count, where the reasons are, each name escaped so
/// that a control character cannot upset the screen; " · " between parts, for `fold`), and the
/// one-line forms, longest first.
fn unservable(names: &[String]) -> (String, [String; 2]) {
    let count = format!("{} not servable", counted(names.len() as u64, "name"));
    let mut full = vec![count.clone(), "see p2p-tui.log".to_string()];
    full.extend(names.iter().map(|n| n.escape_debug().to_string()));
    (full.join(" · "), [format!("{count} (see log)"), count])
}

pub fn render(frame: &mut Frame, area: Rect, served: &ServedFiles) {
    let width = area.width.saturating_sub(2) as usize;
    let now = Instant::now();
    let mut lines: Vec<Line> = (served.files.iter())
        .map(|f| file_line(f, width, now))
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("(no files)", theme::dim()));
    }
    // Below the files: the names not served (a warning: the user put them there to share
    // them), then who may write here, dim. When rows are short each gets one line, cut, in
    // place of the last files (the count in the title still says how many there are).
    let inner = area.height.saturating_sub(2) as usize;
    let room = inner.saturating_sub(lines.len());
    let (warning, status) = notes(served, width, room);
    let bottom = warning.len() + status.len();
    if inner > bottom {
        lines.truncate(inner - bottom);
        lines.extend(
            warning
                .into_iter()
                .map(|l| Line::styled(l, theme::warning())),
        );
        lines.extend(status.into_iter().map(|l| Line::styled(l, theme::dim())));
    } else if inner > 0 && !warning.is_empty() {
        // One row: the warning wins over the files.
        lines.truncate(inner - 1);
        lines.extend(
            warning
                .into_iter()
                .take(1)
                .map(|l| Line::styled(l, theme::warning())),
        );
    }
    let title = format!("Served files ({})", served.served());
    frame.render_widget(Paragraph::new(lines).block(block(&title)), area);
}

/// One file: its name (cut to fit) and its size, or that it is being received.
fn file_line(f: &FileRow, width: usize, now: Instant) -> Line<'static> {
    let (size, style) = if f.receiving {
        ("receiving".to_string(), theme::receiving())
    } else if f.new_until.is_some_and(|t| t > now) {
        (bytes(f.size), theme::highlight())
    } else {
        (bytes(f.size), ratatui::style::Style::new())
    };
    let name_width = width.saturating_sub(size.len() + 1).max(1);
    let name = shorten(&f.name, name_width);
    let size_style = if f.receiving {
        theme::receiving()
    } else {
        theme::dim()
    };
    Line::from(vec![
        Span::styled(format!("{name:<name_width$} "), style),
        Span::styled(size, size_style),
    ])
}

/// The warning about names not served and the upload status, in lines of `width`; with fewer
/// than `room` rows the upload status goes to one line first, then the warning.
fn notes(served: &ServedFiles, width: usize, room: usize) -> (Vec<String>, Vec<String>) {
    let not_served = (!served.unservable.is_empty()).then(|| unservable(&served.unservable));
    let mut warning = not_served
        .as_ref()
        .map_or_else(Vec::new, |(full, _)| fold(full, width));
    let uploads = served.uploads.as_ref().map(ToString::to_string);
    let mut status = (uploads.as_ref()).map_or_else(Vec::new, |uploads| fold(uploads, width));
    if warning.len() + status.len() > room
        && let Some(uploads) = &uploads
    {
        status = vec![shorten(uploads, width)];
    }
    if warning.len() + status.len() > room
        && let Some((_, short)) = &not_served
    {
        let rows = room.saturating_sub(status.len());
        if rows >= 2 {
            // The count first, then the names that fit; "…" says some are left out.
            warning.truncate(rows);
            if let Some(last) = warning.last_mut() {
                *last = shorten(&format!("{last} …"), width);
            }
        } else {
            let fits = short.iter().find(|s| s.chars().count() <= width);
            warning = vec![fits.cloned().unwrap_or_else(|| shorten(&short[0], width))];
        }
    }
    (warning, status)
}
