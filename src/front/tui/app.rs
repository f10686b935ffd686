//! The UI's state and its one writer, `App::update`. Each panel's state (state/) owns its
//! fields, messages and keys; `App` keeps what no panel owns (focus, the help and quit prompts,
//! the terminal's size, the last frame's areas) and routes messages, keys and clicks to the
//! panels. Rendering only reads it.

use std::sync::Arc;
use std::time::Instant;

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use ratatui::layout::Position;

use super::areas::FrameAreas;
use super::log::LogLine;
use super::state::command_bar::{Bar, BarMode};
pub use super::state::effect::{Action, BarMessage};
use super::state::effect::{ECHO, Effect};
use super::state::log_view::LogView;
use super::state::network_files::NetworkFiles;
use super::state::peers::Peers;
use super::state::served_files::ServedFiles;
use super::state::transfers::Transfers;
use crate::core::protocol::lines::LineKind;
use crate::core::settings::PeerAddr;
use crate::core::store::ServedFile;
use crate::core::uploads::UploadStatus;
use crate::peer::command::{self, Command};
use crate::peer::transfer::progress::TransferProgress;

/// Where keys go (besides the keys that work everywhere): Tab / Shift-Tab move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Command,
    Transfers,
    Log,
    Network,
}

impl Focus {
    pub const ALL: [Focus; 4] = [Focus::Command, Focus::Transfers, Focus::Log, Focus::Network];

    pub fn name(self) -> &'static str {
        match self {
            Focus::Command => "Command",
            Focus::Transfers => "Transfers",
            Focus::Log => "Log",
            Focus::Network => "Network files",
        }
    }
}

/// Something that happened, for `App::update`.
#[derive(Debug)]
pub enum Msg {
    Terminal(Event),
    /// Lines logged since the last frame.
    Lines(Vec<LogLine>),
    Files {
        served: Vec<ServedFile>,
        receiving: Vec<String>,
        /// Files in served_files/ not served: the protocol cannot name them.
        unservable: Vec<String>,
        now: Instant,
    },
    /// Who may upload to this peer, and the limits and quota used (`UploadStatus`'s words).
    Uploads(UploadStatus),
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
    /// A peer answered `#FILELIST` with these files.
    FilesListed(crate::peer::client::FilesListed),
    /// The terminal's size (at start, and on every resize).
    Size {
        width: u16,
        height: u16,
    },
    /// A frame was drawn: where its panels are.
    Drawn(FrameAreas),
    /// Something the event loop did, to be said in the message line.
    Said(String),
}

pub struct App {
    pub peers: Peers,
    pub log: LogView,
    pub transfers: Transfers,
    pub network: NetworkFiles,
    pub served: ServedFiles,
    pub bar: Bar,
    pub focus: Focus,
    pub show_help: bool,
    /// `q` was pressed while commands run: the next `q` or `y` quits.
    pub confirm_quit: bool,
    /// Commands started and not yet finished.
    pub running: usize,
    /// Peers F2, F3, ... take offline and back (only in --demo).
    pub switchable: Vec<String>,
    /// The terminal's size.
    pub size: (u16, u16),
    /// Where the last frame drew its panels (`Msg::Drawn`).
    pub frame: FrameAreas,
}

impl App {
    /// The command bar's history, from an earlier run.
    pub fn with_history(mut self, history: Vec<String>) -> App {
        self.bar = Bar::new(history);
        self
    }

    /// The peers F2, F3, ... take offline and back (`--demo`).
    pub fn with_switchable(mut self, ids: Vec<String>) -> App {
        self.switchable = ids;
        self
    }

    pub fn new(me: &str, peers: &[PeerAddr]) -> App {
        App {
            peers: Peers::new(me, peers),
            log: LogView::default(),
            transfers: Transfers::default(),
            network: NetworkFiles::default(),
            served: ServedFiles::default(),
            bar: Bar::new(Vec::new()),
            focus: Focus::Command,
            show_help: false,
            confirm_quit: false,
            running: 0,
            switchable: Vec::new(),
            size: (80, 24),
            frame: FrameAreas::default(),
        }
    }

