//! One simulated peer: joins, keeps alive every 5 s, and notes what it sees.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::reply::Scanner;
use super::view::{Apply, Bits, CHANGED, FIRST_PORT, MTIME, View, ViewCache};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Classroom,
    Members,
    Restart,
}

/// How long a reply may take (a whole directory to 10,000 members joining at once is 70 GB).
const REPLY_DEADLINE: Duration = Duration::from_secs(120);
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// What every peer shares: the schedule, the change, the restart, and the views.
pub struct Plan {
    pub addr: String,
    pub mode: Mode,
    pub files: usize,
    pub seconds: u64,
    /// Peers whose join ended (joined or failed).
    pub joined: AtomicUsize,
    /// When every peer had joined (or failed to).
    pub all_joined: OnceLock<Instant>,
    /// Peers that hold the whole directory as it was once everyone joined.
    pub settled: AtomicUsize,
    /// The steady state: from when every peer holds the whole directory.
    pub measure_from: OnceLock<Instant>,
    /// Bytes received before the steady state (joins and the initial synchronisation).
    pub sync_bytes: AtomicU64,
    pub change_sent: OnceLock<Instant>,
    /// Restart mode: when the tracker was killed; the tracker's generation.
    pub killed_at: OnceLock<Instant>,
    pub epoch: AtomicU32,
    pub back: AtomicUsize,
    /// Rejoin attempts to the restarted tracker that failed other than by a refused connect.
    pub rejoin_resets: AtomicUsize,
    /// Peers that gave up (their join or a keep-alive failed).
    pub gone: AtomicUsize,
    pub views: ViewCache,
    /// Members whose index is a multiple of this check their view entry by entry (about 200
    /// of them); the others skip the entries.
    pub check_every: usize,
}

impl Plan {
    pub fn new(addr: String, mode: Mode, peers: usize, files: usize, seconds: u64) -> Plan {
        Plan {
            addr,
            mode,
            files,
            seconds,
            joined: AtomicUsize::new(0),
            all_joined: OnceLock::new(),
            settled: AtomicUsize::new(0),
            measure_from: OnceLock::new(),
            sync_bytes: AtomicU64::new(0),
            change_sent: OnceLock::new(),
            killed_at: OnceLock::new(),
            epoch: AtomicU32::new(0),
            back: AtomicUsize::new(0),
            rejoin_resets: AtomicUsize::new(0),
            gone: AtomicUsize::new(0),
            views: ViewCache::default(),
            check_every: peers.div_ceil(200).max(1),
        }
    }

    pub fn stop(&self) -> Option<Instant> {
        Some(*self.measure_from.get()? + Duration::from_secs(self.seconds))
    }

    /// Peer 0 changes its files 11 s before the end: every member then has more than a whole
    /// keep-alive period (and its reply) to see it.
    fn change_at(&self) -> Option<Instant> {
        Some(self.stop()? - Duration::from_secs(11).min(Duration::from_secs(self.seconds)))
    }
}

/// What one simulated peer saw.
#[derive(Default)]
pub struct PeerReport {
    /// Steady-state keep-alive → whole response times.
    pub latencies: Vec<Duration>,
    /// Size of its largest response.
    pub response_bytes: usize,
    /// Directory bytes received for keep-alives sent in the steady state.
    pub steady_bytes: u64,
    /// From the change being sent to this peer's first response after which it lists it.
    pub saw_change: Option<Duration>,
    /// Why its connection failed or ended, if it did (refused, reset, closed, no reply).
    pub lost: Option<String>,
    /// Restart mode: from the tracker's kill to this peer's first whole response from the new one.
    pub back_after: Option<Duration>,
    /// Checking members: the view held at the end.
    pub final_view: Option<Arc<Bits>>,
}

/// One peer's connection, and the view it holds.
struct Session {
    stream: TcpStream,
    index: usize,
    view: View,
    /// Classroom: whether the last reply listed the changed file.
    lists_change: bool,
}

