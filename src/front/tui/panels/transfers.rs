//! Transfers: per running or recent upload/download a header (file, rate, ETA), a gauge (bytes
//! and percent) beside a sparkline of the rate (the App's history, one sample a second), a row
//! per serving peer with the chunks round robin gives it (i mod n), what happened in words (takeovers, failures: wrapped, never cut), and a chunk map coloured by the
//! peer each chunk came from, under a legend. When rows are short, the map shrinks first: the
//! words and the numbers are what a user needs.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, RenderDirection, Sparkline};

use super::{block, bytes, shorten};
use crate::core::words::counted;
use crate::front::tui::areas::TransferRows;
use crate::front::tui::state::rate_history::RATE_SAMPLES;
use crate::front::tui::state::transfers::Transfers;
use crate::front::tui::theme;
use crate::peer::transfer::progress::{Cell, Direction, Outcome, TransferSnapshot};

/// Rows of chunk map per download, room permitting.
const MAP_ROWS: usize = 3;
/// Notes (takeovers, failures) shown per transfer, newest last.
const NOTES_SHOWN: usize = 2;
/// Transfers the panel asks room for (the newest; older ones show if room is left).
const ROOM_FOR: usize = 3;

/// Rows the panel would like (0: no transfers, panel hidden), for an area `width` wide.
pub fn height_wanted(transfers: &Transfers, width: u16) -> u16 {
    if transfers.list.is_empty() {
        return 0;
    }
    let inner = usize::from(width.saturating_sub(2));
    let rows: usize = (transfers.list.iter())
        .rev()
        .take(ROOM_FOR)
        .map(|t| rows_of(t, inner, MAP_ROWS))
        .sum();
    rows as u16 + 2
}

fn has_map(t: &TransferSnapshot) -> bool {
    t.direction == Direction::Download && t.chunks > 0
}

/// Rows one transfer takes at `width` with `map_rows` rows of chunk map (plus its legend).
fn rows_of(t: &TransferSnapshot, width: usize, map_rows: usize) -> usize {
    let map = if has_map(t) && map_rows > 0 {
        1 + map_rows
    } else {
        0
    };
    2 + t.peers.len() + note_lines(t, width).len() + map
}

/// The newest notes, wrapped to the panel's width.
fn note_lines(t: &TransferSnapshot, width: usize) -> Vec<String> {
    let notes = &t.notes;
    notes
        .iter()
        .skip(notes.len().saturating_sub(NOTES_SHOWN))
        .flat_map(|note| wrap(note, width.saturating_sub(2).max(10)))
        .collect()
}

/// Draws the transfers that fit, newest first; says which rows each took (for clicks).
pub fn render(
    frame: &mut Frame,
    area: Rect,
    transfers: &Transfers,
    focused: bool,
) -> Vec<TransferRows> {
    let running = transfers.running();
    let mut title = format!("Transfers ({running} running)");
    if transfers.list.len() > running {
        title.push_str(&format!(", {} finished", transfers.list.len() - running));
    }
    let panel = block(&title).border_style(theme::border(focused));
    let inner = panel.inner(area);
    frame.render_widget(panel, area);
    let places = placements(transfers, inner.width, inner.height);
    for place in &places {
        let at = Rect::new(inner.x, inner.y + place.top, inner.width, place.rows);
        let selected = transfers.selected_index == Some(place.index);
        render_transfer(
            frame,
            at,
            &transfers.list[place.index],
            transfers.rate_history(place.index),
            place.map_rows,
            selected,
        );
    }
    (places.into_iter())
        .map(|p| TransferRows {
            index: p.index,
            top: p.top,
            rows: p.rows,
        })
        .collect()
}

/// Where a transfer goes in the panel.
struct Placement {
    index: usize,
    top: u16,
    rows: u16,
    map_rows: usize,
}

