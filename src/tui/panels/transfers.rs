//! Transfers: per running or recent upload/download an overall gauge (bytes, rate, ETA), a row
//! per serving peer with the chunks round robin gives it (i mod n), and a chunk map coloured by
//! the peer each chunk came from, so the stripes show. Peers that left turn red; what happened is
//! said in words.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, bytes};
use crate::peer::transfer::progress::{Cell, Direction, Outcome, TransferSnapshot};
use crate::tui::app::App;
use crate::tui::theme;
use crate::words::counted;

/// Rows of chunk map per download.
const MAP_ROWS: usize = 3;
const NOTES_SHOWN: usize = 2;

/// Rows the panel would like (0: no transfers, panel hidden).
pub fn height_wanted(app: &App, _width: u16) -> u16 {
    if app.transfers.is_empty() {
        return 0;
    }
    let rows: usize = app.transfers.iter().rev().take(3).map(rows_of).sum();
    rows as u16 + 2
}

fn rows_of(t: &TransferSnapshot) -> usize {
    let map = if t.direction == Direction::Download && t.chunks > 0 {
        MAP_ROWS
    } else {
        0
    };
    2 + t.peers.len() + map + t.notes.len().min(NOTES_SHOWN)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let width = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    // Newest first.
    for t in app.transfers.iter().rev() {
        lines.extend(transfer_lines(t, width));
    }
    let running = app
        .transfers
        .iter()
        .filter(|t| t.outcome == Outcome::Running)
        .count();
    let title = format!("Transfers ({running} running)");
    let panel = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block(&title));
    frame.render_widget(panel, area);
}

fn transfer_lines(t: &TransferSnapshot, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![header(t), gauge(t, width)];
    lines.extend((0..t.peers.len()).map(|p| peer_row(t, p, width)));
    if t.direction == Direction::Download && t.chunks > 0 {
        lines.extend(chunk_map(t, width));
    }
    let notes = &t.notes;
    for note in notes.iter().skip(notes.len().saturating_sub(NOTES_SHOWN)) {
        lines.push(Line::styled(format!("  {note}"), theme::failed()));
    }
    lines
}

fn header(t: &TransferSnapshot) -> Line<'static> {
    let (arrow, verb) = match t.direction {
        Direction::Download => ("⇩", "from"),
        Direction::Upload => ("⇧", "to"),
    };
    let rate = bytes(t.rate as u64);
    let took = duration(t.elapsed.as_secs_f64());
    let (state, style) = match t.outcome {
        Outcome::Running => {
            let eta = t.eta().map_or("ETA …".into(), |eta| {
                format!("ETA {}", duration(eta.as_secs_f64()))
            });
            (format!("{rate}/s  {eta}"), theme::title())
        }
        Outcome::Succeeded => (format!("done in {took}, {rate}/s"), theme::succeeded()),
        Outcome::Failed => (format!("FAILED after {took}"), theme::failed()),
    };
    Line::from(vec![
        Span::styled(format!("{arrow} {} ", t.file), theme::title()),
        Span::styled(
            format!("{verb} {}  ", counted(t.peers.len() as u64, "peer")),
            theme::dim(),
        ),
        Span::raw(format!("{} / {}  ", bytes(t.bytes), bytes(t.size))),
        Span::styled(state, style),
    ])
}

fn gauge(t: &TransferSnapshot, width: usize) -> Line<'static> {
    let ratio = if t.size == 0 {
        1.0
    } else {
        t.bytes as f64 / t.size as f64
    };
    let bar_width = width.saturating_sub(8).max(1);
    let filled = ((ratio * bar_width as f64).round() as usize).min(bar_width);
    Line::from(vec![
        Span::raw("  "),
        Span::styled("█".repeat(filled), Style::new().fg(Color::Green)),
        Span::styled("░".repeat(bar_width - filled), theme::dim()),
        Span::raw(format!(" {:>3.0}%", ratio * 100.0)),
    ])
}

fn peer_row(t: &TransferSnapshot, position: usize, width: usize) -> Line<'static> {
    let p = &t.peers[position];
    let (done, assigned, in_flight) = (p.done, p.assigned, p.in_flight);
    // Narrow panels get the short forms.
    let wide = width >= 72;
    let n = t.peers.len();
    let share = match (t.direction, wide) {
        (Direction::Download, true) => format!("chunks i mod {n} = {position}"),
        (Direction::Download, false) => format!("i%{n}={position}"),
        (Direction::Upload, _) => "all chunks".to_string(),
    };
    let colour = Style::new().fg(theme::peer(position));
    let mut spans = vec![
        Span::styled(format!("  ■ {:<4}", p.id), colour),
        Span::styled(
            format!("{share:<w$} ", w = if wide { 19 } else { 7 }),
            theme::dim(),
        ),
    ];
    let rate = if p.stalled {
        "stalled".to_string()
    } else {
        format!("{}/s", bytes(p.rate as u64))
    };
    spans.push(match (p.left, wide) {
        // A peer that never took part did not leave anything: it refused or was unreachable
        // (the note under the transfer says which).
        (true, _) if done == 0 && t.direction == Direction::Upload => {
            Span::styled("did not take the upload", theme::failed())
        }
        (true, _) if done == 0 => Span::styled("sent no chunk", theme::failed()),
        (true, true) => Span::styled(
            format!("left mid-transfer after {}", counted(done, "chunk")),
            theme::failed(),
        ),
        (true, false) => Span::styled(format!("left after {done}"), theme::failed()),
        (false, true) => Span::raw(format!(
            "done {done}/{assigned}  in flight {in_flight}  {rate}"
        )),
        (false, false) => Span::raw(format!("{done}/{assigned} +{in_flight} {rate}")),
    });
    Line::from(spans)
}

/// The chunk map: the transfer's cells squeezed onto `MAP_ROWS` rows of the panel's width.
fn chunk_map(t: &TransferSnapshot, width: usize) -> Vec<Line<'static>> {
    let cells = &t.cells;
    let slots = (width.saturating_sub(2) * MAP_ROWS).max(1);
    // Never stretch: a small file keeps one slot per cell.
    let shown = slots.min(cells.len());
    let per_slot = cells.len().div_ceil(shown).max(1);
    let spans: Vec<Span<'static>> = cells.chunks(per_slot).map(slot).collect();
    let row_width = width.saturating_sub(2).max(1);
    let mut lines: Vec<Line<'static>> = spans
        .chunks(row_width)
        .map(|row| {
            let mut s = vec![Span::raw("  ")];
            s.extend(row.iter().cloned());
            Line::from(s)
        })
        .collect();
    lines.resize(MAP_ROWS, Line::from(""));
    lines
}

/// One slot of the map: full, partly or not received; coloured by the latest peer; red if its
/// chunks were taken over from a peer that left and are still missing.
fn slot(cells: &[Cell]) -> Span<'static> {
    let done: u32 = cells.iter().map(|c| c.done).sum();
    let of: u32 = cells.iter().map(|c| c.of).sum();
    let owner = cells.iter().rev().find_map(|c| c.owner);
    let reassigned = cells.iter().any(|c| c.reassigned);
    let symbol = if done >= of {
        "█"
    } else if done > 0 {
        "▒"
    } else {
        "·"
    };
    let style = match (owner, reassigned && done < of) {
        (_, true) => Style::new().fg(Color::LightRed),
        (Some(p), false) => Style::new().fg(theme::peer(p)),
        (None, false) => theme::dim(),
    };
    let style = if reassigned && done >= of {
        style.bg(Color::Red)
    } else {
        style
    };
    Span::styled(symbol, style)
}

fn duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}
