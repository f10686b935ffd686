//! The UI's state and its one writer, `App::update`. Rendering only reads it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use tui_input::backend::crossterm::EventHandler;

use super::input::CommandBar;
use crate::command::{self, Command};
use crate::peer::transfer::progress::{TransferProgress, TransferSnapshot};
use crate::protocol::lines::LineKind;
use crate::settings::PeerAddr;
use crate::store::ServedFile;

/// Lines kept in the message log.
pub const LOG_CAPACITY: usize = 5_000;
/// How long a newly arrived file stays highlighted.
const NEW_FILE_HIGHLIGHT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    Me,
    Unknown,
    Online,
    Offline,
}

#[derive(Debug, Clone)]
pub struct PeerRow {
    pub addr: PeerAddr,
    pub state: PeerState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub name: String,
    pub size: u64,
    /// Still being received: shown, but not as served.
    pub receiving: bool,
    pub new_until: Option<Instant>,
}

/// Something that happened, for `App::update`.
#[derive(Debug)]
pub enum Msg {
    Terminal(Event),
    Lines(Vec<(LineKind, String)>),
    Files {
        served: Vec<ServedFile>,
        receiving: Vec<String>,
        now: Instant,
    },
    Reachable {
        peer: String,
        online: bool,
    },
    /// The latest transfers (running and recent), pulled once per frame.
    Transfers {
        transfers: Vec<Arc<TransferProgress>>,
        now: Instant,
    },
    CommandFinished,
    /// The tracker's latest view (with `--join`).
    Network(crate::tracker::join::NetworkView),
}

/// What the event loop must do after an update.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Run(Command),
    /// Take the n-th switchable (demo) peer offline or bring it back.
    TogglePeer(usize),
    Quit,
}

pub struct App {
    pub me: String,
    pub peers: Vec<PeerRow>,
    pub files: Vec<FileRow>,
    pub log: VecDeque<(LineKind, String)>,
    /// Lines scrolled back from the newest (0: following the newest).
    pub scroll: usize,
    pub bar: CommandBar,
    /// A one-line message under the command bar (text, is_error).
    pub message: Option<(String, bool)>,
    pub show_help: bool,
    pub running: usize,
    /// The latest transfers (running and recent) as of `now`.
    pub transfers: Vec<TransferSnapshot>,
    /// With `--join`: the tracker's view, refreshed with the served files.
    pub network: Option<crate::tracker::join::NetworkView>,
    /// File names other peers listed in `#FILELIST` replies.
    pub remote_files: Vec<String>,
    /// Peers F2, F3, ... take offline and back (only in --demo).
    pub switchable: Vec<String>,
    /// The time of the latest frame: rates and ETAs are derived against it.
    pub now: Instant,
    files_listed: bool,
}

