//! The access log: one line per request on stderr, written by a thread of its own.
//!
//! A request appends its line to a buffer in memory and goes on; the writer thread takes the
//! whole buffer at once and writes it with one system call, at most every [`BATCH`]. Under load
//! that is one write for hundreds of lines instead of one each on the request's thread (with
//! stderr's lock), and requests wake nobody: only the first line after a quiet spell wakes the
//! writer. A line is on stderr within about [`BATCH`]. The buffer is bounded: if stderr cannot
//! keep up (a full pipe nobody reads), lines beyond [`LIMIT`] bytes are dropped and counted,
//! and the count is logged when the writer catches up; requests never wait for stderr.
//!
//! Lines look like the rest of the log (`2026-11-25T21:08:05.123456Z  INFO ...`) and follow its
//! level: `RUST_LOG=warn` turns them off.

use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};

use crate::core::locks::LockExt;
use std::time::{Duration, SystemTime};

/// The most bytes waiting for stderr.
pub const LIMIT: usize = 4 << 20;
/// How long the writer gathers lines before writing them.
pub const BATCH: Duration = Duration::from_millis(10);

struct Log {
    state: Mutex<Pending>,
    ready: Condvar,
    /// Signalled when the writer has emptied the buffer (for [`flush`]).
    drained: Condvar,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    dropped: u64,
    /// The writer holds a batch it has not finished writing.
    writing: bool,
    /// The writer is asleep until woken (nothing was waiting).
    asleep: bool,
}

fn log() -> &'static Log {
    static LOG: OnceLock<&'static Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static Log = Box::leak(Box::new(Log {
            state: Mutex::new(Pending::default()),
            ready: Condvar::new(),
            drained: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(log))
            .expect("spawn the access-log thread");
        log
    })
}

fn lock(log: &Log) -> std::sync::MutexGuard<'_, Pending> {
    log.state.lock_unpoisoned()
}

fn writer(log: &'static Log) {
    let mut batch = Vec::new();
    loop {
        let dropped = {
            let mut p = lock(log);
            p.writing = false;
            log.drained.notify_all();
            while p.buf.is_empty() && p.dropped == 0 {
                p.asleep = true;
                p = log.ready.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            p.asleep = false;
            drop(p);
            // Let the lines of the next few milliseconds join these.
            std::thread::sleep(BATCH);
            let mut p = lock(log);
            std::mem::swap(&mut p.buf, &mut batch);
            p.writing = true;
            std::mem::take(&mut p.dropped)
        };
        if dropped > 0 {
            let _ = writeln!(
                batch,
                "{}  WARN {dropped} access-log line(s) dropped: stderr was not keeping up",
                timestamp(SystemTime::now())
            );
        }
        let _ = std::io::stderr().lock().write_all(&batch);
        batch.clear();
        if batch.capacity() > LIMIT {
            batch.shrink_to(LIMIT);
        }
    }
}

/// Whether access-log lines are wanted (the log level is `info` or more verbose).
pub fn enabled() -> bool {
    tracing::enabled!(tracing::Level::INFO)
}

/// Queues `line` (without its timestamp and level) for stderr.
pub fn write(line: &str) {
    let log = log();
    let stamp = timestamp(SystemTime::now());
    let mut p = lock(log);
    if p.buf.len() + line.len() + 64 > LIMIT {
        p.dropped += 1;
        return;
    }
    let wake = std::mem::take(&mut p.asleep);
    p.buf.extend_from_slice(stamp.as_bytes());
    p.buf.extend_from_slice(b"  INFO ");
    p.buf.extend_from_slice(line.as_bytes());
    p.buf.push(b'\n');
    drop(p);
    if wake {
        log.ready.notify_one();
    }
}

/// Waits until every line queued so far is on stderr (at shutdown).
pub fn flush() {
    let log = log();
    let mut p = lock(log);
    while !p.buf.is_empty() || p.writing {
        p = log.drained.wait(p).unwrap_or_else(|e| e.into_inner());
    }
}

/// `2026-11-25T21:08:05.123456Z`, as the rest of the log writes its times.
pub fn timestamp(t: SystemTime) -> String {
    let (secs, micros) = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_micros()),
        Err(_) => (0, 0),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = super::pages::civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_like_the_rest_of_the_log() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_795_399_386_000_042);
        assert_eq!(timestamp(t), "2026-11-23T02:03:06.000042Z");
        assert_eq!(
            timestamp(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn lines_reach_the_writer_and_flush_waits_for_them() {
        for i in 0..1000 {
            write(&format!("line {i}"));
        }
        flush();
        let p = lock(log());
        assert!(p.buf.is_empty() && !p.writing);
    }
}