    pub fn update(&mut self, msg: Msg) -> Option<Action> {
        match msg {
            Msg::Terminal(event) => return self.on_terminal(event),
            Msg::Lines(lines) => self.log.on_lines(lines),
            Msg::Files {
                served,
                receiving,
                unservable,
                now,
            } => self.served.on_files(served, receiving, unservable, now),
            Msg::Uploads(status) => self.served.uploads = Some(status),
            Msg::Reachable { peer, online } => self.peers.on_reachable(&peer, online),
            Msg::CommandFinished => self.on_command_finished(),
            Msg::Network(view) => self.network.tracker = Some(view),
            Msg::FilesListed(list) => self.network.on_files_listed(list),
            Msg::Transfers { transfers, now } => {
                let focused = self.focus == Focus::Transfers;
                self.transfers.on_progress(transfers, now, focused);
            }
            Msg::Size { width, height } => self.size = (width, height),
            Msg::Drawn(areas) => {
                self.log.rows = areas.log_rows();
                self.frame = areas;
            }
            Msg::Said(text) => self.bar.say(BarMessage::info(text)),
        }
        None
    }

    fn on_command_finished(&mut self) {
        self.running = self.running.saturating_sub(1);
        if self.running == 0 && self.confirm_quit {
            // Nothing left to lose: the question no longer stands.
            self.confirm_quit = false;
            self.bar.message = None;
        }
    }

