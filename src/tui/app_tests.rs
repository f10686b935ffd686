//! App's tests: keys and clicks routed to the panels, and the helpers the other UI tests share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::app::{Action, App, BarMessage, Focus, Msg};
use super::log::LogLine;
use super::state::command_bar::BarMode;
use super::state::network_files::NetworkFile;
use super::state::rate_history::RATE_SAMPLES;
use crate::command::Command;
use crate::peer::transfer::progress::{Direction, TransferProgress};
use crate::protocol::lines::LineKind;
use crate::settings::PeerAddr;
use crate::store::ServedFile;

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

/// p1's app in the demo's four-peer network (localhost, ports 50001..50004).
pub(crate) fn app() -> App {
    let peers: Vec<PeerAddr> = (1..=4)
        .map(|n| PeerAddr {
            id: format!("p{n}"),
            host: "localhost".into(),
            port: 50000 + n,
        })
        .collect();
    App::new("p1", &peers)
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

#[test]
fn a_peer_that_left_a_transfer_is_known_as_such() {
    let mut app = app();
    let t = TransferProgress::new(
        "f",
        Direction::Download,
        500,
        vec!["p2".into(), "p3".into()],
    );
    t.requested(1);
    t.chunk_done(1, 1, 100);
    t.peer_left(1, &[], &[(0, 2)], "p3 left".into());
    app.update(Msg::Transfers {
        transfers: vec![Arc::new(t)],
        now: Instant::now(),
    });
    assert!(app.transfers.left_mid_transfer("p3"));
    assert!(!app.transfers.left_mid_transfer("p2"));
}

fn listed(app: &mut App, peer: &str, files: &[&str]) {
    app.update(Msg::FilesListed(crate::peer::client::FilesListed {
        peer: peer.into(),
        files: files.iter().map(|f| f.to_string()).collect(),
    }));
}

#[test]
fn network_files_group_holders_and_a_key_downloads_from_all_of_them() {
    let mut app = app();
    listed(&mut app, "p2", &["ocean.txt", "river.txt"]);
    listed(&mut app, "p4", &["river.txt"]);
    listed(&mut app, "p3", &["river.txt", "gone.txt"]);
    // p3's newer list replaces its older one.
    listed(&mut app, "p3", &["river.txt"]);
    assert_eq!(
        app.network.files(&app.peers),
        [
            NetworkFile {
                name: "ocean.txt".into(),
                holders: vec!["p2".into()]
            },
            NetworkFile {
                name: "river.txt".into(),
                holders: vec!["p2".into(), "p3".into(), "p4".into()]
            },
        ]
    );
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Focus::Network);
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        Some(Action::Run(Command::Download {
            file: "river.txt".into(),
            peers: vec!["p2".into(), "p3".into(), "p4".into()]
        }))
    );
    assert_eq!(
        texts(&app).last().unwrap(),
        "Input your command: #DOWNLOAD river.txt p2 p3 p4"
    );
}

#[test]
fn tracker_holders_are_named_by_their_settings_id() {
    use crate::tracker::Holder;
    let mut app = app();
    let mut view = crate::tracker::join::NetworkView::default();
    for (name, port) in [("f1.txt", 50002), ("synced.md", 41234)] {
        view.directory.insert(
            name.into(),
            Holder {
                ip: "127.0.0.1".into(),
                port,
                mtime: 0,
            },
        );
    }
    app.update(Msg::Network(view));
    let files = app.network.files(&app.peers);
    assert_eq!(files[0].holders, ["p2"]);
    assert_eq!(files[1].holders, ["127.0.0.1:41234"]);
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
        Some(Action::Cancel {
            file: "big.bin".into(),
            direction: Direction::Download
        })
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
fn rates_are_sampled_once_a_second_kept_for_a_minute_and_frozen_at_the_end() {
    let mut app = app();
    let t0 = Instant::now();
    let t = Arc::new(
        TransferProgress::new("big.bin", Direction::Download, 1_000_000, vec!["p2".into()])
            .started_at(t0),
    );
    let frame = |app: &mut App, ms: u64| {
        app.update(Msg::Transfers {
            transfers: vec![Arc::clone(&t)],
            now: t0 + Duration::from_millis(ms),
        })
    };
    // Frames every 100 ms; 10 chunks of 100 bytes arrive in each: 10 kB/s.
    let mut chunk = 0;
    for frame_no in 0..=25u64 {
        for _ in 0..10 {
            t.requested(0);
            t.chunk_done(0, chunk, 100);
            chunk += 1;
        }
        frame(&mut app, frame_no * 100);
    }
    // Nothing in the first second (too short to measure), then one sample a second.
    let samples: Vec<u64> = app.transfers.rate_history(0).iter().copied().collect();
    assert_eq!(samples.len(), 2, "{samples:?}");
    assert!(
        samples.iter().all(|&r| (9_000..=11_000).contains(&r)),
        "{samples:?}"
    );
    // Ten minutes of frames: only the latest minute is kept.
    for second in 3..600u64 {
        frame(&mut app, second * 1000);
    }
    assert_eq!(app.transfers.rate_history(0).len(), RATE_SAMPLES);
    assert_eq!(
        app.transfers.rate_history(0).back(),
        Some(&0),
        "nothing arrived lately"
    );
    // Finished: the history stays as it was.
    t.finish(true);
    let before = app.transfers.rate_history(0).clone();
    frame(&mut app, 700_000);
    assert_eq!(app.transfers.rate_history(0), &before);
    // A second transfer gets its own history, and the first keeps its own.
    let other = Arc::new(
        TransferProgress::new("other.bin", Direction::Download, 1000, vec!["p2".into()])
            .started_at(t0 + Duration::from_secs(701)),
    );
    app.update(Msg::Transfers {
        transfers: vec![Arc::clone(&t), Arc::clone(&other)],
        now: t0 + Duration::from_secs(701),
    });
    assert_eq!(app.transfers.rate_history(0), &before);
    assert!(app.transfers.rate_history(1).is_empty());
    // Cleared: its history goes with it.
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('C'));
    assert_eq!(app.transfers.list.len(), 1);
    assert_eq!(app.transfers.list[0].file, "other.bin");
    assert!(app.transfers.rate_history(0).is_empty());
}

