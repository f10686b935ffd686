//! The event loop: it owns the `App`, feeds it terminal events and the latest state (new log
//! lines, served files, reachability) at frame rate, draws it, and runs commands in background
//! tasks so the UI never waits on the network.

use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::Result;
use futures::StreamExt;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use ratatui::crossterm::execute;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::app::{Action, App, Msg};
use super::areas::FrameAreas;
use super::log;
use super::ring::LineRing;
use super::state::effect::TransferHandle;
use super::ui;
use crate::peer::command::Command;
use crate::peer::runtime::PeerHandle;
use crate::peer::transfer::progress::TransferRegistry;
use crate::peer::{Client, Reporter};

/// Frames per second at most; state is pulled once per frame, never once per chunk.
const FRAME: Duration = Duration::from_millis(33);
/// How often served_files/ is listed and other peers are probed.
const FILES_EVERY: Duration = Duration::from_millis(500);
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The peer the TUI fronts, and in `--demo` the in-process peers F2.. take offline and back.
pub struct PeerHandles {
    pub peer: PeerHandle,
    pub switch: Option<Arc<dyn PeerSwitch>>,
}

/// Peers the UI may take offline and bring back (the demo's in-process peers).
pub trait PeerSwitch: Send + Sync {
    /// IDs in the order of the keys F2, F3, ...
    fn switchable(&self) -> Vec<String>;
    /// Takes `id` offline if it is online, else brings it back; says what it did.
    fn toggle(self: Arc<Self>, id: &str) -> String;
}

/// Whether the full-screen UI can run: standard output is a terminal and this process has a
/// controlling terminal to read keys from (not so under `setsid`, or a daemon).
pub fn terminal_available() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::fs::File::open("/dev/tty").is_ok()
}

/// Runs the full-screen peer until the user quits or `shutdown` is cancelled (a signal).
pub async fn run(handles: PeerHandles, shutdown: CancellationToken) -> Result<()> {
    let ring = Arc::new(LineRing::new(log::CHUNK_LINES, log::OTHER_LINES));
    let client = handles.peer.client(Reporter::new(ring.clone()));
    let peer = &handles;
    let history_file = crate::front::history::path_beside(peer.peer.store.served_dir());
    let switchable = peer
        .switch
        .as_ref()
        .map(|s| s.switchable())
        .unwrap_or_default();
    // Built whole here; from now on `App::update` is its only writer.
    let mut app = App::new(&peer.peer.me, &peer.peer.settings.peers)
        .with_history(crate::front::history::read(&history_file))
        .with_switchable(switchable);
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            ratatui::restore();
            return Err(color_eyre::eyre::eyre!(
                "cannot use the terminal for the full-screen UI ({e}); try --line"
            ));
        }
    };
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    if let Ok(size) = terminal.size() {
        app.update(Msg::Size {
            width: size.width,
            height: size.height,
        });
    }
    let result = event_loop(&mut terminal, &mut app, peer, client, &ring, &shutdown).await;
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    crate::front::history::write(&history_file, app.bar.line.history());
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    peer: &PeerHandles,
    client: Client,
    ring: &LineRing,
    shutdown: &CancellationToken,
) -> Result<()> {
    let (done_tx, mut done_rx) = mpsc::channel::<Msg>(64);
    let (listed_tx, mut listed_rx) = mpsc::channel(64);
    let commands = Commands::new(client.with_listings(listed_tx), done_tx, shutdown);
    spawn_probes(
        peer,
        commands.done.clone(),
        shutdown.clone(),
        &commands.tasks,
    );
    let mut events = EventStream::new();
    // served_files as the peer's runtime lists it (the UI never reads the disk itself).
    let mut served = peer.peer.served.clone();
    served.mark_changed();
    let mut frame = tokio::time::interval(FRAME);
    let mut pulls = Pulls::new(peer, ring, commands.client.transfers());
    loop {
        let action = tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => app.update(Msg::Terminal(event)),
                Some(Err(e)) => return Err(e.into()),
                None => Some(Action::Quit),
            },
            Some(msg) = done_rx.recv() => app.update(msg),
            Some(list) = listed_rx.recv() => app.update(Msg::FilesListed(list)),
            Ok(()) = served.changed() => {
                let view = served.borrow_and_update().clone();
                app.update(Msg::Files { served: view.served, receiving: view.receiving, unservable: view.unservable, now: Instant::now() })
            }
            _ = frame.tick() => {
                pulls.feed(app);
                let mut areas = FrameAreas::default();
                terminal.draw(|f| areas = ui::draw(f, app))?;
                app.update(Msg::Drawn(areas))
            }
            _ = shutdown.cancelled() => Some(Action::Quit),
        };
        match action {
            Some(Action::Quit) => break,
            Some(action) => commands.act(action, app, peer),
            None => {}
        }
    }
    // Quit: running transfers are cancelled and remove their partial files.
    commands.stop().await;
    Ok(())
}

