//! The UI's state and its one writer, `App::update`. Rendering only reads it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use tui_input::backend::crossterm::EventHandler;

use super::input::{CommandBar, Completion};
use super::log::{Log, LogLine};
use crate::command::{self, Command};
use crate::peer::transfer::progress::{Direction, Outcome, TransferProgress, TransferSnapshot};
use crate::protocol::lines::LineKind;
use crate::settings::PeerAddr;
use crate::store::ServedFile;

/// How long a newly arrived file stays highlighted.
const NEW_FILE_HIGHLIGHT: Duration = Duration::from_secs(5);
/// A transfer's rate is sampled this often for its sparkline...
const RATE_SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// ...and this many samples are kept (a minute: the widest sparkline drawn).
pub const RATE_SAMPLES: usize = 60;
/// The echo of a typed command, as the seed's console shows it.
pub const ECHO: &str = "Input your command: ";

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

/// A file some other peer offers, and who holds it (settings IDs where known, else ip:port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFile {
    pub name: String,
    pub holders: Vec<String>,
}

/// What the bar is being typed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarMode {
    Command,
    /// `/`: a text to find in the log.
    Search,
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
    Uploads(String),
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
    /// Something the event loop did, to be said in the message line.
    Said(String),
}

/// What the event loop must do after an update.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Run(Command),
    /// Take the n-th switchable (demo) peer offline or bring it back.
    TogglePeer(usize),
    /// Stop the running transfer of `file` in `direction` (its partial file is removed).
    Cancel {
        file: String,
        direction: Direction,
    },
    Quit,
}

/// The one-line message in the command bar's title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarMessage {
    pub text: String,
    pub is_error: bool,
}

impl BarMessage {
    pub fn info(text: String) -> BarMessage {
        BarMessage {
            text,
            is_error: false,
        }
    }

    pub fn error(text: String) -> BarMessage {
        BarMessage {
            text,
            is_error: true,
        }
    }
}

/// One transfer's rate (bytes per second), sampled once a second: the Transfers panel's
/// sparkline.
struct RateHistory {
    transfer: Arc<TransferProgress>,
    samples: VecDeque<u64>,
    /// When the latest sample was taken (at first: when the transfer started).
    last: Option<Instant>,
}

impl RateHistory {
    fn new(transfer: Arc<TransferProgress>) -> RateHistory {
        RateHistory {
            samples: VecDeque::with_capacity(RATE_SAMPLES),
            // The first second's rate is an average over too little time to draw.
            last: Some(transfer.started),
            transfer,
        }
    }

    /// Takes `rate` as the sample for `now` if a second has passed since the last one.
    fn sample(&mut self, rate: f64, now: Instant) {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < RATE_SAMPLE_EVERY)
        {
            return;
        }
        self.last = Some(now);
        if self.samples.len() == RATE_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(rate.max(0.0) as u64);
    }
}

pub struct App {
    pub me: String,
    pub peers: Vec<PeerRow>,
    pub files: Vec<FileRow>,
    /// Files in served_files/ not served because the protocol cannot name them, sorted.
    pub unservable: Vec<String>,
    pub log: Log,
    /// Lines scrolled back from the newest in the current view (0: following the newest).
    pub scroll: usize,
    /// The filtered view: per-chunk lines hidden.
    pub hide_chunks: bool,
    /// The text searched for with `/`, and the line found (by number).
    pub search: Option<String>,
    pub hit: Option<u64>,
    pub bar: CommandBar,
    pub bar_mode: BarMode,
    /// A one-line message in the command bar's title (text, is_error).
    pub message: Option<BarMessage>,
    pub show_help: bool,
    /// `q` was pressed while commands run: the next `q` or `y` quits.
    pub confirm_quit: bool,
    pub focus: Focus,
    pub running: usize,
    /// The latest transfers (running and recent) as of `now`, oldest first, cleared ones left out.
    pub transfers: Vec<TransferSnapshot>,
    handles: Vec<Arc<TransferProgress>>,
    /// Per transfer of `handles` (same order), its rate once a second: built here from
    /// successive snapshots, so the transfer tasks keep no history for the UI.
    rate_history: Vec<RateHistory>,
    /// Transfers the user cleared (held, so they are known when the next list comes).
    cleared: Vec<Arc<TransferProgress>>,
    selected: Option<Arc<TransferProgress>>,
    /// Index into `transfers` of the selected one.
    pub selected_transfer: Option<usize>,
    /// With `--join`: the tracker's view, refreshed with the served files.
    pub network: Option<crate::tracker::join::NetworkView>,
    /// Who may upload to this peer and the limits, as the served-files panel shows them.
    pub uploads: Option<String>,
    /// What other peers listed in `#FILELIST` replies: file name to the peers that hold it.
    pub listed: std::collections::BTreeMap<String, Vec<String>>,
    /// The selected row of the Network files panel.
    pub selected_file: usize,
    /// Peers F2, F3, ... take offline and back (only in --demo).
    pub switchable: Vec<String>,
    /// The time of the latest frame: rates and ETAs are derived against it.
    pub now: Instant,
    /// The terminal's size.
    pub size: (u16, u16),
    files_listed: bool,
}