#[test]
fn names_not_servable_follow_each_listing() {
    let mut app = app();
    let files = |unservable: &[&str]| Msg::Files {
        served: vec![ServedFile {
            name: "ok.txt".into(),
            size: 1,
        }],
        receiving: vec![],
        unservable: unservable.iter().map(|n| n.to_string()).collect(),
        now: Instant::now(),
    };
    assert!(app.served.unservable.is_empty());
    app.update(files(&["a b.txt", "tab\tname"]));
    assert_eq!(app.served.unservable, ["a b.txt", "tab\tname"]);
    assert_eq!(app.served.files.len(), 1, "not among the served files");
    // Renamed: the next listing no longer has it.
    app.update(files(&["tab\tname"]));
    assert_eq!(app.served.unservable, ["tab\tname"]);
    app.update(files(&[]));
    assert!(app.served.unservable.is_empty());
}

#[test]
fn new_files_are_highlighted_and_received_ones_marked() {
    let mut app = app();
    let t0 = Instant::now();
    let f = |name: &str| ServedFile {
        name: name.into(),
        size: 10,
    };
    app.update(Msg::Files {
        served: vec![f("a")],
        receiving: vec![],
        unservable: vec![],
        now: t0,
    });
    assert_eq!(app.served.files[0].new_until, None);
    app.update(Msg::Files {
        served: vec![f("a")],
        receiving: vec!["b".into()],
        unservable: vec![],
        now: t0,
    });
    assert!(app.served.files[1].receiving);
    app.update(Msg::Files {
        served: vec![f("a"), f("b")],
        receiving: vec![],
        unservable: vec![],
        now: t0,
    });
    assert!(app.served.files[1].new_until.is_some() && !app.served.files[1].receiving);
    app.update(Msg::Files {
        served: vec![f("a"), f("b")],
        receiving: vec![],
        unservable: vec![],
        now: t0 + Duration::from_secs(6),
    });
    assert_eq!(app.served.files[1].new_until, None);
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
fn f_hides_chunk_lines_and_outcomes_survive_a_chunk_flood() {
    let mut app = app();
    app.update(Msg::Lines(vec![line(
        LineKind::Error,
        "File other.txt download failed",
        false,
    )]));
    app.update(Msg::Lines(
        (0..12_000)
            .map(|n| {
                line(
                    LineKind::Reply,
                    &format!("Server (p2): 200 File big chunk {n}"),
                    true,
                )
            })
            .collect(),
    ));
    app.update(Msg::Lines(vec![line(
        LineKind::Outcome,
        "File big download success",
        false,
    )]));
    key(&mut app, KeyCode::Char('f'));
    assert!(app.log.hide_chunks);
    assert_eq!(
        texts(&app),
        [
            "File other.txt download failed",
            "File big download success"
        ]
    );
    key(&mut app, KeyCode::Char('f'));
    assert!(texts(&app).len() > 1000);
    assert_eq!(texts(&app)[0], "File other.txt download failed");
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
