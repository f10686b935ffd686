//! Peers of the settings file: address and reachability.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::block;
use crate::front::tui::state::peers::{PeerState, Peers};
use crate::front::tui::state::transfers::Transfers;
use crate::front::tui::theme;

pub fn render(frame: &mut Frame, area: Rect, peers: &Peers, transfers: &Transfers) {
    // The port only where the state still fits whole ("left mid-transfer" is the longest).
    let show_port = area.width.saturating_sub(2) >= 4 + 7 + 17;
    let lines: Vec<Line> = peers
        .rows
        .iter()
        .map(|row| {
            let left = transfers.left_mid_transfer(&row.addr.id);
            let (state, style) = match row.state {
                PeerState::Me => ("this peer", theme::me()),
                PeerState::Online => ("online", theme::online()),
                PeerState::Offline | PeerState::Unknown if left => {
                    ("left mid-transfer", theme::failed())
                }
                PeerState::Offline => ("offline", theme::offline()),
                PeerState::Unknown => ("…", theme::dim()),
            };
            let port = if show_port {
                format!("{:>6} ", row.addr.port)
            } else {
                " ".to_string()
            };
            Line::from(vec![
                Span::styled(format!("{:<4}", row.addr.id), style),
                Span::styled(port, theme::dim()),
                Span::styled(state, style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block("Peers")), area);
}
