//! Whole-screen snapshots of the UI in meaningful states, drawn on ratatui's TestBackend.

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Msg};
use super::ui;
use crate::protocol::lines::LineKind;
use crate::settings::PeerAddr;
use crate::store::ServedFile;

fn demo_app() -> App {
    let peers: Vec<PeerAddr> = (1..=4)
        .map(|n| PeerAddr {
            id: format!("p{n}"),
            host: "localhost".into(),
            port: 50000 + n,
        })
        .collect();
    let mut app = App::new("p1", &peers);
    app.update(Msg::Reachable {
        peer: "p2".into(),
        online: true,
    });
    app.update(Msg::Reachable {
        peer: "p3".into(),
        online: true,
    });
    app.update(Msg::Reachable {
        peer: "p4".into(),
        online: false,
    });
    let files = vec![
        ServedFile {
            name: "f2.txt".into(),
            size: 131,
        },
        ServedFile {
            name: "f3.txt".into(),
            size: 420,
        },
    ];
    app.update(Msg::Files {
        served: files,
        receiving: vec!["ocean.txt".into()],
        now: Instant::now(),
    });
    app
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| ui::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

fn seed_download_lines() -> Vec<(LineKind, String)> {
    let mut lines = vec![(LineKind::Outcome, "Downloading file f1.txt".to_string())];
    for p in ["p2", "p3", "p4"] {
        lines.push((LineKind::Request, format!("Client ({p}): #DOWNLOAD f1.txt")));
    }
    for p in ["p2", "p3", "p4"] {
        lines.push((
            LineKind::Reply,
            format!("Server ({p}): 330 Ready to send file f1.txt bytes 950"),
        ));
    }
    for i in 0..10 {
        let p = ["p2", "p3", "p4"][i % 3];
        lines.push((
            LineKind::Request,
            format!("Client ({p}): #DOWNLOAD f1.txt chunk {i}"),
        ));
        lines.push((
            LineKind::Reply,
            format!("Server ({p}): 200 File f1.txt chunk {i}"),
        ));
    }
    lines.push((
        LineKind::Outcome,
        "File f1.txt download success".to_string(),
    ));
    lines
}

#[test]
fn idle_screen_at_80x24() {
    insta::assert_snapshot!(screen(&demo_app(), 80, 24));
}

#[test]
fn after_a_download_at_120x40() {
    let mut app = demo_app();
    app.update(Msg::Lines(seed_download_lines()));
    insta::assert_snapshot!(screen(&app, 120, 40));
}

#[test]
fn a_peer_left_and_a_malformed_command() {
    let mut app = demo_app();
    app.update(Msg::Lines(vec![
        (LineKind::Note, "Server p3 stopped serving file f1.txt (connection closed): 3 unfinished chunks reassigned to p2 p4".into()),
        (LineKind::Error, "TCP connection to server p4 failed".into()),
    ]));
    for c in "#DOWNLOAD".chars() {
        app.update(Msg::Terminal(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))));
    }
    app.update(Msg::Terminal(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    ))));
    insta::assert_snapshot!(screen(&app, 100, 24));
}

#[test]
fn help_overlay() {
    let mut app = demo_app();
    app.update(Msg::Terminal(Event::Key(KeyEvent::new(
        KeyCode::F(1),
        KeyModifiers::NONE,
    ))));
    insta::assert_snapshot!(screen(&app, 110, 30));
}

#[test]
fn tiny_terminal_says_so() {
    insta::assert_snapshot!(screen(&demo_app(), 50, 10));
}
