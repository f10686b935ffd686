//! App's tests: keys and clicks routed to the panels, and the helpers the other UI tests share.

use std::sync::Arc;
use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::app::{Action, App, BarMessage, Focus, Msg};
use super::log::LogLine;
use super::state::command_bar::BarMode;
use super::state::effect::TransferHandle;
use crate::core::protocol::lines::LineKind;
use crate::core::settings::PeerAddr;
use crate::peer::command::Command;
use crate::peer::transfer::progress::{Direction, TransferProgress};

/// Draws `app` on a `width` x `height` terminal and hands it the frame's areas, as the event
/// loop does every frame.
pub(crate) fn drawn(app: &mut App, width: u16, height: u16) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    let mut areas = Default::default();
    terminal
        .draw(|f| areas = super::ui::draw(f, app))
        .expect("draw");
    app.update(Msg::Drawn(areas));
}

/// The demo's four peers (localhost, ports 50001..50004).
pub(crate) fn demo_peers() -> Vec<PeerAddr> {
    (1..=4)
        .map(|n| PeerAddr {
            id: format!("p{n}"),
            host: "localhost".into(),
            port: 50000 + n,
        })
        .collect()
}

/// p1's app in the demo's four-peer network.
pub(crate) fn app() -> App {
    App::new("p1", &demo_peers())
}

pub(crate) fn key(app: &mut App, code: KeyCode) -> Option<Action> {
    app.update(Msg::Terminal(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))))
}

pub(crate) fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

pub(crate) fn line(kind: LineKind, text: &str, chunk: bool) -> LogLine {
    LogLine {
        kind,
        text: text.to_string(),
        chunk,
        seq: 0,
    }
}

fn texts(app: &App) -> Vec<String> {
    app.log
        .view()
        .iter()
        .map(|&i| app.log.log.get(i).unwrap().text.clone())
        .collect()
}

fn running_download(file: &str) -> Arc<TransferProgress> {
    Arc::new(TransferProgress::new(
        file,
        Direction::Download,
        1000,
        vec!["p2".into()],
    ))
}

#[test]
fn typing_a_command_and_enter_runs_it_and_echoes_it() {
    let mut app = app();
    type_text(&mut app, "#DOWNLOAD f1.txt p2 p3");
    let action = key(&mut app, KeyCode::Enter);
    assert_eq!(
        action,
        Some(Action::Run(Command::Download {
            file: "f1.txt".into(),
            peers: vec!["p2".into(), "p3".into()]
        }))
    );
    assert_eq!(app.running, 1);
    assert_eq!(app.bar.value(), "");
    assert_eq!(texts(&app), ["Input your command: #DOWNLOAD f1.txt p2 p3"]);
    app.update(Msg::CommandFinished);
    assert_eq!(app.running, 0);
}

#[test]
fn malformed_commands_leave_a_clear_message_in_the_bar_and_the_log() {
    let mut app = app();
    type_text(&mut app, "#DOWNLOAD");
    assert_eq!(key(&mut app, KeyCode::Enter), None);
    let BarMessage { text, is_error } = app.bar.message.clone().unwrap();
    assert!(is_error);
    assert!(text.contains("#DOWNLOAD needs a file name"), "{text}");
    let log = texts(&app);
    assert_eq!(log[0], "Input your command: #DOWNLOAD");
    assert!(log[1].contains("#DOWNLOAD needs a file name"), "{log:?}");
    assert_eq!(app.log.log.get(1).unwrap().kind, LineKind::Error);
}

fn listed(app: &mut App, peer: &str, files: &[&str]) {
    app.update(Msg::FilesListed(crate::peer::client::FilesListed {
        peer: peer.into(),
        files: files.iter().map(|f| f.to_string()).collect(),
    }));
}

#[test]
fn tab_offers_file_names_other_peers_listed() {
    let mut app = app();
    listed(&mut app, "p2", &["ocean.txt", "river.txt"]);
    type_text(&mut app, "#DOWNLOAD ri");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.bar.value(), "#DOWNLOAD river.txt ");
}

#[test]
fn tab_with_several_files_lists_them_and_cycles() {
    let mut app = app();
    listed(&mut app, "p2", &["ocean.txt", "otter.txt"]);
    type_text(&mut app, "#DOWNLOAD o");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.bar.value(), "#DOWNLOAD ocean.txt");
    assert_eq!(
        app.bar.message,
        Some(BarMessage::info("Tab: ocean.txt  otter.txt".into()))
    );
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.bar.value(), "#DOWNLOAD otter.txt");
}

