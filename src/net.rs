//! The accept loop every server here shares: a cap on open connections, backoff when accepting
//! fails (out of file descriptors and the like), and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

pub struct Acceptor {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    backoff: Duration,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(10);

impl Acceptor {
    pub fn new(listener: TcpListener, max_connections: usize) -> Acceptor {
        Acceptor {
            listener,
            permits: Arc::new(Semaphore::new(max_connections)),
            backoff: FIRST_BACKOFF,
        }
    }

    /// The next connection, with the permit that holds its place until dropped; `None` once
    /// `shutdown` is cancelled.
    pub async fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => return None,
                permit = Arc::clone(&self.permits).acquire_owned() => permit.ok()?,
            };
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return None,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, addr)) => {
                    self.backoff = FIRST_BACKOFF;
                    return Some((stream, addr, permit));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying in {:?}", self.backoff);
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}
