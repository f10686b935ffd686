//! One client connection: hyper serves it over a socket watched for progress, until hyper is
//! done, the client stalls, the slot is wanted for a waiting client, or the server shuts down.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::site::Site;
use super::slots::{Slots, Tenant};
use super::zero_copy;

/// What a connection task holds.
pub(super) struct Connection {
    pub site: Arc<Site>,
    pub slots: Arc<Slots>,
    pub tenant: Arc<Tenant>,
    pub http: http1::Builder,
    pub shutdown: CancellationToken,
    pub client: SocketAddr,
    /// A connection on which nothing moves for this long is closed.
    pub stall_timeout: Duration,
}

/// Why a connection stops before hyper has finished it.
enum Interruption {
    Stalled,
    Evicted,
    ShuttingDown,
}

impl Connection {
    /// Serves `stream` until hyper is done with it or it is interrupted; logs why it closed.
    pub async fn run(&self, stream: tokio::net::TcpStream) {
        let (site, client) = (Arc::clone(&self.site), self.client);
        let served = Arc::clone(&self.tenant);
        let sends = Arc::new(zero_copy::Sends::default());
        let expected = Arc::clone(&sends);
        let service = hyper::service::service_fn(move |req| {
            let site = Arc::clone(&site);
            let tenant = Arc::clone(&served);
            let sends = Arc::clone(&expected);
            async move { Ok::<_, Infallible>(site.respond(req, client, tenant, &sends).await) }
        });
        let progress = Progress::default();
        let io = Watched {
            inner: stream,
            progress: progress.clone(),
            sends,
        };
        let conn = self.http.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let interruption = tokio::select! {
            r = conn.as_mut() => return self.log_error(r),
            _ = progress.stalled(self.stall_timeout) => Interruption::Stalled,
            _ = self.tenant.evicted.cancelled() => Interruption::Evicted,
            _ = self.shutdown.cancelled() => Interruption::ShuttingDown,
        };
        if let Some(grace) = self.grace(interruption, &progress) {
            conn.as_mut().graceful_shutdown();
            let r = tokio::time::timeout(grace, conn.as_mut())
                .await
                .unwrap_or(Ok(()));
            self.log_error(r);
        }
    }

    /// Logs an interruption and says how long a response in progress may take to finish (`None`:
    /// close now).
    fn grace(&self, interruption: Interruption, progress: &Progress) -> Option<Duration> {
        let client = self.client;
        match interruption {
            Interruption::Stalled => {
                let stall_timeout = self.stall_timeout;
                tracing::info!("{client} connection closed: no progress for {stall_timeout:?}");
                None
            }
            Interruption::Evicted => {
                tracing::info!(
                    "{client} connection closed: idle, to admit another client ({} open)",
                    self.slots.open()
                );
                // A request arrived meanwhile, or the last response is still on its way out:
                // let it finish, then close.
                (self.tenant.in_request() || progress.unflushed()).then_some(self.stall_timeout)
            }
            // Let a response in progress finish, briefly.
            Interruption::ShuttingDown => Some(Duration::from_secs(2)),
        }
    }

    fn log_error(&self, result: hyper::Result<()>) {
        if let Err(e) = result {
            // Bad requests (hyper has already answered 400 or 431), header timeouts and
            // clients that left mid-response.
            tracing::info!("{} connection closed: {e}", self.client);
        }
    }
}

/// When a connection last moved a byte either way.
#[derive(Clone)]
struct Progress {
    started: Instant,
    last_ms: Arc<std::sync::atomic::AtomicU64>,
    /// hyper has written since it last flushed: it may hold bytes not yet in the socket.
    unflushed: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Instant::now(),
            last_ms: Arc::default(),
            unflushed: Arc::default(),
        }
    }
}

impl Progress {
    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    fn set_unflushed(&self, unflushed: bool) {
        self.unflushed
            .store(unflushed, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a response may still be partly in hyper's buffer (it ends every write with a
    /// flush).
    fn unflushed(&self) -> bool {
        self.unflushed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Resolves once nothing has moved for `limit`: a client that stopped reading a response
    /// (hyper's header timeout covers one that stops sending).
    async fn stalled(&self, limit: Duration) {
        loop {
            let last =
                Duration::from_millis(self.last_ms.load(std::sync::atomic::Ordering::Relaxed));
            let idle = self.started.elapsed().saturating_sub(last);
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// The client's socket, noting progress in `progress`.
struct Watched {
    inner: tokio::net::TcpStream,
    progress: Progress,
    /// Whole cached files in the responses being written, sent from their sealed copies.
    sends: Arc<zero_copy::Sends>,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.progress.touch();
        }
        r
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        self.progress.set_unflushed(true);
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.progress.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        self.progress.set_unflushed(true);
        let this = &mut *self;
        let r = match this.sends.poll_write_vectored(&this.inner, cx, bufs) {
            Some(r) => r,
            None => std::pin::Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
        };
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.progress.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(r, std::task::Poll::Ready(Ok(()))) {
            self.progress.set_unflushed(false);
        }
        r
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