    fn on_terminal(&mut self, event: Event) -> Option<Action> {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => return self.on_key(key),
            Event::Mouse(mouse) => match mouse.kind {
                MouseEventKind::ScrollUp => self.log.scroll_by(3),
                MouseEventKind::ScrollDown => self.log.scroll_by(-3),
                MouseEventKind::Down(MouseButton::Left) => {
                    self.click(Position::new(mouse.column, mouse.row))
                }
                _ => {}
            },
            Event::Paste(text) => {
                self.bar.paste(&text);
                self.focus = Focus::Command;
            }
            Event::Resize(width, height) => self.size = (width, height),
            _ => {}
        }
        None
    }

    /// A click focuses the panel under it (and selects the file or transfer clicked) in the
    /// last frame drawn.
    fn click(&mut self, at: Position) {
        let frame = &self.frame;
        if frame.bar.contains(at) {
            self.focus = Focus::Command;
        } else if frame.log.contains(at) {
            self.focus = Focus::Log;
        } else if frame.network.contains(at) {
            self.focus = Focus::Network;
            let row = usize::from(at.y.saturating_sub(frame.network.y + 1));
            if let Some(n) = row.checked_sub(frame.first_file_row) {
                self.network.select(n, &self.peers);
            }
        } else if frame.transfers.contains(at) {
            self.focus = Focus::Transfers;
            let row = at.y.saturating_sub(frame.transfers.y + 1);
            let picked = frame.transfer_at(row);
            self.transfers
                .select(picked.or(self.transfers.selected_index));
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        if self.show_help {
            let closes = [
                KeyCode::Esc,
                KeyCode::F(1),
                KeyCode::Char('?'),
                KeyCode::Char('q'),
            ];
            self.show_help = !closes.contains(&key.code);
            return None;
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            self.bar.message = None;
            let quits = matches!(key.code, KeyCode::Char('q' | 'y' | 'Y'));
            return quits.then_some(Action::Quit);
        }
        if key.code != KeyCode::Tab {
            self.bar.line.end_cycle();
        }
        if self.bar.mode == BarMode::Search {
            if let Some(text) = self.bar.on_search_key(key) {
                let said = self.log.search_for(text);
                self.bar.say(said);
            }
            return None;
        }
        if let Some(action) = self.on_global_key(key) {
            return action;
        }
        let typing = self.focus == Focus::Command && !self.bar.value().is_empty();
        if typing {
            return self.on_typing_key(key);
        }
        self.on_shortcut(key)
    }

    /// Keys that work whatever is focused or typed (Some: the key was taken).
    fn on_global_key(&mut self, key: KeyEvent) -> Option<Option<Action>> {
        match key.code {
            KeyCode::F(1) => self.show_help = true,
            KeyCode::F(n @ 2..=9) if usize::from(n - 2) < self.switchable.len() => {
                return Some(Some(Action::TogglePeer(usize::from(n - 2))));
            }
            KeyCode::BackTab => self.move_focus(-1),
            KeyCode::PageUp => self.log.scroll_by(self.log.page() as isize),
            KeyCode::PageDown => self.log.scroll_by(-(self.log.page() as isize)),
            _ => return None,
        }
        Some(None)
    }

    /// Keys while a command is being typed.
    fn on_typing_key(&mut self, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Enter => return self.submit(),
            KeyCode::Tab => self.complete(),
            _ => self.bar.on_typing_key(key),
        }
        None
    }

    /// Keys with an empty bar, or with another panel focused.
    fn on_shortcut(&mut self, key: KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('q') if !ctrl => return self.ask_quit(),
            KeyCode::Char('?') => self.show_help = true,
            KeyCode::Char('/') => self.bar.start_search(),
            KeyCode::Char('n') => self.bar.say(self.log.find(true)),
            KeyCode::Char('N') => self.bar.say(self.log.find(false)),
            KeyCode::Char('f') => self.bar.say(self.log.toggle_chunks()),
            KeyCode::Tab => self.move_focus(1),
            KeyCode::Esc => {
                self.focus = Focus::Command;
                self.log.end_search();
                self.bar.message = None;
            }
            KeyCode::Home => self.log.oldest(),
            KeyCode::End => self.log.follow(),
            _ => return self.on_panel_key(key),
        }
        None
    }

    /// The focused panel's own keys.
    fn on_panel_key(&mut self, key: KeyEvent) -> Option<Action> {
        let effects = match self.focus {
            Focus::Transfers => self.transfers.on_key(key),
            Focus::Log => self.log.on_key(key),
            Focus::Network => self.network.on_key(key, &self.peers),
            Focus::Command => {
                self.bar.on_empty_key(key);
                Vec::new()
            }
        };
        self.apply(effects)
    }

    /// Does what a panel's key asked of the rest of the UI.
    fn apply(&mut self, effects: Vec<Effect>) -> Option<Action> {
        let mut action = None;
        for effect in effects {
            match effect {
                Effect::Say(message) => self.bar.say(message),
                Effect::Log(kind, text) => self.log.log_line(kind, text),
                Effect::TypeIntoBar(key) => {
                    self.focus = Focus::Command;
                    self.bar.edit(key);
                }
                Effect::Act(Action::Run(command)) => {
                    self.running += 1;
                    action = Some(Action::Run(command));
                }
                Effect::Act(other) => action = Some(other),
            }
        }
        action
    }

    fn move_focus(&mut self, step: isize) {
        let at = Focus::ALL
            .iter()
            .position(|f| *f == self.focus)
            .unwrap_or(0) as isize;
        let n = Focus::ALL.len() as isize;
        self.focus = Focus::ALL[(at + step).rem_euclid(n) as usize];
        if self.focus == Focus::Transfers {
            self.transfers.on_focus();
        }
    }

    fn ask_quit(&mut self) -> Option<Action> {
        let running = self.transfers.running();
        if running == 0 && self.running == 0 {
            return Some(Action::Quit);
        }
        self.confirm_quit = true;
        let what = if running > 0 {
            crate::core::words::count(running as u64, "transfer is", "transfers are")
        } else {
            crate::core::words::count(self.running as u64, "command is", "commands are")
        };
        self.bar.say(BarMessage::error(format!(
            "{what} running: q or y quits and cancels, any other key stays"
        )));
        None
    }

    /// Tab: command words, then the files this peer and others list, then peer IDs.
    fn complete(&mut self) {
        let peers = self.peers.ids();
        let mut files: Vec<String> = self.served.names().collect();
        files.extend(self.network.files(&self.peers).into_iter().map(|f| f.name));
        files.sort();
        files.dedup();
        self.bar.complete(&peers, &files);
    }

    /// Enter: the typed line becomes a command for the event loop, or an error said.
    fn submit(&mut self) -> Option<Action> {
        let line = self.bar.line.submit();
        if line.trim().is_empty() {
            return None;
        }
        self.log
            .log_line(LineKind::Request, format!("{ECHO}{line}"));
        match command::parse(&line) {
            Ok(Command::Quit) => self.ask_quit(),
            Ok(command) => {
                self.bar.message = None;
                self.log.follow();
                self.apply(vec![Effect::Act(Action::Run(command))])
            }
            Err(e) => {
                self.log.log_line(LineKind::Error, e.to_string());
                self.bar.say(BarMessage::error(e.to_string()));
                None
            }
        }
    }
}
