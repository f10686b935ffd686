//! Whole-screen snapshots of the UI in meaningful states, drawn on ratatui's TestBackend.

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Msg};
use super::ui;
use crate::core::protocol::lines::LineKind;
use crate::core::store::ServedFile;
use crate::core::uploads::{UploadStatus, Uploads};

fn demo_app() -> App {
    let mut app = super::app_tests::app();
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
        unservable: vec![],
        now: Instant::now(),
    });
    app
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| {
            ui::draw(f, app);
        })
        .expect("draw");
    terminal.backend().to_string()
}

fn lines(lines: Vec<(LineKind, String)>) -> Msg {
    Msg::Lines(
        lines
            .into_iter()
            .map(|(kind, text)| {
                let chunk = text.contains(" chunk ");
                super::app_tests::line(kind, &text, chunk)
            })
            .collect(),
    )
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
    app.update(lines(seed_download_lines()));
    insta::assert_snapshot!(screen(&app, 120, 40));
}

#[test]
fn a_peer_left_and_a_malformed_command() {
    let mut app = demo_app();
    app.update(lines(vec![
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

mod transfers {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::peer::transfer::allocation::Stripe;
    use crate::peer::transfer::progress::{Direction, TransferProgress};

    fn three_peers(size: u64, t0: Instant) -> TransferProgress {
        let peers = vec!["p2".to_string(), "p3".to_string(), "p4".to_string()];
        TransferProgress::new("f1.txt", Direction::Download, size, peers).started_at(t0)
    }

    /// Chunks `range` arrive round robin (chunk i from peer i mod 3).
    fn deliver(p: &TransferProgress, range: std::ops::Range<u64>) {
        for i in range {
            let peer = (i % 3) as usize;
            p.requested(peer);
            p.chunk_done(peer, i, 100);
        }
    }

    fn show(p: TransferProgress, t0: Instant) -> String {
        let mut app = demo_app();
        app.update(Msg::Transfers {
            transfers: vec![Arc::new(p)],
            now: t0 + Duration::from_secs(10),
        });
        screen(&app, 120, 36)
    }

    #[test]
    fn mid_download_from_three_peers() {
        let t0 = Instant::now();
        let p = three_peers(9_500, t0);
        deliver(&p, 0..40);
        for peer in 0..3 {
            p.requested(peer);
        }
        p.awaiting(vec![(1, 40), (2, 41), (0, 42)]);
        insta::assert_snapshot!(show(p, t0));
    }

    #[test]
    fn a_peer_left_and_its_chunks_were_reassigned() {
        let t0 = Instant::now();
        let p = three_peers(9_500, t0);
        deliver(&p, 0..30);
        // p3 (position 1) leaves with chunk 31 in flight; 31, 34, ... go to p2 and p4.
        p.requested(1);
        let orphans = [
            Stripe::single(31),
            Stripe {
                next: 34,
                step: 3,
                end: 95,
            },
        ];
        let note = "Server p3 stopped serving file f1.txt (connection closed): 22 unfinished chunks reassigned to p2 p4";
        p.peer_left(1, &orphans, &[(0, 11), (2, 11)], note.into());
        deliver(&p, 30..31);
        insta::assert_snapshot!(show(p, t0));
    }

    #[test]
    fn a_failed_download_says_the_partial_file_is_gone() {
        let t0 = Instant::now();
        let p = three_peers(950, t0);
        deliver(&p, 0..4);
        p.note("Server p2 stopped serving file f1.txt (connection closed): 2 unfinished chunks, no serving peers left".into());
        p.note("Partial file f1.txt removed".into());
        p.finish_at(false, t0 + Duration::from_secs(4));
        insta::assert_snapshot!(show(p, t0));
    }
}

#[test]
fn chunk_map_colours_follow_the_round_robin_and_mark_reassigned_chunks() {
    use crate::front::tui::theme;
    use crate::peer::transfer::allocation::Stripe;
    use crate::peer::transfer::progress::{Direction, TransferProgress};
    use ratatui::style::Color;
    use std::sync::Arc;

    let peers = vec!["p2".to_string(), "p3".to_string(), "p4".to_string()];
    let p = TransferProgress::new("f", Direction::Download, 2_000, peers);
    for i in 0..12u64 {
        p.requested((i % 3) as usize);
        p.chunk_done((i % 3) as usize, i, 100);
    }
    p.peer_left(
        1,
        &[Stripe {
            next: 13,
            step: 3,
            end: 20,
        }],
        &[(0, 2), (2, 1)],
        "p3 left".into(),
    );
    // p4 asked for 14 (its own) and p2 for 13 (taken over from p3).
    p.awaiting(vec![(2, 14), (0, 13)]);
    let mut app = demo_app();
    app.update(Msg::Transfers {
        transfers: vec![Arc::new(p)],
        now: Instant::now(),
    });
    let mut terminal = Terminal::new(TestBackend::new(120, 36)).expect("test terminal");
    terminal
        .draw(|f| {
            ui::draw(f, &app);
        })
        .expect("draw");
    let buffer = terminal.backend().buffer();
    // The map is the first row after the three peer rows: find it by its first cell.
    let (x0, y) = (0..36u16)
        .flat_map(|y| (0..118u16).map(move |x| (x, y)))
        .find(|&(x, y)| {
            buffer[(x, y)].symbol() == "█"
                && buffer[(x + 1, y)].symbol() == "█"
                && buffer[(x, y)].fg == theme::peer(0)
                && buffer[(x + 1, y)].fg == theme::peer(1)
        })
        .expect("chunk map row");
    for i in 0..12u16 {
        assert_eq!(
            buffer[(x0 + i, y)].fg,
            theme::peer(usize::from(i % 3)),
            "chunk {i}"
        );
    }
    assert_eq!(
        buffer[(x0 + 13, y)].fg,
        Color::LightRed,
        "chunk 13 was taken over and is missing"
    );
    assert_eq!(buffer[(x0 + 12, y)].symbol(), "·");
    // In flight: its own symbol, in the colour of the peer asked (red while reassigned).
    assert_eq!(
        (buffer[(x0 + 14, y)].symbol(), buffer[(x0 + 14, y)].fg),
        ("░", theme::peer(2))
    );
    assert_eq!(
        (buffer[(x0 + 13, y)].symbol(), buffer[(x0 + 13, y)].fg),
        ("░", Color::LightRed)
    );
    assert_eq!(buffer[(x0 + 15, y)].symbol(), "·");
    // The legend says what the symbol means.
    let legend: String = (0..118u16).map(|x| buffer[(x, y - 1)].symbol()).collect();
    assert!(legend.contains("░ in flight"), "{legend}");
}

#[test]
fn network_panel_with_a_tracker() {
    use crate::tracker::Holder;
    use crate::tracker::join::NetworkView;
    let mut app = demo_app();
    let mut view = NetworkView {
        tracker: "127.0.0.1:9000".into(),
        connected: true,
        ..NetworkView::default()
    };
    for (name, port) in [
        ("f1.txt", 50002),
        ("river.txt", 50003),
        ("synced-notes.md", 41234),
    ] {
        view.directory.insert(
            name.into(),
            Holder {
                ip: "127.0.0.1".into(),
                port,
                mtime: 1_700_000_000,
            },
        );
    }
    app.update(Msg::Network(view));
    insta::assert_snapshot!(screen(&app, 100, 28));
}

/// The scene: a 3 MB download from p2 p3 p4, p3 killed mid-transfer, chunk lines in the
/// log, at the three sizes a user has (80x24, 100x30, 200x50).
mod sizes {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::peer::transfer::allocation::Stripe;
    use crate::peer::transfer::progress::{Direction, TransferProgress};

    pub(super) fn killed_peer_app() -> App {
        let t0 = Instant::now();
        let peers = vec!["p2".to_string(), "p3".to_string(), "p4".to_string()];
        let chunks = 3_000_000u64.div_ceil(1000);
        let p = Arc::new(
            TransferProgress::new("big.bin", Direction::Download, 3_000_000, peers).started_at(t0),
        );
        let mut app = demo_app();
        // A frame at the end of each second, as the UI pulls them: the sparkline's samples.
        let frame = |app: &mut App, second: u64| {
            app.update(Msg::Transfers {
                transfers: vec![Arc::clone(&p)],
                now: t0 + Duration::from_secs(second),
            })
        };
        // Five seconds at varying speed, then p3 is killed.
        let mut next = 0u64;
        for (second, count) in [(1, 120), (2, 260), (3, 300), (4, 220), (5, 300)] {
            for i in next..next + count {
                let peer = (i % 3) as usize;
                p.requested(peer);
                p.chunk_done(peer, i, 1000);
            }
            next += count;
            frame(&mut app, second);
        }
        p.requested(1);
        let orphans = [Stripe {
            next: 1201,
            step: 3,
            end: chunks,
        }];
        let note = format!(
            "Server p3 stopped serving file big.bin (connection closed): {} unfinished chunks reassigned to p2 p4",
            orphans[0].len()
        );
        p.peer_left(1, &orphans, &[(0, 300), (2, 300)], note.clone());
        // Two peers left: slower. p2 and p4 each have 150 chunks in flight past the last one
        // received (p2 fetching p3's old share too).
        let mut awaited = Vec::new();
        for i in 1500..1800u64 {
            let peer = if i % 3 == 1 { 0 } else { (i % 3) as usize };
            awaited.push((peer, i));
        }
        p.requested_many(0, 150);
        p.requested_many(2, 150);
        p.awaiting(awaited);
        // Adaptive windows: p2 fast (most of its 512 out), p4 slow enough to get fewer.
        p.set_window(0, 512);
        p.set_window(2, 160);
        for (second, count) in [(6, 60), (7, 120), (8, 120)] {
            for i in next..next + count {
                let peer = if i % 3 == 1 { 0 } else { (i % 3) as usize };
                p.requested(peer);
                p.chunk_done(peer, i, 1000);
            }
            next += count;
            frame(&mut app, second);
        }
        app.update(Msg::Reachable {
            peer: "p3".into(),
            online: false,
        });
        let mut lines = vec![(LineKind::Outcome, "Downloading file big.bin".to_string())];
        for i in 1450..1500 {
            let peer = ["p2", "p3", "p4"][i % 3];
            lines.push((
                LineKind::Request,
                format!("Client ({peer}): #DOWNLOAD big.bin chunk {i}"),
            ));
            lines.push((
                LineKind::Reply,
                format!("Server ({peer}): 200 File big.bin chunk {i}"),
            ));
        }
        lines.insert(40, (LineKind::Note, note));
        app.update(super::lines(lines));
        app
    }

    #[test]
    fn download_with_a_killed_peer_at_80x24() {
        insta::assert_snapshot!(screen(&killed_peer_app(), 80, 24));
    }

    #[test]
    fn download_with_a_killed_peer_at_100x30() {
        insta::assert_snapshot!(screen(&killed_peer_app(), 100, 30));
    }

    #[test]
    fn download_with_a_killed_peer_at_200x50() {
        insta::assert_snapshot!(screen(&killed_peer_app(), 200, 50));
    }
}

#[test]
fn help_at_80x24_keeps_every_key() {
    let mut app = demo_app();
    app.update(Msg::Terminal(Event::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    ))));
    insta::assert_snapshot!(screen(&app, 80, 24));
}

/// The filtered log, a search hit, the Transfers panel focused with a transfer selected.
#[test]
fn filtered_log_with_a_search_hit_and_a_selected_transfer_at_100x30() {
    let mut app = sizes::killed_peer_app();
    // A frame drawn at that size first, as the event loop does: a page is what it shows.
    super::app_tests::drawn(&mut app, 100, 30);
    let key = |app: &mut App, code: KeyCode| {
        app.update(Msg::Terminal(Event::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))))
    };
    key(&mut app, KeyCode::Char('f'));
    key(&mut app, KeyCode::Char('/'));
    for c in "stopped".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Tab);
    insta::assert_snapshot!(screen(&app, 100, 30));
}

