//! The status line: who we are, what runs, which panel has the keys, and that panel's keys (as
//! many as fit; "? help" and "q quit" always).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::front::tui::app::{App, Focus};
use crate::front::tui::state::command_bar::BarMode;
use crate::front::tui::theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(
        Paragraph::new(line(app, usize::from(area.width))).style(theme::status()),
        area,
    );
}

fn line(app: &App, width: usize) -> Line<'static> {
    let me = app.peers.me();
    let running = match app.running {
        0 => "idle".to_string(),
        n => format!("{n} running"),
    };
    let full_addr = me.map(|p| format!("{}:{}", p.addr.host, p.addr.port));
    let port = me.map(|p| format!(":{}", p.addr.port));
    let focus = format!(" {} ", app.focus.name());
    let keys = keys(app.bar.mode, app.focus);
    let always = "? help  q quit ";
    for (addr, keep) in [
        (full_addr.clone(), keys.len()),
        (port.clone(), keys.len()),
        (port.clone(), 3),
        (port.clone(), 2),
        (port.clone(), 1),
        (None, 0),
    ] {
        let who = match &addr {
            Some(a) => format!(" {} on {a} | {running} ", app.peers.me),
            None => format!(" {} | {running} ", app.peers.me),
        };
        let shown: Vec<&str> = keys.iter().take(keep).copied().collect();
        let mut key_text = shown.join("  ");
        if !key_text.is_empty() {
            key_text.push_str("  ");
        }
        key_text.push_str(always);
        let len = who.chars().count() + focus.chars().count() + 1 + key_text.chars().count();
        if len <= width || addr.is_none() {
            return Line::from(vec![
                Span::raw(who),
                Span::styled(
                    focus.clone(),
                    Style::new()
                        .fg(ratatui::style::Color::White)
                        .bg(ratatui::style::Color::Blue)
                        .add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(" {key_text}")),
            ]);
        }
    }
    Line::from("")
}

/// The focused panel's keys, the most used first.
fn keys(mode: BarMode, focus: Focus) -> &'static [&'static str] {
    match (mode, focus) {
        (BarMode::Search, _) => &["Enter find", "Esc cancel"],
        (_, Focus::Command) => &[
            "Enter run",
            "Tab complete/panel",
            "↑↓ history",
            "/ search",
            "f filter log",
        ],
        (_, Focus::Transfers) => &[
            "j/k select",
            "d cancel",
            "c clear",
            "C clear all",
            "Tab panel",
        ],
        (_, Focus::Network) => &["j/k select", "Enter download", "Tab panel"],
        (_, Focus::Log) => &[
            "j/k line",
            "PgUp/PgDn",
            "Home/End",
            "/ search",
            "n/N next",
            "f filter",
            "Tab panel",
        ],
    }
}
