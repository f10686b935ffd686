//! `--tracker` and `--web` headless, in one process.

use std::time::Duration;

use color_eyre::eyre::Result;

use crate::cli::{LimitFlags, ServerFlags};
use crate::core::logging;
use crate::core::net;
use crate::core::shutdown;
use crate::core::signals::Signals;
use crate::{tracker, web};

/// `--tracker [ADDR]` and/or `--web [ADDR]`, in one process sharing the tracker's directory,
/// headless until Ctrl-C or SIGTERM.
pub async fn run(cli: &ServerFlags, limits: &LimitFlags, signals: Signals) -> Result<()> {
    logging::init_stderr("info");
    use color_eyre::eyre::WrapErr;
    use std::sync::Arc;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    let mut tracker_state = None;
    if let Some(addr) = &cli.tracker {
        let listener = net::capacity::listen(addr.as_str())
            .await
            .wrap_err_with(|| format!("tracker cannot listen on {addr}"))?;
        tracing::info!("tracker listening on {}", listener.local_addr()?);
        let config = Arc::new(tracker::TrackerConfig {
            peer_timeout: Duration::from_secs(cli.peer_timeout.max(1)),
            max_message: cli.max_message.max(64),
            max_connections: limits
                .max_connections(tracker::TrackerConfig::default().max_connections),
            max_per_address: limits.max_per_address(),
            ..tracker::TrackerConfig::default()
        });
        let state = Arc::new(tracker::server::Tracker::default());
        tracker_state = Some(Arc::clone(&state));
        tasks.spawn(tracker::serve(
            listener,
            state,
            config,
            shutdown.clone(),
            tasks.clone(),
        ));
    }
    if let Some(addr) = &cli.web {
        let root = web::locate_root(cli.www.clone())?;
        let listener = net::capacity::listen(addr.as_str())
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
    }
    signals.cancel_on_signal(shutdown.clone()).await;
    shutdown::finish(&shutdown, &tasks).await;
    Ok(())
}