#[test]
fn the_served_files_panel_says_who_may_upload_and_the_limits() {
    let mut app = demo_app();
    app.update(Msg::Uploads(UploadStatus {
        policy: Uploads::Known,
        max_file: Some(10 << 20),
        quota: Some(2 << 30),
        received: 1 << 20,
        in_progress: 512 << 10,
    }));
    for (width, height) in [(80, 24), (200, 50)] {
        let shown = screen(&app, width, height);
        assert!(shown.contains("uploads: known peers"), "{shown}");
        // The files are still listed above it.
        assert!(
            shown.contains("f2.txt") && shown.contains("ocean.txt"),
            "{shown}"
        );
    }
    let wide = screen(&app, 200, 50);
    assert!(wide.contains("quota 1.5M of 2G used"), "{wide}");
}

/// Files the protocol cannot name are said under the served files: how many, where the reasons
/// are, and (room permitting) which, escaped.
#[test]
fn the_served_files_panel_says_which_names_are_not_servable() {
    let mut app = demo_app();
    let served = vec![ServedFile {
        name: "f2.txt".into(),
        size: 131,
    }];
    app.update(Msg::Files {
        served,
        receiving: vec![],
        unservable: vec!["my file.txt".into(), "tab\there".into()],
        now: Instant::now(),
    });
    assert_eq!(app.served.unservable, ["my file.txt", "tab\there"]);
    app.update(Msg::Uploads(UploadStatus {
        policy: Uploads::Known,
        max_file: Some(10 << 20),
        ..UploadStatus::default()
    }));
    insta::assert_snapshot!(screen(&app, 80, 24));
    let wide = screen(&app, 200, 50);
    assert!(
        wide.contains("2 names not servable · see p2p-tui.log")
            && wide.contains("my file.txt · tab\\there"),
        "{wide}"
    );
    assert!(wide.contains("uploads: known peers") && wide.contains("f2.txt"));
    // The files are listed again without them once renamed: the warning goes.
    app.update(Msg::Files {
        served: vec![],
        receiving: vec![],
        unservable: vec![],
        now: Instant::now(),
    });
    assert!(!screen(&app, 80, 24).contains("not servable"));
    // One name: singular.
    app.update(Msg::Files {
        served: vec![],
        receiving: vec![],
        unservable: vec!["a b".into()],
        now: Instant::now(),
    });
    assert!(screen(&app, 80, 24).contains("1 name not servable"));
}