#[test]
fn q_quits_only_with_an_empty_bar() {
    let mut app = app();
    type_text(&mut app, "#Q");
    assert_eq!(app.bar.value(), "#Q");
    let mut empty = self::app();
    assert_eq!(key(&mut empty, KeyCode::Char('q')), Some(Action::Quit));
}

#[test]
fn q_asks_first_while_a_transfer_runs_and_ctrl_c_does_not() {
    let mut app = app();
    app.update(Msg::Transfers {
        transfers: vec![running_download("big.bin")],
        now: Instant::now(),
    });
    assert_eq!(key(&mut app, KeyCode::Char('q')), None);
    assert!(app.confirm_quit);
    let text = app.bar.message.clone().unwrap().text;
    assert!(
        text.starts_with("1 transfer is running: q or y quits"),
        "{text}"
    );
    // Any other key: stay.
    assert_eq!(key(&mut app, KeyCode::Char('x')), None);
    assert!(!app.confirm_quit);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), Some(Action::Quit));
    let ctrl_c = app.update(Msg::Terminal(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    ))));
    assert_eq!(ctrl_c, Some(Action::Quit));
}

#[test]
fn tab_moves_focus_and_transfers_are_selected_cancelled_and_cleared() {
    let mut app = app();
    let done = running_download("old.bin");
    done.finish(true);
    let running = running_download("big.bin");
    app.update(Msg::Transfers {
        transfers: vec![Arc::clone(&done), Arc::clone(&running)],
        now: Instant::now(),
    });
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Transfers);
    // The newest is selected first; it runs, so d cancels it.
    assert_eq!(app.transfers.selected_index, Some(1));
    assert_eq!(
        key(&mut app, KeyCode::Char('d')),
        Some(Action::Cancel(TransferHandle(Arc::clone(&running))))
    );
    assert!(
        texts(&app)
            .last()
            .unwrap()
            .contains("Cancelling the download of file big.bin")
    );
    // j goes to the older one, which has ended: c clears it.
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.transfers.selected_index, Some(0));
    assert_eq!(key(&mut app, KeyCode::Char('d')), None);
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.transfers.list.len(), 1);
    assert_eq!(app.transfers.list[0].file, "big.bin");
    // It stays cleared in the next frames.
    app.update(Msg::Transfers {
        transfers: vec![Arc::clone(&done), Arc::clone(&running)],
        now: Instant::now(),
    });
    assert_eq!(app.transfers.list.len(), 1);
    // C clears every finished one.
    running.finish(false);
    key(&mut app, KeyCode::Char('C'));
    assert!(app.transfers.list.is_empty());
    // Shift-Tab goes back; # starts a command from any panel.
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Focus::Command);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Log);
    type_text(&mut app, "#PEERS");
    assert_eq!(app.focus, Focus::Command);
    assert_eq!(app.bar.value(), "#PEERS");
}

#[test]
fn the_log_scrolls_by_pages_home_shows_the_oldest_and_holds_its_place() {
    let mut app = app();
    drawn(&mut app, 80, 24);
    let rows = app.log.rows;
    app.update(Msg::Lines(
        (0..100)
            .map(|n| line(LineKind::Note, &n.to_string(), false))
            .collect(),
    ));
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.log.scroll, rows - 1);
    app.update(Msg::Lines(vec![line(LineKind::Note, "more", false)]));
    assert_eq!(app.log.scroll, rows);
    key(&mut app, KeyCode::Home);
    assert_eq!(app.log.scroll, 101 - rows, "the oldest page, full");
    key(&mut app, KeyCode::PageUp);
    assert_eq!(
        app.log.scroll,
        101 - rows,
        "no further than the oldest page"
    );
    key(&mut app, KeyCode::End);
    assert_eq!(app.log.scroll, 0);
}

