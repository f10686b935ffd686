//! `--check-tracker HOST:PORT`: a conformance checker for a seed-002 tracker (seed 000 part II's
//! design): the directory response to the initial message and to keep-alives, keep-alives that
//! keep a peer, a silent peer dropped after the tracker's timeout, the newest mtime winning, the
//! address taken from the connection, messages split across reads or two in one read, and bad
//! JSON that disturbs nobody else. Same case structure, deadlines and reports as
//! `--check-server`.

pub mod causes;
pub mod dir;
pub mod wire;

mod cases;
mod env;

use std::future::Future;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};

use super::cases::Case;
use super::report::Report;
use super::wire::{Checked, Ctx};
use super::{ReportFile, attribute_deviations, finish, parse_reports, run_at_once, run_prefix};
pub use env::Env;

/// `--check-tracker HOST:PORT`: the tracker under test and the checker's limits.
#[derive(Debug, Clone)]
pub struct TrackerCheck {
    pub addr: String,
    /// The timeout the tracker under test was started with (how long a silent peer stays).
    pub peer_timeout: Duration,
    pub case_timeout: Duration,
    pub reports: Vec<ReportFile>,
}

impl TrackerCheck {
    pub fn new(
        addr: String,
        peer_timeout_secs: u64,
        case_timeout: f64,
        reports: &[String],
    ) -> Result<TrackerCheck> {
        if !(1..=3600).contains(&peer_timeout_secs) {
            return Err(eyre!("--peer-timeout must be between 1 and 3600 seconds"));
        }
        Ok(TrackerCheck {
            addr,
            peer_timeout: Duration::from_secs(peer_timeout_secs),
            case_timeout: super::case_timeout(case_timeout)?,
            reports: parse_reports(reports)?,
        })
    }
}

fn case<F>(
    env: &Env,
    id: &'static str,
    section: &'static str,
    title: &'static str,
    seed: &'static str,
    f: fn(Ctx, Env) -> F,
) -> Case
where
    F: Future<Output = Checked> + Send + 'static,
{
    let env = env.clone();
    Case {
        id,
        section,
        title,
        seed,
        budget: 1,
        run: Box::new(move |ctx| Box::pin(f(ctx, env.clone()))),
    }
}

/// The cases that wait out the tracker's timeout: their deadline is the case timeout plus two
/// tracker timeouts.
const TIMED: &[&str] = &["alive", "silent-dropped"];

/// The case run alone, after the others: it sends what may bring a faulty tracker down.
const LAST: &str = "bad-json";

pub fn tracker_cases(env: &Env) -> Vec<Case> {
    vec![
        case(
            env,
            "initial",
            "T1",
            "initial message: a directory response listing its files",
            r#"seed 002 Table 1, Initial Message: "From peers to the tracker: (1) Upload file information and file serving port. (2) Request directory information stored in the tracker." ... "Tracker responds with a directory response message""#,
            cases::initial_case,
        ),
        case(
            env,
            "keep-alive",
            "T1",
            "keep-alive message: a directory response",
            r#"seed 002 Table 1, Keep-alive Message: {'port':int} ... "(1) The tracker refreshes its timer for the respective peer (2) The tracker responds with a directory response message""#,
            cases::keep_alive_case,
        ),
        case(
            env,
            "alive",
            "T1",
            "keep-alives keep the peer listed past the timeout",
            r#"seed 002 Table 1, Keep-alive Message: "inform the tracker that the peer is still alive" ... "The tracker refreshes its timer for the respective peer"; seed 000 II.2: "How can Tracker know if a peer is alive or not?""#,
            cases::alive_case,
        ),
        case(
            env,
            "silent-dropped",
            "000.Q2",
            "a silent peer is dropped after the timeout, its files gone",
            r#"seed 000 Part II: "Tracker traces the live peer nodes and store only the meta info of files"; seed 002: keep-alive messages "inform the tracker that the peer is still alive" (docs/tracker.md: a peer "that is silent for --peer-timeout seconds ... is dropped at once")"#,
            cases::silent_case,
        ),
        case(
            env,
            "newest-wins",
            "N3",
            "one name from three peers: the newest mtime wins",
            r#"seed 002, For simplicity 3): "If multiple files from different peers have the same file name, the one with the last modified timestamp will be kept by the tracker.""#,
            cases::newest_case,
        ),
        case(
            env,
            "address",
            "T1",
            "the entry's ip is the connection's, its port the announced one",
            r#"seed 002 Table 1, Directory Response Message: {filename:{'ip':,'port':,'mtime':}}, e.g. {"fileB.txt": {"ip": "127.0.0.1", "mtime": 1548878750, "port": 8002}} (the ip is the address the tracker sees the peer at: the directory tells other peers where to connect; the port is the one the peer announced)"#,
            cases::address_case,
        ),
        case(
            env,
            "split",
            "JSON",
            "a message split across three reads",
            r#"seed 002: the synchronizer "communicates with the tracker through a single TCP socket" (docs/tracker.md: messages are "read as a stream of values (several in one read, one over several reads, whitespace between them)")"#,
            cases::split_case,
        ),
        case(
            env,
            "two-in-one",
            "JSON",
            "two messages in one read: two directory responses",
            r#"seed 002, For simplicity 4): "Only one TCP connection is needed between a peer and a tracker." (docs/tracker.md: messages are "read as a stream of values (several in one read, ...)")"#,
            cases::two_in_one_case,
        ),
        case(
            env,
            LAST,
            "JSON",
            "bad JSON and wrong types disturb no other peer",
            r#"seed 002: "Messages exchanged between tracker and peers (synchronizers) are encoded in JSON" (docs/tracker.md: "Bad JSON, wrong types, invalid file names or a value over 4 MiB close that one connection with a log line.")"#,
            cases::bad_json_case,
        ),
    ]
}

/// Runs every case (all at once but `bad-json`, which runs last, alone), prints the table,
/// writes the reports; the exit status is 0 only when every case passed.
pub async fn run(check: TrackerCheck) -> Result<i32> {
    // A tracker that is not there at all is one clear sentence, not nine failures.
    super::connectable(&check.addr, check.case_timeout).await?;
    let env = Env {
        peer_timeout: check.peer_timeout,
        reply_wait: (check.case_timeout / 2).max(Duration::from_millis(500)),
        port_base: 20_000 + u16::try_from(std::process::id() % 400).unwrap_or(0) * 100,
    };
    let prefix = run_prefix();
    let grace = (check.case_timeout / 5).min(Duration::from_secs(1));
    let ctx_for = || Ctx::new(&check.addr, grace, &prefix);
    let timeout_for = |_: usize, case: &Case| {
        let timed = TIMED.contains(&case.id);
        check.case_timeout
            + if timed {
                check.peer_timeout * 2
            } else {
                Duration::ZERO
            }
    };
    let (first, last): (Vec<Case>, Vec<Case>) =
        tracker_cases(&env).into_iter().partition(|c| c.id != LAST);
    let stops = causes::STOPS_ANSWERING;
    let mut ran = run_at_once(&first, ctx_for, timeout_for, stops).await;
    ran.extend(run_at_once(&last, ctx_for, timeout_for, stops).await);
    let report = Report::new("tracker", &check.addr, attribute_deviations(ran, &[]));
    finish(&report, &check.reports)
}