/// The transfers that fit, newest first, each with its map shrunk until it fits (and dropped,
/// legend and all, when even one row does not).
fn placements(transfers: &Transfers, width: u16, height: u16) -> Vec<Placement> {
    let width = usize::from(width);
    let mut places = Vec::new();
    let mut top = 0u16;
    for (index, t) in transfers.list.iter().enumerate().rev() {
        if top >= height {
            break;
        }
        let left = usize::from(height - top);
        let map_rows = (0..=MAP_ROWS)
            .rev()
            .find(|&rows| rows_of(t, width, rows) <= left)
            .unwrap_or(0);
        let rows = rows_of(t, width, map_rows).min(left) as u16;
        places.push(Placement {
            index,
            top,
            rows,
            map_rows,
        });
        top += rows;
    }
    places
}

fn render_transfer(
    frame: &mut Frame,
    area: Rect,
    t: &TransferSnapshot,
    rates: &VecDeque<u64>,
    map_rows: usize,
    selected: bool,
) {
    let width = usize::from(area.width);
    let row = |n: u16| Rect::new(area.x, area.y + n, area.width, 1);
    let fits = |n: u16| n < area.height;
    frame.render_widget(Paragraph::new(header(t, width, selected)), row(0));
    if fits(1) {
        let gauge_area = Rect::new(area.x + 2, area.y + 1, area.width.saturating_sub(2), 1);
        // A running transfer keeps the room from the start (no jump at its first sample); one
        // that ended before a sample was taken needs none.
        let spark = if rates.is_empty() && t.outcome != Outcome::Running {
            0
        } else {
            sparkline_width(gauge_area.width)
        };
        let gauge_area = Rect {
            width: gauge_area.width - spark,
            ..gauge_area
        };
        frame.render_widget(gauge(t), gauge_area);
        if spark > 1 {
            let spark_area = Rect::new(gauge_area.right() + 1, gauge_area.y, spark - 1, 1);
            frame.render_widget(sparkline(rates), spark_area);
        }
    }
    let mut lines: Vec<Line> = (0..t.peers.len()).map(|p| peer_row(t, p, width)).collect();
    lines.extend(
        note_lines(t, width)
            .into_iter()
            .map(|l| Line::styled(format!("  {l}"), theme::failed())),
    );
    if has_map(t) && map_rows > 0 {
        lines.push(legend(t, width, map_rows));
        lines.extend(chunk_map(t, width, map_rows));
    }
    let rest = Rect::new(
        area.x,
        area.y + 2,
        area.width,
        area.height.saturating_sub(2),
    );
    if rest.height > 0 {
        frame.render_widget(Paragraph::new(lines), rest);
    }
}

/// `⇩ file from 3 peers  500.0 kB/s  ETA 3s`: the state never cut; the peer count goes first,
/// then the name is shortened.
fn header(t: &TransferSnapshot, width: usize, selected: bool) -> Line<'static> {
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
    let marker = if selected { "▶" } else { arrow };
    let mut whom = format!(" {verb} {}", counted(t.peers.len() as u64, "peer"));
    let fixed = 2 + 2 + state.chars().count();
    if fixed + t.file.chars().count() + whom.chars().count() > width {
        whom.clear();
    }
    let name = shorten(&t.file, width.saturating_sub(fixed + whom.chars().count()));
    let name_style = if selected {
        theme::selected()
    } else {
        theme::title()
    };
    Line::from(vec![
        Span::styled(format!("{marker} "), name_style),
        Span::styled(name, name_style),
        Span::styled(format!("{whom}  "), theme::dim()),
        Span::styled(state, style),
    ])
}

/// Columns of the gauge's row given to the rate sparkline (a space included): a third of the
/// row, at most a minute of samples, none on rows too narrow for the gauge to stay readable.
fn sparkline_width(row: u16) -> u16 {
    if row < SPARKLINE_FROM {
        0
    } else {
        (row / 3).min(RATE_SAMPLES as u16 + 1)
    }
}