/// What the frame pulls from the peer: the transfers and new log lines every frame, the
/// upload status and the tracker's view every `FILES_EVERY`.
struct Pulls<'a> {
    peer: &'a PeerHandles,
    ring: &'a LineRing,
    transfers: Arc<TransferRegistry>,
    last_files: Instant,
}

impl<'a> Pulls<'a> {
    fn new(
        peer: &'a PeerHandles,
        ring: &'a LineRing,
        transfers: Arc<TransferRegistry>,
    ) -> Pulls<'a> {
        Pulls {
            peer,
            ring,
            transfers,
            last_files: Instant::now() - FILES_EVERY,
        }
    }

    fn feed(&mut self, app: &mut App) {
        let (transfers, now) = (self.transfers.snapshot(), Instant::now());
        app.update(Msg::Transfers { transfers, now });
        let lines = self.ring.take();
        if !lines.is_empty() {
            app.update(Msg::Lines(lines));
        }
        if self.last_files.elapsed() >= FILES_EVERY {
            self.last_files = Instant::now();
            app.update(Msg::Uploads(self.peer.peer.store.upload_status()));
            if let Some(tracker) = &self.peer.peer.tracker {
                app.update(Msg::Network(tracker.view()));
            }
        }
    }
}

/// The commands running in the background: each ends by itself, or when its transfer is
/// cancelled (a child of the shutdown), or at the shutdown.
struct Commands {
    client: Client,
    done: mpsc::Sender<Msg>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Commands {
    fn new(client: Client, done: mpsc::Sender<Msg>, shutdown: &CancellationToken) -> Commands {
        Commands {
            client,
            done,
            shutdown: shutdown.clone(),
            tasks: TaskTracker::new(),
        }
    }

    /// Does what the App asked (all but quitting).
    fn act(&self, action: Action, app: &mut App, peer: &PeerHandles) {
        match action {
            Action::Run(command) => self.spawn(command),
            Action::Cancel(TransferHandle(transfer)) => {
                if transfer.cancel() {
                    tracing::info!(file = %transfer.file, "transfer cancelled by the user");
                } else {
                    let said = format!("{}: nothing can stop it", transfer.file);
                    app.update(Msg::Said(said));
                }
            }
            Action::TogglePeer(n) => {
                if let (Some(switch), Some(id)) = (&peer.switch, app.switchable.get(n)) {
                    let said = Arc::clone(switch).toggle(id);
                    app.update(Msg::Said(said));
                }
            }
            Action::Quit => {}
        }
    }

    fn spawn(&self, command: Command) {
        let cancel = self.shutdown.child_token();
        let (client, done) = (self.client.clone(), self.done.clone());
        self.tasks.spawn(async move {
            client.run(command, &cancel).await;
            let _ = done.send(Msg::CommandFinished).await;
        });
    }

    async fn stop(self) {
        crate::core::shutdown::finish(&self.shutdown, &self.tasks).await;
    }
}

/// Probes every other peer's port now and then: online if it accepts a connection.
fn spawn_probes(
    peer: &PeerHandles,
    tx: mpsc::Sender<Msg>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    let others: Vec<_> = peer
        .peer
        .settings
        .peers
        .iter()
        .filter(|p| p.id != peer.peer.me)
        .cloned()
        .collect();
    tasks.spawn(async move {
        let mut every = tokio::time::interval(PROBE_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            for p in &others {
                if shutdown.is_cancelled() {
                    return;
                }
                let connect = tokio::net::TcpStream::connect(p.connect_addr());
                let online = matches!(
                    tokio::time::timeout(Duration::from_millis(500), connect).await,
                    Ok(Ok(_))
                );
                if tx
                    .send(Msg::Reachable {
                        peer: p.id.clone(),
                        online,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
}