/// A peer that listed files and then went offline: its entries stay, marked, and Enter
/// downloads from the holders still online (or says that none is).
#[test]
fn network_files_of_a_peer_gone_offline_are_marked_and_skipped() {
    use super::app::{Action, Focus};
    use crate::peer::client::FilesListed;
    use crate::peer::command::Command;
    let mut app = demo_app();
    for (peer, files) in [
        ("p2", vec!["river.txt"]),
        ("p3", vec!["river.txt", "sea.txt"]),
    ] {
        app.update(Msg::FilesListed(FilesListed {
            peer: peer.into(),
            files: files.into_iter().map(String::from).collect(),
        }));
    }
    app.update(Msg::Reachable {
        peer: "p3".into(),
        online: false,
    });
    assert!(app.peers.is_offline("p3"));
    // Still listed: the peer may come back with the same files.
    assert_eq!(app.network.files(&app.peers).len(), 2);
    insta::assert_snapshot!(screen(&app, 100, 28));
    let press = |app: &mut App, code| {
        app.update(Msg::Terminal(Event::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))))
    };
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Focus::Network);
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Action::Run(Command::Download {
            file: "river.txt".into(),
            peers: vec!["p2".into()]
        }))
    );
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    let said = app.bar.message.as_ref().expect("a message");
    assert_eq!(
        (said.text.as_str(), said.is_error),
        ("Every peer that listed sea.txt is offline", true)
    );
    // Back online: unmarked, and a download uses it again.
    app.update(Msg::Reachable {
        peer: "p3".into(),
        online: true,
    });
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Action::Run(Command::Download {
            file: "sea.txt".into(),
            peers: vec!["p3".into()]
        }))
    );
}