impl App {
    /// The command bar's history, from an earlier run.
    pub fn with_history(mut self, history: Vec<String>) -> App {
        self.bar = super::input::CommandBar::with_history(history);
        self
    }

    /// The peers F2, F3, ... take offline and back (`--demo`).
    pub fn with_switchable(mut self, ids: Vec<String>) -> App {
        self.switchable = ids;
        self
    }

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
            unservable: Vec::new(),
            log: Log::default(),
            scroll: 0,
            hide_chunks: false,
            search: None,
            hit: None,
            bar: CommandBar::default(),
            bar_mode: BarMode::Command,
            message: None,
            show_help: false,
            confirm_quit: false,
            focus: Focus::Command,
            running: 0,
            transfers: Vec::new(),
            handles: Vec::new(),
            rate_history: Vec::new(),
            cleared: Vec::new(),
            selected: None,
            selected_transfer: None,
            now: Instant::now(),
            switchable: Vec::new(),
            listed: std::collections::BTreeMap::new(),
            selected_file: 0,
            network: None,
            uploads: None,
            size: (80, 24),
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
                unservable,
                now,
            } => {
                self.on_files(served, receiving, now);
                self.unservable = unservable;
            }
            Msg::Uploads(status) => self.uploads = Some(status),
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
            Msg::CommandFinished => {
                self.running = self.running.saturating_sub(1);
                if self.running == 0 && self.confirm_quit {
                    // Nothing left to lose: the question no longer stands.
                    self.confirm_quit = false;
                    self.message = None;
                }
            }
            Msg::Network(view) => self.network = Some(view),
            Msg::FilesListed(list) => self.on_files_listed(list),
            Msg::Transfers { transfers, now } => self.on_transfers(transfers, now),
            Msg::Size { width, height } => self.size = (width, height),
            Msg::Said(text) => self.message = Some(BarMessage::info(text)),
        }
        None
    }

    fn on_lines(&mut self, lines: Vec<LogLine>) {
        let mut added = 0;
        for line in lines {
            if !(self.hide_chunks && line.chunk) {
                added += 1;
            }
            self.log.push(line.kind, line.text, line.chunk);
        }
        if self.scroll > 0 {
            // Keep the view where the user left it while new lines arrive.
            self.scroll = (self.scroll + added).min(self.max_scroll());
        }
    }

    /// A peer's whole list: it holds these files, and no longer the others it listed before.
    fn on_files_listed(&mut self, list: crate::peer::client::FilesListed) {
        for holders in self.listed.values_mut() {
            holders.retain(|h| *h != list.peer);
        }
        for file in list.files {
            let holders = self.listed.entry(file).or_default();
            holders.push(list.peer.clone());
            holders.sort();
        }
        self.listed.retain(|_, holders| !holders.is_empty());
    }

    /// Files other peers offer: from `#FILELIST` replies and, with `--join`, the tracker;
    /// grouped by name, holders named by their settings ID where they have one.
    pub fn network_files(&self) -> Vec<NetworkFile> {
        let mut files = self.listed.clone();
        if let Some(view) = &self.network {
            for (name, holder) in &view.directory {
                let id = self.name_of(&holder.ip, holder.port);
                if id == self.me {
                    continue;
                }
                let holders = files.entry(name.clone()).or_default();
                if !holders.contains(&id) {
                    holders.push(id);
                    holders.sort();
                }
            }
        }
        files
            .into_iter()
            .map(|(name, holders)| NetworkFile { name, holders })
            .collect()
    }

    /// Whether `id` is a settings peer last seen offline.
    pub fn is_offline(&self, id: &str) -> bool {
        (self.peers.iter()).any(|p| p.addr.id == id && p.state == PeerState::Offline)
    }

    /// The settings ID of the peer at `ip:port`, else `ip:port`.
    pub fn name_of(&self, ip: &str, port: u16) -> String {
        self.peers
            .iter()
            .find(|p| {
                p.addr.port == port
                    && p.addr
                        .connect_addr()
                        .rsplit_once(':')
                        .is_some_and(|(host, _)| host.trim_matches(['[', ']']) == ip)
            })
            .map_or_else(|| format!("{ip}:{port}"), |p| p.addr.id.clone())
    }

    /// Downloads the selected network file from every holder.
    fn download_selected_file(&mut self) -> Option<Action> {
        let files = self.network_files();
        let file = files.get(self.selected_file)?;
        // A holder seen going offline is skipped (its entries are marked, not dropped: it may
        // come back with the same files).
        let holders: Vec<&String> = file
            .holders
            .iter()
            .filter(|h| !self.is_offline(h))
            .collect();
        if holders.is_empty() {
            let text = format!("Every peer that listed {} is offline", file.name);
            self.message = Some(BarMessage::error(text));
            return None;
        }
        let known = holders
            .iter()
            .all(|h| self.peers.iter().any(|p| p.addr.id == **h));
        // Holders only the tracker knows are reached through it (no peer list).
        let peers = if known || self.network.is_none() {
            holders
                .into_iter()
                .filter(|h| self.peers.iter().any(|p| p.addr.id == **h))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let line = format!("#DOWNLOAD {} {}", file.name, peers.join(" "));
        self.log_line(LineKind::Request, format!("{ECHO}{}", line.trim_end()));
        self.running += 1;
        Some(Action::Run(Command::Download {
            file: file.name.clone(),
            peers,
        }))
    }

    fn on_network_key(&mut self, key: KeyEvent) -> Option<Action> {
        let count = self.network_files().len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.selected_file = (self.selected_file + 1).min(count.saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.selected_file = self.selected_file.saturating_sub(1);
            }
            KeyCode::Enter | KeyCode::Char('D') => return self.download_selected_file(),
            KeyCode::Char('#') => self.type_into_bar(key),
            _ => {}
        }
        None
    }

    /// Logs a line of the UI's own (a typed command's echo, its error, a cancel).
    fn log_line(&mut self, kind: LineKind, text: String) {
        self.log.push(kind, text, false);
        if self.scroll > 0 {
            self.scroll = (self.scroll + 1).min(self.max_scroll());
        }
    }

    fn on_transfers(&mut self, transfers: Vec<Arc<TransferProgress>>, now: Instant) {
        // Cleared transfers the engine has since forgotten need not be held any longer.
        self.cleared
            .retain(|c| transfers.iter().any(|t| Arc::ptr_eq(t, c)));
        self.handles = transfers
            .into_iter()
            .filter(|t| !self.cleared.iter().any(|c| Arc::ptr_eq(t, c)))
            .collect();
        self.transfers = self.handles.iter().map(|t| t.snapshot(now)).collect();
        let mut earlier = std::mem::take(&mut self.rate_history);
        self.rate_history = (self.handles.iter().zip(&self.transfers))
            .map(|(handle, snapshot)| {
                let mut history = earlier
                    .iter()
                    .position(|h| Arc::ptr_eq(&h.transfer, handle))
                    .map(|at| earlier.swap_remove(at))
                    .unwrap_or_else(|| RateHistory::new(Arc::clone(handle)));
                if snapshot.outcome == Outcome::Running {
                    history.sample(snapshot.rate, now);
                }
                history
            })
            .collect();
        self.now = now;
        self.selected_transfer = self
            .selected
            .as_ref()
            .and_then(|s| self.handles.iter().position(|t| Arc::ptr_eq(t, s)));
        if self.selected_transfer.is_none() {
            self.selected = None;
            if self.focus == Focus::Transfers {
                self.select(self.handles.len().checked_sub(1));
            }
        }
    }

    /// The rate of `transfers[index]`, one sample a second, oldest first (at most
    /// `RATE_SAMPLES`; frozen when the transfer ends).
    pub fn rate_history(&self, index: usize) -> &VecDeque<u64> {
        static NONE: VecDeque<u64> = VecDeque::new();
        self.rate_history.get(index).map_or(&NONE, |h| &h.samples)
    }

    fn select(&mut self, index: Option<usize>) {
        self.selected = index.and_then(|i| self.handles.get(i).cloned());
        self.selected_transfer = self.selected.as_ref().and(index);
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
                    MouseEventKind::Down(MouseButton::Left) => {
                        self.click(Position::new(mouse.column, mouse.row))
                    }
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
                self.focus = Focus::Command;
                None
            }
            Event::Resize(width, height) => {
                self.size = (width, height);
                None
            }
            _ => None,
        }
    }

    /// A click focuses the panel under it (and, in Transfers, selects the transfer).
    fn click(&mut self, at: Position) {
        let Some(areas) = super::ui::layout(self, self.area()) else {
            return;
        };
        if areas.bar.contains(at) {
            self.focus = Focus::Command;
        } else if areas.log.contains(at) {
            self.focus = Focus::Log;
        } else if areas.network.contains(at) {
            self.focus = Focus::Network;
            let row = usize::from(at.y.saturating_sub(areas.network.y + 1));
            let first = super::panels::network::first_file_row(self);
            if let Some(n) = row.checked_sub(first) {
                self.selected_file = n.min(self.network_files().len().saturating_sub(1));
            }
        } else if areas.transfers.contains(at) {
            self.focus = Focus::Transfers;
            let row = at.y.saturating_sub(areas.transfers.y + 1);
            let picked = super::panels::transfers::transfer_at(self, areas.transfers, row);
            self.select(picked.or(self.selected_transfer));
        }
    }

    fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        if self.show_help {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::F(1) | KeyCode::Char('?') | KeyCode::Char('q')
            ) {
                self.show_help = false;
            }
            return None;
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            self.message = None;
            if matches!(key.code, KeyCode::Char('q' | 'y' | 'Y')) {
                return Some(Action::Quit);
            }
            return None;
        }
        if key.code != KeyCode::Tab {
            self.bar.end_cycle();
        }
        if self.bar_mode == BarMode::Search {
            self.on_search_key(key);
            return None;
        }
        match key.code {
            KeyCode::F(1) => {
                self.show_help = true;
                return None;
            }
            KeyCode::F(n @ 2..=9) if usize::from(n - 2) < self.switchable.len() => {
                return Some(Action::TogglePeer(usize::from(n - 2)));
            }
            KeyCode::BackTab => {
                self.move_focus(-1);
                return None;
            }
            KeyCode::PageUp => {
                self.scroll_by(self.page() as isize);
                return None;
            }
            KeyCode::PageDown => {
                self.scroll_by(-(self.page() as isize));
                return None;
            }
            _ => {}
        }
        let typing = self.focus == Focus::Command && !self.bar.value().is_empty();
        if typing {
            return self.on_typing_key(key);
        }
        self.on_shortcut(key)
    }

    /// Keys while a command is being typed.
    fn on_typing_key(&mut self, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Enter => return self.submit(),
            KeyCode::Up => self.bar.history_up(),
            KeyCode::Down => self.bar.history_down(),
            KeyCode::Esc => self.bar.input.reset(),
            KeyCode::Tab => self.complete(),
            _ => {
                self.bar.input.handle_event(&Event::Key(key));
            }
        }
        None
    }

    /// Keys with an empty bar, or with another panel focused.
    fn on_shortcut(&mut self, key: KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('q') if !ctrl => return self.ask_quit(),
            KeyCode::Char('?') => self.show_help = true,
            KeyCode::Char('/') => {
                self.bar_mode = BarMode::Search;
                self.bar.input.reset();
            }
            KeyCode::Char('n') => self.find(true),
            KeyCode::Char('N') => self.find(false),
            KeyCode::Char('f') => self.toggle_chunks(),
            KeyCode::Tab => self.move_focus(1),
            KeyCode::Esc => {
                self.focus = Focus::Command;
                self.search = None;
                self.hit = None;
                self.message = None;
            }
            KeyCode::Home => self.scroll = self.max_scroll(),
            KeyCode::End => self.scroll = 0,
            _ if self.focus == Focus::Transfers => return self.on_transfers_key(key),
            _ if self.focus == Focus::Log => self.on_log_key(key),
            _ if self.focus == Focus::Network => return self.on_network_key(key),
            KeyCode::Up => self.bar.history_up(),
            KeyCode::Down => self.bar.history_down(),
            KeyCode::Enter => {}
            _ => {
                self.bar.input.handle_event(&Event::Key(key));
            }
        }
        None
    }

    fn on_transfers_key(&mut self, key: KeyEvent) -> Option<Action> {
        let count = self.transfers.len();
        match key.code {
            // Shown newest first: down is older.
            KeyCode::Char('j') | KeyCode::Down => {
                let next = self
                    .selected_transfer
                    .map_or(count.checked_sub(1), |i| Some(i.saturating_sub(1)));
                self.select(next);
            }
            KeyCode::Char('k') | KeyCode::Up => {
                let next = self
                    .selected_transfer
                    .map_or(count.checked_sub(1), |i| Some((i + 1).min(count - 1)));
                self.select(next);
            }
            KeyCode::Char('d') | KeyCode::Delete => return self.cancel_selected(),
            KeyCode::Char('c') => self.clear(false),
            KeyCode::Char('C') => self.clear(true),
            KeyCode::Char('#') => self.type_into_bar(key),
            _ => {}
        }
        None
    }

    fn on_log_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Char('k') | KeyCode::Up => self.scroll_by(1),
            KeyCode::Char('j') | KeyCode::Down => self.scroll_by(-1),
            KeyCode::Char('g') => self.scroll = self.max_scroll(),
            KeyCode::Char('G') => self.scroll = 0,
            KeyCode::Char('#') => self.type_into_bar(key),
            _ => {}
        }
    }

    fn type_into_bar(&mut self, key: KeyEvent) {
        self.focus = Focus::Command;
        self.bar.input.handle_event(&Event::Key(key));
    }

    fn on_search_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => {
                let text = self.bar.input.value_and_reset();
                self.bar_mode = BarMode::Command;
                if text.is_empty() {
                    return;
                }
                self.search = Some(text);
                self.hit = None;
                self.find(true);
            }
            KeyCode::Esc => {
                self.bar.input.reset();
                self.bar_mode = BarMode::Command;
            }
            _ => {
                self.bar.input.handle_event(&Event::Key(key));
            }
        }
    }

    fn move_focus(&mut self, step: isize) {
        let at = Focus::ALL
            .iter()
            .position(|f| *f == self.focus)
            .unwrap_or(0) as isize;
        let n = Focus::ALL.len() as isize;
        self.focus = Focus::ALL[(at + step).rem_euclid(n) as usize];
        if self.focus == Focus::Transfers && self.selected_transfer.is_none() {
            self.select(self.transfers.len().checked_sub(1));
        }
    }

    fn ask_quit(&mut self) -> Option<Action> {
        let running = self
            .transfers
            .iter()
            .filter(|t| t.outcome == Outcome::Running)
            .count();
        if running == 0 && self.running == 0 {
            return Some(Action::Quit);
        }
        self.confirm_quit = true;
        let what = if running > 0 {
            crate::words::count(running as u64, "transfer is", "transfers are")
        } else {
            crate::words::count(self.running as u64, "command is", "commands are")
        };
        self.message = Some(BarMessage::error(format!(
            "{what} running: q or y quits and cancels, any other key stays"
        )));
        None
    }

    fn complete(&mut self) {
        let peers: Vec<String> = self.peers.iter().map(|p| p.addr.id.clone()).collect();
        let mut files: Vec<String> = self.files.iter().map(|f| f.name.clone()).collect();
        files.extend(self.network_files().into_iter().map(|f| f.name));
        files.sort();
        files.dedup();
        match self.bar.complete(&peers, &files) {
            Completion::Several(listed) => {
                self.message = Some(BarMessage::info(format!("Tab: {}", listed.join("  "))));
            }
            Completion::Done | Completion::None => self.message = None,
        }
    }

    fn cancel_selected(&mut self) -> Option<Action> {
        let t = self.transfers.get(self.selected_transfer?)?;
        if t.outcome != Outcome::Running {
            self.message = Some(BarMessage::info(format!(
                "{} has ended: c clears it from the list",
                t.file
            )));
            return None;
        }
        let (file, direction) = (t.file.clone(), t.direction);
        let what = match direction {
            Direction::Download => "download",
            Direction::Upload => "upload",
        };
        self.log_line(
            LineKind::Note,
            format!("Cancelling the {what} of file {file} (asked from the Transfers panel)"),
        );
        Some(Action::Cancel { file, direction })
    }

    /// Clears the selected finished transfer, or all finished ones.
    fn clear(&mut self, all: bool) {
        let finished = |t: &Arc<TransferProgress>| t.outcome() != Outcome::Running;
        let gone: Vec<Arc<TransferProgress>> = if all {
            self.handles
                .iter()
                .filter(|t| finished(t))
                .cloned()
                .collect()
        } else {
            self.selected
                .iter()
                .filter(|t| finished(t))
                .cloned()
                .collect()
        };
        if gone.is_empty() {
            self.message = Some(BarMessage::info(
                "Only finished transfers can be cleared (d cancels a running one)".into(),
            ));
            return;
        }
        let handles = std::mem::take(&mut self.handles);
        self.cleared.extend(gone);
        self.on_transfers(handles, self.now);
    }

    /// Whether `peer` left a transfer that is still shown (what transfers observe, between probes).
    pub fn left_mid_transfer(&self, peer: &str) -> bool {
        self.transfers
            .iter()
            .any(|t| t.peers.iter().any(|p| p.id == peer && p.left && p.done > 0))
    }

    /// The log lines the current view shows (indices into `log`), oldest first.
    pub fn view(&self) -> Vec<usize> {
        self.log.view(self.hide_chunks)
    }

    /// Rows of log text on screen.
    pub fn log_rows(&self) -> usize {
        super::ui::layout(self, self.area())
            .map_or(1, |a| usize::from(a.log.height.saturating_sub(2)).max(1))
    }

    fn page(&self) -> usize {
        self.log_rows().saturating_sub(1).max(1)
    }

    fn max_scroll(&self) -> usize {
        self.view().len().saturating_sub(self.log_rows())
    }

    fn scroll_by(&mut self, lines: isize) {
        self.scroll = self
            .scroll
            .saturating_add_signed(lines)
            .min(self.max_scroll());
    }

    fn toggle_chunks(&mut self) {
        self.hide_chunks = !self.hide_chunks;
        self.scroll = 0;
        if let Some(seq) = self.hit {
            self.show_line(seq);
        }
        self.message = Some(BarMessage::info(if self.hide_chunks {
            "Log: per-chunk lines hidden (f shows them)".into()
        } else {
            "Log: every line (f hides per-chunk lines)".into()
        }));
    }

    /// Goes to the next match of the search: older (`n`) or newer (`N`), wrapping around.
    fn find(&mut self, older: bool) {
        let Some(text) = self.search.clone() else {
            self.message = Some(BarMessage::info(
                "Nothing searched yet: / starts a search".into(),
            ));
            return;
        };
        let view = self.view();
        let matches: Vec<usize> = view
            .iter()
            .enumerate()
            .filter(|(_, i)| self.log.get(**i).is_some_and(|l| l.text.contains(&text)))
            .map(|(at, _)| at)
            .collect();
        if matches.is_empty() {
            self.hit = None;
            self.message = Some(BarMessage::error(format!(
                "No line of the log contains \"{text}\""
            )));
            return;
        }
        // Where the search goes from: the current hit, else just past the newest line.
        let from = self
            .hit
            .and_then(|seq| self.log.index_of(seq))
            .and_then(|i| view.iter().position(|&v| v == i))
            .unwrap_or(view.len());
        let at = if older {
            matches.iter().rev().find(|&&m| m < from).or(matches.last())
        } else {
            matches.iter().find(|&&m| m > from).or(matches.first())
        };
        let Some(&at) = at else { return };
        let number = matches.iter().position(|&m| m == at).unwrap_or(0) + 1;
        let seq = self.log.get(view[at]).map(|l| l.seq);
        self.hit = seq;
        if let Some(seq) = seq {
            self.show_line(seq);
        }
        self.message = Some(BarMessage::info(format!(
            "\"{text}\": match {number} of {} (n older, N newer, Esc ends)",
            matches.len()
        )));
    }

    /// Scrolls so that line `seq` is on screen, a third of the way up from the bottom.
    fn show_line(&mut self, seq: u64) {
        let view = self.view();
        let Some(at) = self
            .log
            .index_of(seq)
            .and_then(|i| view.iter().position(|&v| v == i))
        else {
            return;
        };
        let rows = self.log_rows();
        let below = view.len() - 1 - at;
        self.scroll = below.saturating_sub(rows / 3).min(self.max_scroll());
    }

    fn submit(&mut self) -> Option<Action> {
        let line = self.bar.submit();
        if line.trim().is_empty() {
            return None;
        }
        self.log_line(LineKind::Request, format!("{ECHO}{line}"));
        match command::parse(&line) {
            Ok(Command::Quit) => self.ask_quit(),
            Ok(command) => {
                self.message = None;
                self.scroll = 0;
                self.running += 1;
                Some(Action::Run(command))
            }
            Err(e) => {
                self.log_line(LineKind::Error, e.to_string());
                self.message = Some(BarMessage::error(e.to_string()));
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
        app.view()
            .iter()
            .map(|&i| app.log.get(i).unwrap().text.clone())
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
        let BarMessage { text, is_error } = app.message.clone().unwrap();
        assert!(is_error);
        assert!(text.contains("#DOWNLOAD needs a file name"), "{text}");
        let log = texts(&app);
        assert_eq!(log[0], "Input your command: #DOWNLOAD");
        assert!(log[1].contains("#DOWNLOAD needs a file name"), "{log:?}");
        assert_eq!(app.log.get(1).unwrap().kind, LineKind::Error);
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
        assert!(app.left_mid_transfer("p3"));
        assert!(!app.left_mid_transfer("p2"));
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
            app.network_files(),
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
        let files = app.network_files();
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
            app.message,
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
        let text = app.message.clone().unwrap().text;
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
        assert_eq!(app.selected_transfer, Some(1));
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
        assert_eq!(app.selected_transfer, Some(0));
        assert_eq!(key(&mut app, KeyCode::Char('d')), None);
        key(&mut app, KeyCode::Char('c'));
        assert_eq!(app.transfers.len(), 1);
        assert_eq!(app.transfers[0].file, "big.bin");
        // It stays cleared in the next frames.
        app.update(Msg::Transfers {
            transfers: vec![Arc::clone(&done), Arc::clone(&running)],
            now: Instant::now(),
        });
        assert_eq!(app.transfers.len(), 1);
        // C clears every finished one.
        running.finish(false);
        key(&mut app, KeyCode::Char('C'));
        assert!(app.transfers.is_empty());
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
        let samples: Vec<u64> = app.rate_history(0).iter().copied().collect();
        assert_eq!(samples.len(), 2, "{samples:?}");
        assert!(
            samples.iter().all(|&r| (9_000..=11_000).contains(&r)),
            "{samples:?}"
        );
        // Ten minutes of frames: only the latest minute is kept.
        for second in 3..600u64 {
            frame(&mut app, second * 1000);
        }
        assert_eq!(app.rate_history(0).len(), RATE_SAMPLES);
        assert_eq!(
            app.rate_history(0).back(),
            Some(&0),
            "nothing arrived lately"
        );
        // Finished: the history stays as it was.
        t.finish(true);
        let before = app.rate_history(0).clone();
        frame(&mut app, 700_000);
        assert_eq!(app.rate_history(0), &before);
        // A second transfer gets its own history, and the first keeps its own.
        let other = Arc::new(
            TransferProgress::new("other.bin", Direction::Download, 1000, vec!["p2".into()])
                .started_at(t0 + Duration::from_secs(701)),
        );
        app.update(Msg::Transfers {
            transfers: vec![Arc::clone(&t), Arc::clone(&other)],
            now: t0 + Duration::from_secs(701),
        });
        assert_eq!(app.rate_history(0), &before);
        assert!(app.rate_history(1).is_empty());
        // Cleared: its history goes with it.
        key(&mut app, KeyCode::Tab);
        key(&mut app, KeyCode::Char('C'));
        assert_eq!(app.transfers.len(), 1);
        assert_eq!(app.transfers[0].file, "other.bin");
        assert!(app.rate_history(0).is_empty());
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
        assert!(app.unservable.is_empty());
        app.update(files(&["a b.txt", "tab\tname"]));
        assert_eq!(app.unservable, ["a b.txt", "tab\tname"]);
        assert_eq!(app.files.len(), 1, "not among the served files");
        // Renamed: the next listing no longer has it.
        app.update(files(&["tab\tname"]));
        assert_eq!(app.unservable, ["tab\tname"]);
        app.update(files(&[]));
        assert!(app.unservable.is_empty());
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
        assert_eq!(app.files[0].new_until, None);
        app.update(Msg::Files {
            served: vec![f("a")],
            receiving: vec!["b".into()],
            unservable: vec![],
            now: t0,
        });
        assert!(app.files[1].receiving);
        app.update(Msg::Files {
            served: vec![f("a"), f("b")],
            receiving: vec![],
            unservable: vec![],
            now: t0,
        });
        assert!(app.files[1].new_until.is_some() && !app.files[1].receiving);
        app.update(Msg::Files {
            served: vec![f("a"), f("b")],
            receiving: vec![],
            unservable: vec![],
            now: t0 + Duration::from_secs(6),
        });
        assert_eq!(app.files[1].new_until, None);
    }

    #[test]
    fn the_log_scrolls_by_pages_home_shows_the_oldest_and_holds_its_place() {
        let mut app = app();
        app.update(Msg::Size {
            width: 80,
            height: 24,
        });
        let rows = app.log_rows();
        app.update(Msg::Lines(
            (0..100)
                .map(|n| line(LineKind::Note, &n.to_string(), false))
                .collect(),
        ));
        key(&mut app, KeyCode::PageUp);
        assert_eq!(app.scroll, rows - 1);
        app.update(Msg::Lines(vec![line(LineKind::Note, "more", false)]));
        assert_eq!(app.scroll, rows);
        key(&mut app, KeyCode::Home);
        assert_eq!(app.scroll, 101 - rows, "the oldest page, full");
        key(&mut app, KeyCode::PageUp);
        assert_eq!(app.scroll, 101 - rows, "no further than the oldest page");
        key(&mut app, KeyCode::End);
        assert_eq!(app.scroll, 0);
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
        assert!(app.hide_chunks);
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
        app.update(Msg::Size {
            width: 80,
            height: 24,
        });
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
        assert_eq!(app.bar_mode, BarMode::Search);
        type_text(&mut app, "failed");
        key(&mut app, KeyCode::Enter);
        let hit = |app: &App| {
            app.log
                .get(app.log.index_of(app.hit.unwrap()).unwrap())
                .unwrap()
                .text
                .clone()
        };
        assert_eq!(hit(&app), "TCP connection to server p207 failed");
        assert!(app.message.as_ref().unwrap().text.contains("match 3 of 3"));
        // On screen: the hit is within the rows shown.
        let view_len = app.view().len();
        let at = app
            .view()
            .iter()
            .position(|&i| app.log.get(i).unwrap().seq == app.hit.unwrap())
            .unwrap();
        let bottom = view_len - app.scroll;
        assert!(
            at < bottom && at >= bottom.saturating_sub(app.log_rows()),
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
        assert_eq!(app.view().len(), 3);
        key(&mut app, KeyCode::Char('/'));
        type_text(&mut app, "nowhere");
        key(&mut app, KeyCode::Enter);
        assert!(app.message.as_ref().unwrap().is_error, "no match is said");
    }
}
