//! The status line: who we are, what runs, the main keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;

use crate::tui::app::App;
use crate::tui::theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let me = app.peers.iter().find(|p| p.addr.id == app.me);
    let addr = me
        .map(|p| format!("{}:{}", p.addr.host, p.addr.port))
        .unwrap_or_default();
    let running = match app.running {
        0 => "idle".to_string(),
        1 => "1 command running".to_string(),
        n => format!("{n} commands running"),
    };
    let text = format!(
        " p2p-tui {} on {addr} | {running} | ? help  PgUp/PgDn scroll  q quit",
        app.me
    );
    frame.render_widget(Paragraph::new(text).style(theme::status()), area);
}
