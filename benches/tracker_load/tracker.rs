//! The tracker under test, as a child process that never outlives this benchmark: killed when
//! its guard is dropped (a panic, an early return), on SIGINT/SIGTERM, and by the kernel when
//! this process dies of anything else (SIGKILL, the OOM killer): PR_SET_PDEATHSIG.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The tracker process: killed when dropped.
pub struct TrackerGuard(Child);

static TRACKER_PID: AtomicI32 = AtomicI32::new(0);

// The C library std already links; the `libc` crate is not a dependency of this project.
unsafe extern "C" {
    fn prctl(option: i32, ...) -> i32;
    fn getppid() -> i32;
}

const PR_SET_PDEATHSIG: i32 = 1;
const SIGKILL: u64 = 9;

impl TrackerGuard {
    /// Starts `p2p-tui --tracker addr` and waits until it accepts connections. Call it from
    /// the main thread: the death signal follows the thread that forked, not the process,
    /// and tokio's blocking threads come and go.
    pub fn start(addr: &str) -> TrackerGuard {
        let parent = std::process::id() as i32;
        let mut command = Command::new(env!("CARGO_BIN_EXE_p2p-tui"));
        command
            .args(["--tracker", addr, "--peer-timeout", "30"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec the closure makes two system calls and allocates
        // nothing (the error is built from errno without allocating).
        unsafe {
            command.pre_exec(move || {
                if prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // This process may have died before the call: then nobody would signal.
                if getppid() != parent {
                    return Err(io::Error::from_raw_os_error(3)); // ESRCH
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn tracker");
        TRACKER_PID.store(child.id() as i32, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "tracker did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        TrackerGuard(child)
    }

    /// Kills the tracker and waits for its end (its port is then free again).
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// On SIGINT or SIGTERM: kill the tracker, then exit.
pub fn kill_tracker_on_signal() {
    tokio::spawn(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        let pid = TRACKER_PID.load(Ordering::SeqCst);
        if pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::process::exit(130);
    });
}

/// Raises this process's soft descriptor limit to the hard one (the tracker inherits it).
pub fn raise_descriptor_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}
