//! Lays the panels out and draws them from `&App`, each panel from its own state; says where
//! it drew what (`FrameAreas`) for the next update.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, Focus};
use super::areas::FrameAreas;
use super::panels;
use super::state::command_bar::BarMode;

/// The smallest terminal the layout is made for.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Where each panel goes (an empty `Rect` for a panel not shown).
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub peers: Rect,
    pub network: Rect,
    pub files: Rect,
    pub transfers: Rect,
    pub log: Rect,
    pub bar: Rect,
    pub status: Rect,
}

/// The layout for `area` (None: the terminal is too small).
pub fn layout(app: &App, area: Rect) -> Option<Areas> {
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        return None;
    }
    let [main, bar, status] = Layout::vertical([
        Constraint::Min(10),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let side_width = (area.width / 4).clamp(24, 44);
    let [side, right] =
        Layout::horizontal([Constraint::Length(side_width), Constraint::Min(40)]).areas(main);
    let wanted = panels::transfers::height_wanted(&app.transfers, right.width);
    let [transfers, log] = if wanted == 0 {
        [Rect::default(), right]
    } else {
        // The log keeps at least 8 rows (6 lines); the chunk map gives way first.
        let height = wanted.min(right.height.saturating_sub(8)).max(5);
        Layout::vertical([Constraint::Length(height), Constraint::Min(5)]).areas(right)
    };
    let peers_height = (app.peers.rows.len() as u16 + 2).clamp(4, side.height / 2);
    let [peers, rest] =
        Layout::vertical([Constraint::Length(peers_height), Constraint::Min(3)]).areas(side);
    let [network, files] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(rest);
    Some(Areas {
        peers,
        network,
        files,
        transfers,
        log,
        bar,
        status,
    })
}

pub fn draw(frame: &mut Frame, app: &App) -> FrameAreas {
    let area = frame.area();
    let Some(areas) = layout(app, area) else {
        too_small(frame, area);
        return FrameAreas::default();
    };
    let focused = |panel: Focus| app.focus == panel;
    panels::peers::render(frame, areas.peers, &app.peers, &app.transfers);
    let network = &app.network;
    let first_file_row = panels::network::first_file_row(network);
    panels::network::render(
        frame,
        areas.network,
        network,
        &app.peers,
        focused(Focus::Network),
    );
    panels::files::render(frame, areas.files, &app.served);
    let mut transfer_rows = Vec::new();
    if !areas.transfers.is_empty() {
        let focus = focused(Focus::Transfers);
        transfer_rows = panels::transfers::render(frame, areas.transfers, &app.transfers, focus);
    }
    panels::log::render(frame, areas.log, &app.log, focused(Focus::Log));
    let cursor = !app.show_help && (app.bar.mode == BarMode::Search || focused(Focus::Command));
    panels::command::render(frame, areas.bar, &app.bar, focused(Focus::Command), cursor);
    panels::status::render(frame, areas.status, app);
    if app.show_help {
        panels::help::render(frame, area);
    }
    FrameAreas {
        bar: areas.bar,
        log: areas.log,
        network: areas.network,
        transfers: areas.transfers,
        first_file_row,
        transfer_rows,
    }
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = format!(
        "Terminal too small: {}x{}, p2p-tui needs at least {}x{}. Enlarge it, or press q to quit.",
        area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
    );
    let block = Block::new().borders(Borders::ALL).title(" p2p-tui ");
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
        area,
    );
}
