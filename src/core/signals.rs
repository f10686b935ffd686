//! SIGINT, SIGTERM and SIGHUP. The handlers are installed once, at startup, before any mode opens
//! a port or a file: a signal that arrived before them would kill the process with no cleanup,
//! and one that arrived between installing and listening would be lost.

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

pub struct Signals {
    /// (number, name, stream) for each signal that ends a mode.
    streams: Vec<(i32, &'static str, Signal)>,
}

impl Signals {
    /// Installs the handlers now (inside the runtime).
    pub fn install() -> std::io::Result<Signals> {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
        ];
        let streams = kinds
            .into_iter()
            .map(|(kind, name)| Ok((kind.as_raw_value(), name, signal(kind)?)))
            .collect::<std::io::Result<_>>()?;
        Ok(Signals { streams })
    }

    /// The next signal to arrive: its number and name.
    pub async fn recv(&mut self) -> (i32, &'static str) {
        let waits = self.streams.iter_mut().map(|(number, name, stream)| {
            Box::pin(async move {
                stream.recv().await;
                (*number, *name)
            })
        });
        futures::future::select_all(waits).await.0
    }

    /// Cancels `shutdown` at the first signal (returns at once if `shutdown` is cancelled
    /// first). Every mode stops this way: transfers cancelled, partial files and temporary
    /// directories removed, the terminal restored, exit status 0.
    pub async fn cancel_on_signal(mut self, shutdown: CancellationToken) {
        tokio::select! {
            (_, name) = self.recv() => {
                tracing::info!("{name}: shutting down");
                shutdown.cancel();
            }
            _ = shutdown.cancelled() => {}
        }
    }
}
