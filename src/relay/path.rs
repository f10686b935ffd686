//! The relay's accept loop and its connections: each one a pair of [`Forward`]s, reset on
//! request or when either side fails.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use super::link::{Clock, Forward};
use super::{RelayConfig, RelayControl};

/// Beyond this many open connections, new ones are reset at once (every buffer has a limit:
/// each connection holds at most the two links' capacities).
const MAX_CONNECTIONS: usize = 1024;

/// How long the relay tries to reach the target for a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Path {
    target: SocketAddr,
    config: RelayConfig,
    control: Arc<RelayControl>,
    upstream: Clock,
    downstream: Clock,
}

impl Path {
    pub fn new(target: SocketAddr, config: RelayConfig, control: Arc<RelayControl>) -> Path {
        Path {
            target,
            config,
            control,
            upstream: Clock::default(),
            downstream: Clock::default(),
        }
    }

    /// Accepts and forwards until `stopped` fires (or its sender is dropped).
    pub async fn run(self, listener: StdListener, stopped: oneshot::Receiver<()>) {
        let Ok(listener) = TcpListener::from_std(listener) else {
            return;
        };
        let path = Arc::new(self);
        tokio::select! {
            _ = stopped => {}
            () = path.accept_loop(&listener) => {}
        }
    }

    async fn accept_loop(self: &Arc<Self>, listener: &TcpListener) {
        let mut index = 0u64;
        loop {
            let client = match listener.accept().await {
                Ok((client, _)) => client,
                Err(_) => {
                    // Out of descriptors, most likely: try again shortly rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            index += 1;
            self.control.accepted.fetch_add(1, Ordering::Relaxed);
            if self.control.open() >= MAX_CONNECTIONS {
                let _ = client.set_zero_linger();
                continue;
            }
            // Counted and subscribed now, so that a reset from here on reaches it.
            let open = Open::new(&self.control);
            let resets = self.control.resets.subscribe();
            tokio::spawn(Arc::clone(self).serve(client, index, resets, open));
        }
    }

    /// One connection; counted open until both its sockets are closed.
    async fn serve(
        self: Arc<Self>,
        client: TcpStream,
        index: u64,
        resets: watch::Receiver<u64>,
        open: Open,
    ) {
        self.relay(client, index, resets).await;
        drop(open);
    }

    /// Until both sides have closed, either fails, or a reset.
    async fn relay(&self, mut client: TcpStream, index: u64, mut resets: watch::Receiver<u64>) {
        let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.target));
        let connected = tokio::select! {
            connected = connect => connected,
            _ = resets.changed() => {
                let _ = client.set_zero_linger();
                return;
            }
        };
        let Ok(Ok(mut server)) = connected else {
            let _ = client.set_zero_linger();
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let clean = {
            let (client_in, client_out) = client.split();
            let (server_in, server_out) = server.split();
            let up = self.forward(true, index);
            let down = self.forward(false, index);
            tokio::select! {
                both = async { tokio::try_join!(up.run(client_in, server_out), down.run(server_in, client_out)) } => both.is_ok(),
                _ = resets.changed() => false,
            }
        };
        if !clean {
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
    }

    fn forward(&self, upstream: bool, index: u64) -> Forward<'_> {
        let (link, clock, stats) = if upstream {
            (
                &self.config.upstream,
                &self.upstream,
                &self.control.upstream,
            )
        } else {
            (
                &self.config.downstream,
                &self.downstream,
                &self.control.downstream,
            )
        };
        Forward {
            link,
            clock,
            stats,
            silent: self.control.silent.subscribe(),
            random: self.config.seed
                ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ u64::from(upstream),
        }
    }
}

/// One open connection, counted until dropped.
struct Open(Arc<RelayControl>);

impl Open {
    fn new(control: &Arc<RelayControl>) -> Open {
        control.open.fetch_add(1, Ordering::Relaxed);
        Open(Arc::clone(control))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}
