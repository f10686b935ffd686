//! `--tracker` and `--web` headless, in one process.

use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::{LimitFlags, ServerFlags};
use crate::core::logging;
use crate::core::net;
use crate::core::shutdown;
use crate::core::signals::Signals;
use crate::tracker::Tracker;
use crate::{tracker, web};

/// `--tracker [ADDR]` and/or `--web [ADDR]`, in one process sharing the tracker's directory,
/// headless until Ctrl-C or SIGTERM.
pub async fn run(cli: &ServerFlags, limits: &LimitFlags, signals: Signals) -> Result<()> {
    logging::init_stderr("info");
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let mut tracker_state = None;
    if let Some(addr) = &cli.tracker {
        tracker_state = Some(start_tracker(addr, cli, limits, &shutdown, &tasks).await?);
    }
    if let Some(addr) = &cli.web {
        start_web(addr, cli, limits, tracker_state, &shutdown, &tasks).await?;
    }
    signals.cancel_on_signal(shutdown.clone()).await;
    shutdown::finish(&shutdown, &tasks).await;
    Ok(())
}

/// Listens on `addr` and serves the tracker; returns its state for the web server's pages.
async fn start_tracker(
    addr: &str,
    cli: &ServerFlags,
    limits: &LimitFlags,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<Arc<Tracker>> {
    let listener = net::capacity::listen(addr)
        .await
        .wrap_err_with(|| format!("tracker cannot listen on {addr}"))?;
    tracing::info!("tracker listening on {}", listener.local_addr()?);
    let config = Arc::new(tracker::TrackerConfig {
        peer_timeout: Duration::from_secs(cli.peer_timeout.max(1)),
        max_message: cli.max_message.max(64),
        max_connections: limits.max_connections(tracker::TrackerConfig::default().max_connections),
        max_per_address: limits.max_per_address(),
        ..tracker::TrackerConfig::default()
    });
    let state = Arc::new(Tracker::default());
    tasks.spawn(tracker::serve(
        listener,
        Arc::clone(&state),
        config,
        shutdown.clone(),
        tasks.clone(),
    ));
    Ok(state)
}

/// Listens on `addr` and serves `--www` (with the tracker's pages if it runs here too).
async fn start_web(
    addr: &str,
    cli: &ServerFlags,
    limits: &LimitFlags,
    tracker_state: Option<Arc<Tracker>>,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<()> {
    let root = web::locate_root(cli.www.clone())?;
    let listener = net::capacity::listen(addr)
        .await
        .wrap_err_with(|| format!("web server cannot listen on {addr}"))?;
    tracing::info!(
        "web server on http://{} serving {}{}",
        listener.local_addr()?,
        root.display(),
        if tracker_state.is_some() {
            " (tracker view at /tracker)"
        } else {
            ""
        }
    );
    let mut config = web::WebConfig::new(root);
    config.header_timeout = Duration::from_secs(cli.header_timeout.max(1));
    config.max_connections = limits.max_connections(config.max_connections);
    config.max_per_address = limits.max_per_address();
    tasks.spawn(web::serve(
        listener,
        config,
        tracker_state,
        shutdown.clone(),
        tasks.clone(),
    ));
    Ok(())
}
