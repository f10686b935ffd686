//! `--check-sync -- COMMAND...`: a conformance checker for a seed-002 file synchronizer. Each
//! case starts COMMAND in a temporary folder of its own against a tracker and file servers the
//! checker plays on 127.0.0.1: the initial message, new and newer files fetched, older ones
//! left alone, the saved file's mtime, a silent or refusing server skipped for the next file,
//! keep-alives every 5 s, and the files it serves. The cases run at once (each has its own
//! folder, process and ports), so a run costs its slowest case (the keep-alive one, about 11 s).

mod cases;
pub mod causes;
mod env;
pub mod lab;
pub mod play;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::cases::Case;
use super::report::Report;
use super::wire::{Checked, Ctx};
use super::{ReportFile, absolute_paths, attribute_deviations, finish, parse_reports, run_at_once};
pub use env::Env;

/// `--check-sync -- COMMAND...`: the synchronizer under test and the checker's limits.
#[derive(Debug, Clone)]
pub struct SyncCheck {
    pub command: Vec<String>,
    pub case_timeout: Duration,
    pub reports: Vec<ReportFile>,
}

impl SyncCheck {
    pub fn new(command: &[String], case_timeout: f64, reports: &[String]) -> Result<SyncCheck> {
        if command.is_empty() {
            return Err(eyre!(
                "--check-sync needs the synchronizer's command after --, e.g. p2p-tui --check-sync -- python3 fileSynchronizer.py"
            ));
        }
        let cwd = std::env::current_dir().wrap_err("the current directory")?;
        Ok(SyncCheck {
            command: absolute_paths(command, &cwd),
            case_timeout: super::case_timeout(case_timeout)?,
            reports: parse_reports(reports)?,
        })
    }
}

fn case<F>(
    env: &Env,
    id: &'static str,
    title: &'static str,
    seed: &'static str,
    budget: u32,
    f: fn(Ctx, Env) -> F,
) -> Case
where
    F: Future<Output = Checked> + Send + 'static,
{
    let env = env.clone();
    Case {
        id,
        section: "Spec",
        title,
        seed,
        budget,
        run: Box::new(move |ctx| Box::pin(f(ctx, env.clone()))),
    }
}

/// The keep-alive case waits for two keep-alives: 16 s on top of its case timeout.
const KEEP_ALIVE: &str = "keep-alive";

pub fn sync_cases(env: &Env) -> Vec<Case> {
    vec![
        case(
            env,
            "initial",
            "initial message: serving port, the folder's files, mtimes rounded down",
            r#"seed 002: "send an Initial message containing names and the last modified time (round down to integer if it is a float) of its local files as well as file serving port (Port B) when it first starts.""#,
            2,
            cases::initial_case,
        ),
        case(
            env,
            "fetch-new",
            "a new file in the directory is fetched byte-exact",
            r#"seed 002: "identifies files that are either new or more up-to-date than its own copy ... it connects the corresponding peer ... it sends a File Request message with the name of the requested file to the said peer. The file from the peer shall be stored in the same directory that the synchronizer runs.""#,
            2,
            cases::fetch_new_case,
        ),
        case(
            env,
            "fetch-newer",
            "a newer copy replaces the local one",
            r#"seed 002: "identifies files that are either new or more up-to-date than its own copy by comparing with the modified time of its local files.""#,
            2,
            cases::fetch_newer_case,
        ),
        case(
            env,
            "older-kept",
            "older and equally old copies are not fetched",
            r#"seed 002: "identifies files that are either new or more up-to-date than its own copy by comparing with the modified time of its local files. If such a file is found, it connects the corresponding peer""#,
            2,
            cases::older_kept_case,
        ),
        case(
            env,
            "mtime",
            "the saved file's mtime is the directory's",
            r#"seed 002: "Make sure to set the modified time for the newly retrieved file to the modified time of the file in the directory response message.""#,
            2,
            cases::mtime_case,
        ),
        case(
            env,
            "server-silent",
            "a server that never answers: the next file is fetched",
            r#"seed 002: "In case that connection to a peer times out (e.g., using socket.settimeout) or there is no response to the File Request message, the synchronizer should proceed to the next file if any in the Directory Response message.""#,
            3,
            cases::server_silent_case,
        ),
        case(
            env,
            "server-refused",
            "a server that is not there: the next file is fetched",
            r#"seed 002: "In case that connection to a peer times out ... the synchronizer should proceed to the next file if any in the Directory Response message.""#,
            3,
            cases::server_refused_case,
        ),
        case(
            env,
            KEEP_ALIVE,
            "keep-alives every 5 s with the serving port",
            r#"seed 002: "send keepalive messages containing the file serving port every 5 seconds to the tracker"; Table 1: {'port':int}; "the initial message that contains local file information is sent only once""#,
            2,
            cases::keep_alive_case,
        ),
        case(
            env,
            "serves",
            "a file request by plain name: the file's raw bytes",
            r#"seed 002: "Upon receiving a File Request message from a peer, the synchronizer responds with the content of the file." Table 2: File Request: "Plain text of the file name"; File Response: "Content of the file, it can be binary or text""#,
            2,
            cases::serves_case,
        ),
    ]
}

/// Runs every case at once, prints the table, writes the reports; the exit status is 0 only
/// when every case passed.
pub async fn run(check: SyncCheck) -> Result<i32> {
    let env = Env {
        command: Arc::new(check.command.clone()),
        case_timeout: check.case_timeout,
        start_gate: Arc::default(),
    };
    let grace =
        (check.case_timeout / 10).clamp(Duration::from_millis(200), Duration::from_millis(1000));
    // (run_case multiplies this by the case's budget.) Case i may first wait for i
    // synchronizers to start (see `lab::START_GAP`); the keep-alive case waits 16 s more.
    let timeout_for = |i: usize, case: &Case| {
        let keep_alive = if case.id == KEEP_ALIVE { 16 } else { 0 };
        let extra =
            Duration::from_secs(keep_alive) + lab::START_GAP * u32::try_from(i).unwrap_or(0);
        check.case_timeout + extra / case.budget.max(1)
    };
    let ctx_for = || Ctx::new("", grace, "");
    let ran = run_at_once(
        &sync_cases(&env),
        ctx_for,
        timeout_for,
        causes::STOPS_ANSWERING,
    )
    .await;
    let report = Report::new(
        "sync",
        &check.command.join(" "),
        attribute_deviations(ran, &[]),
    );
    finish(&report, &check.reports)
}