thread_local! {
    /// The read buffer: borrowed only between two awaits, so one per worker thread serves
    /// every peer (a buffer per peer would be 10,000 of them).
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

/// The file list of peer `index`, plus `extra`, as JSON array items.
fn files_json(plan: &Plan, index: usize, extra: Option<&str>) -> String {
    let mut items: Vec<String> = extra
        .map(|name| format!("{{\"name\": \"{name}\", \"mtime\": {MTIME}}}"))
        .into_iter()
        .collect();
    items.extend(
        (0..plan.files)
            .map(|f| format!("{{\"name\": \"peer{index}_file{f}.txt\", \"mtime\": {MTIME}}}")),
    );
    items.join(", ")
}

impl Session {
    fn port(&self) -> u16 {
        FIRST_PORT.wrapping_add(self.index as u16)
    }

    fn initial(&self, plan: &Plan, extra: Option<&str>) -> String {
        let (port, files) = (self.port(), files_json(plan, self.index, extra));
        match plan.mode {
            Mode::Classroom => format!("{{\"port\": {port}, \"files\": [{files}]}}"),
            _ => format!(
                "{{\"port\": {port}, \"files\": [{files}], \"since\": {}}}",
                self.view.version
            ),
        }
    }

    fn keep_alive(&self, plan: &Plan) -> String {
        match plan.mode {
            Mode::Classroom => format!("{{\"port\": {}}}", self.port()),
            _ => format!(
                "{{\"port\": {}, \"since\": {}}}",
                self.port(),
                self.view.version
            ),
        }
    }

    /// Sends `message` and reads the whole reply (it ends with `\n`, which JSON text never
    /// holds unescaped), applying it to the view as it comes. Returns its size and, for a
    /// member, the versions it went from and to.
    async fn ask(&mut self, plan: &Plan, message: &str) -> io::Result<(usize, Option<(u64, u64)>)> {
        self.stream.write_all(message.as_bytes()).await?;
        let checks = self.index % plan.check_every == 0;
        let mut scanner = match checks {
            true => Scanner::default(),
            false => Scanner::skip_entries(),
        };
        let mut apply = Apply::new(&plan.views, &mut self.view, plan.files, checks);
        let (mut size, mut prefix) = (0usize, Vec::new());
        loop {
            self.stream.readable().await?;
            let done = SCRATCH.with_borrow_mut(|buf| -> io::Result<bool> {
                let n = match self.stream.try_read(buf) {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(e),
                };
                let chunk = &buf[..n];
                size += n;
                if plan.mode == Mode::Classroom {
                    let want = 64usize.saturating_sub(prefix.len()).min(n);
                    prefix.extend_from_slice(&chunk[..want]);
                } else {
                    scanner.feed(chunk, &mut apply);
                }
                Ok(chunk.last() == Some(&b'\n'))
            })?;
            if done {
                break;
            }
        }
        // The changed file sorts first: a directory listing it starts with it.
        self.lists_change = prefix.starts_with(format!("{{\"{CHANGED}\"").as_bytes());
        Ok((size, apply.finish()))
    }

    fn sees_change(&self, mode: Mode) -> bool {
        match mode {
            Mode::Classroom => self.lists_change,
            _ => self.view.bits.changed_file,
        }
    }
}

async fn join(plan: &Plan, index: usize) -> io::Result<Session> {
    let stream = TcpStream::connect(&plan.addr).await?;
    let view = View {
        epoch: plan.epoch.load(Ordering::SeqCst),
        ..View::default()
    };
    let mut session = Session {
        stream,
        index,
        view,
        lists_change: false,
    };
    let initial = session.initial(plan, None);
    let (n, _) = ask_in_time(&mut session, plan, &initial).await?;
    if plan.measure_from.get().is_none() {
        plan.sync_bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(session)
}

async fn ask_in_time(
    session: &mut Session,
    plan: &Plan,
    message: &str,
) -> io::Result<(usize, Option<(u64, u64)>)> {
    match tokio::time::timeout(REPLY_DEADLINE, session.ask(plan, message)).await {
        Ok(reply) => reply,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no whole reply within 120 s",
        )),
    }
}

/// Whether the tracker closed `stream` (nothing else arrives between keep-alives).
async fn closed(stream: &TcpStream) -> bool {
    if stream.readable().await.is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    }
}