/// The narrowest gauge row that also gets a sparkline.
const SPARKLINE_FROM: u16 = 40;

/// The rate over the last seconds (ratatui's `Sparkline`), newest at the right edge, scaled
/// to the highest rate shown.
fn sparkline(rates: &VecDeque<u64>) -> Sparkline<'static> {
    Sparkline::default()
        .data(rates.iter().rev())
        .direction(RenderDirection::RightToLeft)
        .style(Style::new().fg(Color::Cyan))
}

/// ratatui's `LineGauge`, labelled with bytes and percent.
fn gauge(t: &TransferSnapshot) -> LineGauge<'static> {
    let ratio = if t.size == 0 {
        1.0
    } else {
        (t.bytes as f64 / t.size as f64).clamp(0.0, 1.0)
    };
    let label = format!(
        "{} / {} {:>3.0}%",
        bytes(t.bytes),
        bytes(t.size),
        ratio * 100.0
    );
    LineGauge::default()
        .ratio(ratio)
        .label(label)
        .filled_symbol("█")
        .unfilled_symbol("░")
        .filled_style(Style::new().fg(Color::Green))
        .unfilled_style(theme::dim())
}

fn peer_row(t: &TransferSnapshot, position: usize, width: usize) -> Line<'static> {
    let p = &t.peers[position];
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
            format!("{share:<w$} ", w = if wide { 19 } else { 6 }),
            theme::dim(),
        ),
    ];
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    spans.push(peer_state(t, position, wide, width.saturating_sub(used)));
    Line::from(spans)
}

/// What a serving peer is doing: its chunks done, assigned and in flight, its window and rate;
/// or that it left (after how many chunks). `room`: the columns left on its row.
fn peer_state(t: &TransferSnapshot, position: usize, wide: bool, room: usize) -> Span<'static> {
    let p = &t.peers[position];
    let (done, assigned, in_flight) = (p.done, p.assigned, p.in_flight);
    // The adaptive window: how many requests the peer may have out (hundreds for a fast
    // peer, one or two for a slow one).
    let window = match p.window {
        0 => String::new(),
        w => format!("/{w}"),
    };
    let rate = if p.stalled {
        "stalled".to_string()
    } else {
        format!("{}/s", bytes(p.rate as u64))
    };
    match (p.left, wide) {
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
        (true, false) => Span::styled(
            format!("left after {}", counted(done, "chunk")),
            theme::failed(),
        ),
        (false, true) => Span::raw(format!(
            "done {done}/{assigned}  in flight {in_flight}{window}  {rate}"
        )),
        (false, false) => {
            let long = format!("{done}/{assigned} +{in_flight}{window} in flight {rate}");
            // The words go first when the numbers are long (the README's key explains +N/W).
            if long.chars().count() <= room {
                Span::raw(long)
            } else {
                Span::raw(format!("{done}/{assigned} +{in_flight}{window} {rate}"))
            }
        }
    }
}

/// Chunks one symbol of the map stands for, on `map_rows` rows of `width`.
fn chunks_per_symbol(t: &TransferSnapshot, width: usize, map_rows: usize) -> (usize, u64) {
    let cells = t.cells.len();
    let slots = (width.saturating_sub(2) * map_rows).max(1);
    // Never stretch: a small file keeps one slot per cell.
    let shown = slots.min(cells).max(1);
    let per_slot = cells.div_ceil(shown).max(1);
    let chunks_per_cell = if cells == 0 {
        1
    } else {
        t.chunks.div_ceil(cells as u64).max(1)
    };
    (per_slot, chunks_per_cell * per_slot as u64)
}

