//! How many connections this process can hold at once, and what happens past that.
//!
//! Every connection costs a file descriptor, and so do the files a peer serves, the listeners,
//! the log. Once the process is out of descriptors `accept()` fails with EMFILE and a client
//! waits in the kernel's queue with no answer. So the process raises its soft descriptor limit
//! to the hard one (as Go does), keeps a reserve of it for everything that is not a client
//! connection, and shares the rest among its servers (peer, tracker, web, synchronizer): a
//! client past that budget is accepted and refused at once, with the protocol's refusal line
//! where it has one. Should `accept()` fail anyway (descriptors taken by files), one spare
//! descriptor held for the purpose is given up to accept the waiting client and refuse it,
//! rather than leave it hanging.

use std::fs::File;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Semaphore;

use crate::core::locks::LockExt;

/// The process's descriptor limit and the connections it leaves room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// The soft RLIMIT_NOFILE, after raising it as far as allowed.
    pub descriptors: u64,
    /// Connections all servers of the process may hold together.
    pub connections: usize,
}

impl Capacity {
    /// The room left for connections under a limit of `descriptors`: a quarter of the limit and
    /// 16 more are kept for files being served or received, listeners, the runtime and the log.
    pub fn for_limit(descriptors: u64) -> Capacity {
        let limit = usize::try_from(descriptors)
            .unwrap_or(usize::MAX)
            .min(1 << 24);
        let reserve = 16 + limit / 4;
        Capacity {
            descriptors,
            connections: limit.saturating_sub(reserve).max(1),
        }
    }
}

/// The process's capacity, measured once (raising the soft limit to the hard one first), and
/// said once in the log.
pub fn capacity() -> Capacity {
    static CAPACITY: OnceLock<Capacity> = OnceLock::new();
    *CAPACITY.get_or_init(|| {
        let capacity = Capacity::for_limit(raise_descriptor_limit());
        tracing::info!(
            "room for {} connections at once (descriptor limit {}, the rest kept for files and \
             listeners); clients beyond that are refused",
            capacity.connections,
            capacity.descriptors
        );
        capacity
    })
}

/// The budget every server's connections draw from (one permit per open connection).
pub fn budget() -> Arc<Semaphore> {
    static BUDGET: OnceLock<Arc<Semaphore>> = OnceLock::new();
    Arc::clone(BUDGET.get_or_init(|| {
        // The spare descriptor first, while there surely is one.
        let _ = spare();
        Arc::new(Semaphore::new(capacity().connections))
    }))
}

/// Raises the soft descriptor limit to the hard one; returns the soft limit in force.
fn raise_descriptor_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// The descriptor kept in reserve for refusing a client when `accept()` finds none left.
fn spare() -> &'static Mutex<Option<File>> {
    static SPARE: OnceLock<Mutex<Option<File>>> = OnceLock::new();
    SPARE.get_or_init(|| Mutex::new(File::open("/dev/null").ok()))
}

/// Runs `accept_one` with the spare descriptor given up for it, then takes the spare back.
/// Returns what `accept_one` returned, or `None` if there was no spare to give up.
pub fn with_spare_descriptor<T>(accept_one: impl FnOnce() -> T) -> Option<T> {
    let mut spare = spare().lock_unpoisoned();
    spare.take()?;
    let result = accept_one();
    *spare = File::open("/dev/null").ok();
    Some(result)
}

/// Whether an accept error means the process (EMFILE) or the system (ENFILE) is out of
/// descriptors, or the kernel out of memory for sockets.
pub fn out_of_descriptors(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc_errno::EMFILE | libc_errno::ENFILE | libc_errno::ENOBUFS | libc_errno::ENOMEM)
    )
}

mod libc_errno {
    use nix::errno::Errno;
    pub const EMFILE: i32 = Errno::EMFILE as i32;
    pub const ENFILE: i32 = Errno::ENFILE as i32;
    pub const ENOBUFS: i32 = Errno::ENOBUFS as i32;
    pub const ENOMEM: i32 = Errno::ENOMEM as i32;
}

/// The listen backlog: the kernel's `somaxconn` (a larger backlog is cut to it anyway), 4096
/// if it cannot be read. A burst of connects beyond the backlog is reset or left waiting.
pub fn backlog() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(4096)
}

/// A listener on `addr` (the first of its addresses that binds) with `backlog()` and
/// SO_REUSEADDR, as `TcpListener::bind` does but for the backlog (it uses 1024).
pub async fn listen(
    addr: impl tokio::net::ToSocketAddrs,
) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        match listen_on(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    }))
}

fn listen_on(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_leaves_most_of_a_large_limit_and_something_of_a_small_one() {
        assert_eq!(Capacity::for_limit(64).connections, 32);
        assert_eq!(Capacity::for_limit(1024).connections, 752);
        assert!(Capacity::for_limit(20_000).connections >= 10_000);
        assert_eq!(Capacity::for_limit(8).connections, 1);
        assert!(Capacity::for_limit(u64::MAX).connections > 1_000_000);
    }

    /// A burst of connects larger than tokio's default backlog (1,024) all complete while the
    /// server has not accepted one yet.
    #[tokio::test]
    async fn a_listener_holds_a_burst_beyond_the_default_backlog() {
        const BURST: usize = 1_500;
        if backlog() < BURST as u32 || capacity().connections < 2 * BURST {
            eprintln!("skipped: somaxconn {} or descriptors too small", backlog());
            return;
        }
        let listener = listen("127.0.0.1:0").await.unwrap();
        let to = listener.local_addr().unwrap();
        let connects = (0..BURST).map(|_| {
            tokio::time::timeout(
                std::time::Duration::from_secs(3),
                tokio::net::TcpStream::connect(to),
            )
        });
        let done = futures::future::join_all(connects).await;
        let connected = done.iter().filter(|c| matches!(c, Ok(Ok(_)))).count();
        assert_eq!(connected, BURST);
    }
}