/// Peer `index`: joins at once, keeps alive every 5 s from `offset` on, until the end of the
/// steady state.
pub async fn peer(plan: Arc<Plan>, index: usize, offset: Duration) -> PeerReport {
    let mut report = PeerReport::default();
    let joined = join(&plan, index).await;
    plan.joined.fetch_add(1, Ordering::SeqCst);
    let mut session = match joined {
        Ok(session) => session,
        Err(e) => {
            report.lost = Some(format!("join: {e}"));
            plan.gone.fetch_add(1, Ordering::SeqCst);
            return report;
        }
    };
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(KEEP_ALIVE);
    let mut settled = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // A member notices a closed connection at once (as `announce::session` does).
            true = closed(&session.stream), if plan.mode == Mode::Restart => {
                session = rejoin(&plan, index, &mut report).await;
                continue;
            }
        }
        let sent = Instant::now();
        if plan.stop().is_some_and(|stop| sent >= stop) {
            break;
        }
        let message = match plan.change_at() {
            Some(at) if index == 0 && sent >= at && plan.change_sent.set(sent).is_ok() => {
                session.initial(&plan, Some(CHANGED))
            }
            _ => session.keep_alive(&plan),
        };
        match ask_in_time(&mut session, &plan, &message).await {
            Ok((n, versions)) => {
                note(&mut report, &plan, &session, n, sent, index);
                if !settled && up_to_date(&plan, sent, versions) {
                    settled = true;
                    plan.settled.fetch_add(1, Ordering::SeqCst);
                }
            }
            Err(_) if plan.mode == Mode::Restart => {
                session = rejoin(&plan, index, &mut report).await;
            }
            Err(e) => {
                report.lost = Some(format!("keep-alive: {e}"));
                plan.gone.fetch_add(1, Ordering::SeqCst);
                return report;
            }
        }
    }
    if index % plan.check_every == 0 {
        report.final_view = Some(Arc::clone(&session.view.bits));
    }
    report
}

/// Whether a keep-alive sent at `sent` brought the whole directory as it was once every peer
/// joined: sent after that, and (a member) nothing left to bring.
fn up_to_date(plan: &Plan, sent: Instant, versions: Option<(u64, u64)>) -> bool {
    let after_joins = plan.all_joined.get().is_some_and(|&at| sent >= at);
    let current = match plan.mode {
        Mode::Classroom => true,
        _ => versions.is_some_and(|(from, to)| from == to && to != 0),
    };
    after_joins && current
}

fn note(
    report: &mut PeerReport,
    plan: &Plan,
    session: &Session,
    n: usize,
    sent: Instant,
    index: usize,
) {
    let received = Instant::now();
    report.response_bytes = report.response_bytes.max(n);
    if plan.measure_from.get().is_some_and(|&from| sent >= from) {
        report.latencies.push(received - sent);
        report.steady_bytes += n as u64;
    } else {
        plan.sync_bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    if index != 0 && report.saw_change.is_none() && session.sees_change(plan.mode) {
        if let Some(&at) = plan.change_sent.get() {
            report.saw_change = Some(received.saturating_duration_since(at));
        }
    }
}

/// After the tracker's restart: reconnects with the members' policy (full jitter, ceiling 1 s
/// doubling to 30 s), as `--join` and `--sync` do.
async fn rejoin(plan: &Plan, index: usize, report: &mut PeerReport) -> Session {
    if plan.killed_at.get().is_none() {
        report
            .lost
            .get_or_insert("closed by the tracker before its restart".into());
    }
    let mut ceiling = Duration::from_secs(1);
    let mut seed = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    loop {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let random = (seed >> 11) as f64 / (1u64 << 53) as f64;
        tokio::time::sleep(ceiling.mul_f64(random)).await;
        ceiling = (ceiling * 2).min(Duration::from_secs(30));
        match join(plan, index).await {
            Ok(session) => {
                if let Some(&at) = plan.killed_at.get() {
                    if report.back_after.is_none() {
                        report.back_after = Some(at.elapsed());
                        plan.back.fetch_add(1, Ordering::SeqCst);
                    }
                }
                return session;
            }
            // Refused while the tracker is down is expected; a reset by a running one is not.
            Err(e) if e.kind() != io::ErrorKind::ConnectionRefused => {
                plan.rejoin_resets.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }
}
