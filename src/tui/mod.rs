//! The full-screen peer: the event loop. It owns the `App`, feeds it terminal events and the
//! latest state (new log lines, served files, reachability) at frame rate, and runs commands in
//! background tasks so the UI never waits on the network.

pub mod app;
pub mod input;
pub mod panels;
pub mod ring;
pub mod theme;
pub mod ui;

use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::Result;
use futures::StreamExt;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use ratatui::crossterm::execute;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::peer::{Client, Reporter};
use crate::settings::Settings;
use crate::store::Store;
use app::{Action, App, Msg};
use ring::LineRing;

/// Frames per second at most; state is pulled once per frame, never once per chunk.
const FRAME: Duration = Duration::from_millis(33);
/// How often served_files/ is listed and other peers are probed.
const FILES_EVERY: Duration = Duration::from_millis(500);
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Everything the TUI needs from the peer it fronts.
pub struct PeerHandles {
    pub me: String,
    pub settings: Arc<Settings>,
    pub store: Arc<Store>,
    pub options: crate::peer::ClientOptions,
    /// In `--demo`: the in-process peers that F2.. take offline and back.
    pub switch: Option<Arc<dyn PeerSwitch>>,
    /// With `--join`: the tracker link (its directory is shown in the Network panel).
    pub tracker: Option<crate::tracker::join::TrackerLink>,
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
pub async fn run(peer: PeerHandles, shutdown: CancellationToken) -> Result<()> {
    let ring = Arc::new(LineRing::new(app::LOG_CAPACITY));
    let mut client = Client::new(
        &peer.me,
        Arc::clone(&peer.settings),
        Arc::clone(&peer.store),
        peer.options.clone(),
        Reporter::new(ring.clone()),
    );
    if let Some(tracker) = &peer.tracker {
        client = client.with_tracker(tracker.clone());
    }
    let mut app = App::new(&peer.me, &peer.settings.peers);
    app.switchable = peer
        .switch
        .as_ref()
        .map(|s| s.switchable())
        .unwrap_or_default();
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
    let result = event_loop(&mut terminal, &mut app, &peer, client, &ring, &shutdown).await;
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
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
    let commands = TaskTracker::new();
    let transfers = client.transfers();
    spawn_probes(peer, done_tx.clone(), shutdown.clone());
    let mut events = EventStream::new();
    let mut frame = tokio::time::interval(FRAME);
    let mut seen_lines = 0;
    let mut last_files = Instant::now() - FILES_EVERY;
    loop {
        let action = tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => app.update(Msg::Terminal(event)),
                Some(Err(e)) => return Err(e.into()),
                None => Some(Action::Quit),
            },
            Some(msg) = done_rx.recv() => app.update(msg),
            _ = frame.tick() => {
                app.update(Msg::Transfers { transfers: transfers.snapshot(), now: Instant::now() });
                let (lines, seen) = ring.since(seen_lines);
                seen_lines = seen;
                if !lines.is_empty() {
                    app.update(Msg::Lines(lines));
                }
                if last_files.elapsed() >= FILES_EVERY {
                    last_files = Instant::now();
                    let served = peer.store.list().unwrap_or_default();
                    let receiving = peer.store.receiving_names();
                    app.update(Msg::Files { served, receiving, now: last_files });
                    if let Some(tracker) = &peer.tracker {
                        app.update(Msg::Network(tracker.view()));
                    }
                }
                terminal.draw(|f| ui::draw(f, app))?;
                None
            }
            _ = shutdown.cancelled() => Some(Action::Quit),
        };
        match action {
            Some(Action::Run(command)) => {
                let (client, done, cancel) = (client.clone(), done_tx.clone(), shutdown.clone());
                commands.spawn(async move {
                    client.run(command, &cancel).await;
                    let _ = done.send(Msg::CommandFinished).await;
                });
            }
            Some(Action::TogglePeer(n)) => {
                if let (Some(switch), Some(id)) = (&peer.switch, app.switchable.get(n)) {
                    let said = Arc::clone(switch).toggle(id);
                    app.message = Some((said, false));
                }
            }
            Some(Action::Quit) => break,
            None => {}
        }
    }
    // Quit: running transfers are cancelled and remove their partial files.
    shutdown.cancel();
    commands.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), commands.wait()).await;
    Ok(())
}

/// Probes every other peer's port now and then: online if it accepts a connection.
fn spawn_probes(peer: &PeerHandles, tx: mpsc::Sender<Msg>, shutdown: CancellationToken) {
    let others: Vec<_> = peer
        .settings
        .peers
        .iter()
        .filter(|p| p.id != peer.me)
        .cloned()
        .collect();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PROBE_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            for p in &others {
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

#[cfg(test)]
mod render_tests;