impl App {
    pub fn new(me: &str, peers: &[PeerAddr]) -> App {
        let peers = peers
            .iter()
            .map(|addr| PeerRow {
                state: if addr.id == me {
                    PeerState::Me
                } else {
                    PeerState::Unknown
                },
                addr: addr.clone(),
            })
            .collect();
        App {
            me: me.to_string(),
            peers,
            files: Vec::new(),
            log: VecDeque::new(),
            scroll: 0,
            bar: CommandBar::default(),
            message: None,
            show_help: false,
            running: 0,
            transfers: Vec::new(),
            now: Instant::now(),
            switchable: Vec::new(),
            remote_files: Vec::new(),
            network: None,
            files_listed: false,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Option<Action> {
        match msg {
            Msg::Terminal(event) => return self.on_terminal(event),
            Msg::Lines(lines) => self.on_lines(lines),
            Msg::Files {
                served,
                receiving,
                now,
            } => self.on_files(served, receiving, now),
            Msg::Reachable { peer, online } => {
                if let Some(row) = self
                    .peers
                    .iter_mut()
                    .find(|r| r.addr.id == peer && r.state != PeerState::Me)
                {
                    row.state = if online {
                        PeerState::Online
                    } else {
                        PeerState::Offline
                    };
                }
            }
            Msg::CommandFinished => self.running = self.running.saturating_sub(1),
            Msg::Network(view) => self.network = Some(view),
            Msg::Transfers { transfers, now } => {
                self.transfers = transfers.iter().map(|t| t.snapshot(now)).collect();
                self.now = now;
            }
        }
        None
    }

    fn on_lines(&mut self, lines: Vec<(LineKind, String)>) {
        let added = lines.len();
        // File lists seen in replies feed Tab completion of #DOWNLOAD.
        for (_, text) in &lines {
            if let Some((_, names)) = text.split_once("): 200 Files served:") {
                for name in names.split_whitespace() {
                    if !self.remote_files.iter().any(|n| n == name) {
                        self.remote_files.push(name.to_string());
                    }
                }
            }
        }
        self.log.extend(lines);
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
        }
        if self.scroll > 0 {
            // Keep the view where the user left it while new lines arrive.
            self.scroll = (self.scroll + added).min(self.log.len());
        }
    }

    fn on_files(&mut self, served: Vec<ServedFile>, receiving: Vec<String>, now: Instant) {
        let known: Vec<String> = self
            .files
            .iter()
            .filter(|f| !f.receiving)
            .map(|f| f.name.clone())
            .collect();
        let mut rows: Vec<FileRow> = served
            .into_iter()
            .map(|f| {
                let old = self.files.iter().find(|r| r.name == f.name && !r.receiving);
                let arrived = self.files_listed && !known.contains(&f.name);
                let new_until = if arrived {
                    Some(now + NEW_FILE_HIGHLIGHT)
                } else {
                    old.and_then(|r| r.new_until)
                };
                FileRow {
                    name: f.name,
                    size: f.size,
                    receiving: false,
                    new_until: new_until.filter(|t| *t > now),
                }
            })
            .collect();
        rows.extend(receiving.into_iter().map(|name| FileRow {
            name,
            size: 0,
            receiving: true,
            new_until: None,
        }));
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        self.files = rows;
        self.files_listed = true;
    }

    fn on_terminal(&mut self, event: Event) -> Option<Action> {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Event::Mouse(mouse) => {
                match mouse.kind {
                    MouseEventKind::ScrollUp => self.scroll_by(3),
                    MouseEventKind::ScrollDown => self.scroll_by(-3),
                    _ => {}
                }
                None
            }
            Event::Paste(text) => {
                for c in text.chars().filter(|c| !c.is_control()) {
                    self.bar
                        .input
                        .handle(tui_input::InputRequest::InsertChar(c));
                }
                None
            }
            _ => None,
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let bar_empty = self.bar.value().is_empty();
        match key.code {
            KeyCode::Char('c') if ctrl => return Some(Action::Quit),
            KeyCode::Char('q') if bar_empty && !ctrl => return Some(Action::Quit),
            KeyCode::Char('?') if bar_empty => self.show_help = !self.show_help,
            KeyCode::F(1) => self.show_help = !self.show_help,
            KeyCode::F(n @ 2..=9) if usize::from(n - 2) < self.switchable.len() => {
                return Some(Action::TogglePeer(usize::from(n - 2)));
            }
            KeyCode::Esc if self.show_help => self.show_help = false,
            KeyCode::Esc => self.bar.input.reset(),
            KeyCode::Enter => return self.submit(),
            KeyCode::Up => self.bar.history_up(),
            KeyCode::Down => self.bar.history_down(),
            KeyCode::Tab => {
                let peers: Vec<String> = self.peers.iter().map(|p| p.addr.id.clone()).collect();
                let mut files: Vec<String> = self.files.iter().map(|f| f.name.clone()).collect();
                if let Some(network) = &self.network {
                    files.extend(network.directory.keys().cloned());
                }
                files.extend(
                    self.remote_files
                        .iter()
                        .filter(|n| !files.contains(n))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                files.sort();
                self.bar.complete(&peers, &files);
            }
            KeyCode::PageUp => self.scroll_by(10),
            KeyCode::PageDown => self.scroll_by(-10),
            KeyCode::End if ctrl || bar_empty => self.scroll = 0,
            KeyCode::Home if ctrl || bar_empty => self.scroll = self.log.len(),
            _ => {
                self.bar.input.handle_event(&Event::Key(key));
            }
        }
        None
    }

    /// Whether `peer` left a transfer that is still shown (what transfers observe, between probes).
    pub fn left_mid_transfer(&self, peer: &str) -> bool {
        self.transfers
            .iter()
            .any(|t| t.peers.iter().any(|p| p.id == peer && p.left))
    }

    fn scroll_by(&mut self, lines: isize) {
        self.scroll = self.scroll.saturating_add_signed(lines).min(self.log.len());
    }

    fn submit(&mut self) -> Option<Action> {
        let line = self.bar.submit();
        if line.trim().is_empty() {
            return None;
        }
        match command::parse(&line) {
            Ok(Command::Quit) => Some(Action::Quit),
            Ok(command) => {
                self.message = None;
                self.scroll = 0;
                self.running += 1;
                Some(Action::Run(command))
            }
            Err(e) => {
                self.message = Some((e.to_string(), true));
                None
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEvent;

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

    fn key(app: &mut App, code: KeyCode) -> Option<Action> {
        app.update(Msg::Terminal(Event::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))))
    }

    fn type_text(app: &mut App, text: &str) {
        for c in text.chars() {
            key(app, KeyCode::Char(c));
        }
    }

    #[test]
    fn typing_a_command_and_enter_runs_it() {
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
        app.update(Msg::CommandFinished);
        assert_eq!(app.running, 0);
    }

    #[test]
    fn malformed_commands_leave_a_clear_message() {
        let mut app = app();
        type_text(&mut app, "#DOWNLOAD");
        assert_eq!(key(&mut app, KeyCode::Enter), None);
        let (text, is_error) = app.message.clone().unwrap();
        assert!(is_error);
        assert!(text.contains("#DOWNLOAD needs a file name"), "{text}");
    }

    #[test]
    fn a_peer_that_left_a_transfer_is_known_as_such() {
        use crate::peer::transfer::progress::{Direction, TransferProgress};
        let mut app = app();
        let t = TransferProgress::new(
            "f",
            Direction::Download,
            500,
            vec!["p2".into(), "p3".into()],
        );
        t.peer_left(1, &[], &[(0, 2)], "p3 left".into());
        app.update(Msg::Transfers {
            transfers: vec![Arc::new(t)],
            now: Instant::now(),
        });
        assert!(app.left_mid_transfer("p3"));
        assert!(!app.left_mid_transfer("p2"));
    }

    #[test]
    fn tab_offers_file_names_other_peers_listed() {
        let mut app = app();
        app.update(Msg::Lines(vec![(
            LineKind::Reply,
            "Server (p2): 200 Files served: ocean.txt river.txt".into(),
        )]));
        type_text(&mut app, "#DOWNLOAD ri");
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.bar.value(), "#DOWNLOAD river.txt ");
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
            now: t0,
        });
        assert_eq!(app.files[0].new_until, None);
        app.update(Msg::Files {
            served: vec![f("a")],
            receiving: vec!["b".into()],
            now: t0,
        });
        assert!(app.files[1].receiving);
        app.update(Msg::Files {
            served: vec![f("a"), f("b")],
            receiving: vec![],
            now: t0,
        });
        assert!(app.files[1].new_until.is_some() && !app.files[1].receiving);
        app.update(Msg::Files {
            served: vec![f("a"), f("b")],
            receiving: vec![],
            now: t0 + Duration::from_secs(6),
        });
        assert_eq!(app.files[1].new_until, None);
    }

    #[test]
    fn the_log_is_bounded_and_scrolling_holds_its_place() {
        let mut app = app();
        app.update(Msg::Lines(
            (0..LOG_CAPACITY + 10)
                .map(|n| (LineKind::Note, n.to_string()))
                .collect(),
        ));
        assert_eq!(app.log.len(), LOG_CAPACITY);
        assert_eq!(app.log.front().unwrap().1, "10");
        key(&mut app, KeyCode::PageUp);
        assert_eq!(app.scroll, 10);
        app.update(Msg::Lines(vec![(LineKind::Note, "more".into())]));
        assert_eq!(app.scroll, 11);
        key(&mut app, KeyCode::End);
        assert_eq!(app.scroll, 0);
    }
}