/// What the map's symbols and colours mean: the longest wording whose items all fit, then the
/// squeeze ("1 symbol = N chunks") if room is left.
fn legend(t: &TransferSnapshot, width: usize, map_rows: usize) -> Line<'static> {
    let (_, per_symbol) = chunks_per_symbol(t, width, map_rows);
    let item = |symbol: &'static str, style: Style, words: &'static str| {
        vec![
            Span::styled(symbol, style),
            Span::styled(words, theme::dim()),
        ]
    };
    let items = |received: &'static str| {
        vec![
            item("█", Style::new().fg(theme::peer(0)), received),
            item(IN_FLIGHT, Style::new().fg(theme::peer(0)), " in flight"),
            item("▒", Style::default(), " partly"),
            item("·", Style::default(), " missing"),
            item("·", Style::new().fg(Color::LightRed), " reassigned"),
        ]
    };
    let len = |item: &[Span]| -> usize { item.iter().map(|s| s.content.chars().count()).sum() };
    let wordings = [
        (" received (peer's colour)", 2),
        (" received", 2),
        (" done", 2),
        (" done", 1),
    ];
    let (chosen, gap) = wordings
        .iter()
        .map(|&(received, gap)| (items(received), gap))
        .find(|(items, gap)| {
            let all: usize = items.iter().map(|i| len(i)).sum::<usize>() + gap * (items.len() - 1);
            2 + all <= width
        })
        .unwrap_or_else(|| (items(" done"), 1));
    let mut chosen = chosen;
    if per_symbol > 1 {
        chosen.push(vec![Span::styled(
            format!("1 symbol = {per_symbol} chunks"),
            theme::dim(),
        )]);
    }
    let mut spans = vec![Span::raw("  ")];
    let mut used = 2;
    for item in chosen {
        let sep = if used > 2 { gap } else { 0 };
        if used + sep + len(&item) > width {
            continue;
        }
        used += sep + len(&item);
        spans.push(Span::raw(" ".repeat(sep)));
        spans.extend(item);
    }
    Line::from(spans)
}

/// The map's symbol for chunks requested and not yet received.
const IN_FLIGHT: &str = "░";

/// The chunk map: the transfer's cells squeezed onto `map_rows` rows of the panel's width.
fn chunk_map(t: &TransferSnapshot, width: usize, map_rows: usize) -> Vec<Line<'static>> {
    let (per_slot, _) = chunks_per_symbol(t, width, map_rows);
    let spans: Vec<Span<'static>> = t.cells.chunks(per_slot).map(slot).collect();
    let row_width = width.saturating_sub(2).max(1);
    let mut lines: Vec<Line<'static>> = spans
        .chunks(row_width)
        .map(|row| {
            let mut s = vec![Span::raw("  ")];
            s.extend(row.iter().cloned());
            Line::from(s)
        })
        .collect();
    lines.resize(map_rows, Line::from(""));
    lines
}

/// One slot of the map: received (in the colour of the peer it came from), in flight (in the
/// colour of the peer asked), partly received, or missing; red while its chunks were taken over
/// from a peer that left and have not all arrived.
fn slot(cells: &[Cell]) -> Span<'static> {
    let done: u32 = cells.iter().map(|c| c.done).sum();
    let of: u32 = cells.iter().map(|c| c.of).sum();
    let in_flight: u32 = cells.iter().map(|c| c.in_flight).sum();
    let owner = cells.iter().rev().find_map(|c| c.owner);
    let asked = cells.iter().rev().find_map(|c| c.asked);
    let reassigned = cells.iter().any(|c| c.reassigned);
    // In flight before partly: what is happening now is worth more than what half happened.
    let (symbol, by) = if done >= of {
        ("█", owner)
    } else if in_flight > 0 {
        (IN_FLIGHT, asked)
    } else if done > 0 {
        ("▒", owner)
    } else {
        ("·", None)
    };
    let style = match (by, reassigned && done < of) {
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

/// Words of `text` on lines of at most `width` characters (a longer word is cut).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            let tail: String = line.chars().skip(width).collect();
            lines.push(head);
            line = tail;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
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

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_words_whole_and_cuts_only_long_ones() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), [""]);
    }
}