#[test]
fn slash_searches_and_n_and_shift_n_go_older_and_newer() {
    let mut app = app();
    drawn(&mut app, 80, 24);
    let mut lines = vec![];
    for n in 0..300 {
        let text = if n % 100 == 7 {
            format!("TCP connection to server p{n} failed")
        } else {
            format!("Server (p2): 200 File f chunk {n}")
        };
        lines.push(line(LineKind::Reply, &text, n % 100 != 7));
    }
    app.update(Msg::Lines(lines));
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(app.bar.mode, BarMode::Search);
    type_text(&mut app, "failed");
    key(&mut app, KeyCode::Enter);
    let hit = |app: &App| {
        app.log
            .log
            .get(app.log.log.index_of(app.log.hit.unwrap()).unwrap())
            .unwrap()
            .text
            .clone()
    };
    assert_eq!(hit(&app), "TCP connection to server p207 failed");
    assert!(
        app.bar
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("match 3 of 3")
    );
    // On screen: the hit is within the rows shown.
    let view_len = app.log.view().len();
    let at = app
        .log
        .view()
        .iter()
        .position(|&i| app.log.log.get(i).unwrap().seq == app.log.hit.unwrap())
        .unwrap();
    let bottom = view_len - app.log.scroll;
    assert!(
        at < bottom && at >= bottom.saturating_sub(app.log.rows),
        "{at} {bottom}"
    );
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(hit(&app), "TCP connection to server p107 failed");
    key(&mut app, KeyCode::Char('n'));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(
        hit(&app),
        "TCP connection to server p207 failed",
        "wraps around"
    );
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(hit(&app), "TCP connection to server p7 failed");
    // In the filtered view the hit is still found.
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.log.view().len(), 3);
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "nowhere");
    key(&mut app, KeyCode::Enter);
    assert!(
        app.bar.message.as_ref().unwrap().is_error,
        "no match is said"
    );
}

fn click(app: &mut App, column: u16, row: u16) {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    app.update(Msg::Terminal(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })));
}

#[test]
fn a_click_focuses_the_panel_drawn_under_it_and_selects_the_row_clicked() {
    let mut app = app();
    listed(&mut app, "p2", &["ocean.txt", "river.txt"]);
    let older = running_download("old.bin");
    app.update(Msg::Transfers {
        transfers: vec![older, running_download("new.bin")],
        now: Instant::now(),
    });
    // Before any frame nothing is known to be anywhere: a click does nothing.
    click(&mut app, 10, 5);
    assert_eq!(app.focus, Focus::Command);
    drawn(&mut app, 100, 30);
    let areas = app.frame.clone();
    // The second file of the Network files panel (row 0 is its border).
    click(&mut app, areas.network.x + 2, areas.network.y + 2);
    assert_eq!((app.focus, app.network.selected), (Focus::Network, 1));
    // The older transfer, drawn below the newer one.
    let older_rows = areas.transfer_rows[1];
    assert_eq!(older_rows.index, 0);
    let y = areas.transfers.y + 1 + older_rows.top;
    click(&mut app, areas.transfers.x + 2, y);
    assert_eq!(app.focus, Focus::Transfers);
    assert_eq!(app.transfers.selected_index, Some(0));
    click(&mut app, areas.log.x + 2, areas.log.y + 2);
    assert_eq!(app.focus, Focus::Log);
    click(&mut app, areas.bar.x + 2, areas.bar.y + 1);
    assert_eq!(app.focus, Focus::Command);
}

/// Two uploads of the same file (to other peers): d stops the one selected, not the newest of
/// that name (as when cancel went by file name and direction).
#[test]
fn d_cancels_the_selected_transfer_not_another_of_the_same_file() {
    use tokio_util::sync::CancellationToken;
    let mut app = app();
    let (first, second) = (CancellationToken::new(), CancellationToken::new());
    let upload = |to: &str, cancel: &CancellationToken| {
        let progress = TransferProgress::new("f1.txt", Direction::Upload, 1000, vec![to.into()]);
        Arc::new(progress.cancelled_by(cancel))
    };
    app.update(Msg::Transfers {
        transfers: vec![upload("p2", &first), upload("p3", &second)],
        now: Instant::now(),
    });
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.transfers.selected_index, Some(0), "the older upload");
    let Some(Action::Cancel(TransferHandle(transfer))) = key(&mut app, KeyCode::Char('d')) else {
        panic!("d cancels the selected transfer");
    };
    assert!(transfer.cancel());
    assert!(first.is_cancelled());
    assert!(!second.is_cancelled(), "the other upload goes on");
}
