//! `--check-server` and `--check-client`: a conformance checker for any implementation of the seed-001 protocol. It
//! runs the seed's testing scheme (section IV) and the edge cases the seed implies against a
//! running server, speaking like the classroom clients (one message per write, each reply
//! awaited), and reports pass, fail or deviation per case.
//! May import core only: a checker speaks the protocols itself, to test any implementation.

pub mod cases;
pub mod causes;
pub mod client;
pub mod client_cases;
pub mod flows;
pub mod get;
pub mod html;
pub mod lab;
pub mod lines;
pub mod play;
pub mod report;
pub mod sync;
pub mod tracker;
pub mod web;
pub mod wire;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};

use cases::Case;
use report::{CaseResult, Report, Verdict};
use wire::{Cause, Ctx, Journal};

/// A report to write when the run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportFile {
    Json(PathBuf),
    Junit(PathBuf),
    /// One self-contained page (inline CSS, no script).
    Html(PathBuf),
}

/// `--report FORMAT FILE ...`, as clap collects them (pairs, flattened).
pub fn parse_reports(args: &[String]) -> Result<Vec<ReportFile>> {
    args.chunks(2)
        .map(|pair| match pair {
            [format, file] if format == "json" => Ok(ReportFile::Json(file.into())),
            [format, file] if format == "junit" => Ok(ReportFile::Junit(file.into())),
            [format, file] if format == "html" => Ok(ReportFile::Html(file.into())),
            [format, _] => Err(eyre!(
                "--report {format}: the formats are junit, json and html"
            )),
            _ => Err(eyre!("--report takes a format and a file")),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct ServerCheck {
    pub addr: String,
    /// A file the server already serves, downloaded as well.
    pub file: Option<String>,
    pub case_timeout: Duration,
    pub reports: Vec<ReportFile>,
}

/// `--case-timeout` as a duration, if it is one a checker can use.
pub fn case_timeout(secs: f64) -> Result<Duration> {
    if !(secs.is_finite() && secs > 0.0 && secs < 3600.0) {
        return Err(eyre!("--case-timeout must be between 0 and 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Whether a connection to `addr` opens within `timeout`: the checked program is there at all.
pub(crate) async fn connectable(addr: &str, timeout: Duration) -> Result<()> {
    tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| eyre!("no answer from {addr} within the case timeout"))?
        .wrap_err_with(|| format!("cannot connect to {addr}"))?;
    Ok(())
}

/// Runs every server case, prints the table, writes the reports; the exit status is 0 only
/// when every case passed.
pub async fn run_server(check: ServerCheck) -> Result<i32> {
    // A server that is not there at all is one clear sentence, not sixteen failures.
    connectable(&check.addr, check.case_timeout).await?;
    let grace = (check.case_timeout / 5).min(Duration::from_secs(1));
    let prefix = run_prefix();
    let mut results = Vec::new();
    for case in cases::server_cases(check.file.clone()) {
        let ctx = Ctx::new(&check.addr, grace, &prefix);
        results.push(run_case(&case, ctx, check.case_timeout).await);
    }
    let results = attribute_deviations(results, cases::DEVIATION_HOMES);
    let report = Report::new("server", &check.addr, results);
    finish(&report, &check.reports)
}

/// `--check-client -- COMMAND...`: the client under test and the checker's limits.
#[derive(Debug, Clone)]
pub struct ClientCheck {
    pub command: Vec<String>,
    pub case_timeout: Duration,
    pub reports: Vec<ReportFile>,
}

impl ClientCheck {
    pub fn new(
        command: &[String],
        case_timeout: Duration,
        reports: Vec<ReportFile>,
    ) -> Result<ClientCheck> {
        if command.is_empty() {
            return Err(eyre!(
                "--check-client needs the client's command after --, e.g. p2p-tui --check-client -- python3 client.py"
            ));
        }
        let cwd = std::env::current_dir().wrap_err("the current directory")?;
        Ok(ClientCheck {
            command: absolute_paths(command, &cwd),
            case_timeout,
            reports,
        })
    }
}

/// The client runs in a prepared peer directory, not where the checker was started: relative
/// paths in its command that name existing files there (`client.py`, `./client`) are made
/// absolute. A bare program name (`python3`) is left to the search path.
pub(crate) fn absolute_paths(command: &[String], cwd: &std::path::Path) -> Vec<String> {
    command
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            let path = std::path::Path::new(arg);
            let names_a_file = !arg.starts_with('-')
                && path.is_relative()
                && (i > 0 || arg.contains('/'))
                && cwd.join(path).is_file();
            if names_a_file {
                cwd.join(path).to_string_lossy().into_owned()
            } else {
                arg.clone()
            }
        })
        .collect()
}

/// Runs every client case against the client started by `command`.
pub async fn run_client(check: ClientCheck) -> Result<i32> {
    let grace =
        (check.case_timeout / 10).clamp(Duration::from_millis(100), Duration::from_millis(500));
    let env = client::Env {
        command: std::sync::Arc::new(check.command.clone()),
        case_timeout: check.case_timeout,
    };
    let mut results = Vec::new();
    for case in client_cases::client_cases(&env) {
        let ctx = Ctx::new("", grace, "");
        results.push(run_case(&case, ctx, check.case_timeout).await);
    }
    let results = attribute_deviations(results, &[]);
    let report = Report::new("client", &check.command.join(" "), results);
    finish(&report, &check.reports)
}

/// A case's result, with the kind of each deviation it saw (parallel to the deviations at the
/// end of `result.detail`) and the kinds of the causes it saw (first first).
pub(crate) struct Ran {
    result: CaseResult,
    kinds: Vec<String>,
    causes: Vec<&'static str>,
}

pub(crate) async fn run_case(case: &Case, ctx: Ctx, case_timeout: Duration) -> Ran {
    let started = Instant::now();
    let deadline = case_timeout * case.budget.max(1);
    let outcome = tokio::time::timeout(deadline, (case.run)(ctx.clone())).await;
    if outcome.is_err() {
        ctx.cause(
            causes::STOPS_ANSWERING,
            format!(
                "no result within {:.1} s (the case's deadline): the implementation stopped answering",
                deadline.as_secs_f64()
            ),
        );
    }
    let journal = ctx.take_journal();
    let (verdict, detail) = match outcome {
        // The timeout is the case's cause, and its only reason.
        Err(_) => (Verdict::Fail, vec![]),
        Ok(Err(failure)) => (Verdict::Fail, vec![failure.0]),
        Ok(Ok(())) if journal.deviations.is_empty() => (Verdict::Pass, vec![]),
        Ok(Ok(())) => (Verdict::Deviation, vec![]),
    };
    let causes = if verdict == Verdict::Fail {
        journal.causes.clone()
    } else {
        Vec::new()
    };
    let reasons = reasons(&causes, detail, &journal);
    let evidence = case_evidence(&journal, verdict);
    let stderr = if verdict == Verdict::Pass {
        Vec::new()
    } else {
        journal.stderr.iter().cloned().collect()
    };
    let exchange = journal.lines[journal.lines.len().saturating_sub(EXCHANGE_LINES)..].to_vec();
    Ran {
        result: CaseResult {
            id: case.id.to_string(),
            section: case.section.to_string(),
            title: case.title.to_string(),
            seed: case.seed.to_string(),
            verdict,
            cause: String::new(),
            detail: reasons,
            evidence,
            stderr,
            exchange,
            seconds: started.elapsed().as_secs_f64(),
        },
        kinds: journal.kinds,
        causes: causes
            .iter()
            .map(|c| c.kind)
            .chain(journal.failure_kind.filter(|_| verdict == Verdict::Fail))
            .collect(),
    }
}

/// A case's reasons: its causes first, then their consequences (a failure that is its own
/// cause said once), then its deviations.
fn reasons(causes: &[Cause], mut detail: Vec<String>, journal: &Journal) -> Vec<String> {
    let mut reasons: Vec<String> = causes.iter().map(|c| c.what.clone()).collect();
    detail.retain(|d| !reasons.contains(d));
    reasons.append(&mut detail);
    reasons.extend(journal.deviations.iter().cloned());
    reasons
}

/// The lines of the exchange a verdict points at: none for a pass, up to the failure, or up to
/// just past the first deviation.
fn case_evidence(journal: &Journal, verdict: Verdict) -> Vec<String> {
    match verdict {
        Verdict::Pass => Vec::new(),
        Verdict::Fail => evidence(&journal.lines, journal.lines.len()),
        Verdict::Deviation => evidence(
            &journal.lines,
            journal.deviation_at.unwrap_or(journal.lines.len()) + 2,
        ),
    }
}

/// The case's first cause, the sentence the summary groups it by: a cause it saw, else the kind
/// of its failure, else its first reason.
fn first_cause(result: &CaseResult, causes: &[&'static str]) -> String {
    match (result.verdict, causes.first()) {
        (Verdict::Pass, _) => String::new(),
        (Verdict::Fail, Some(kind)) => kind.to_string(),
        _ => result.detail.first().cloned().unwrap_or_default(),
    }
}

/// One deviation, one verdict: a deviation of a kind that its home case (`homes`: kind, case
/// id) saw is reported there only; other cases that saw it too, and nothing else, pass (they
/// tolerate it, as a classroom peer would). A kind its home case did not see stays wherever it
/// was seen, so nothing is hidden.
pub(crate) fn attribute_deviations(ran: Vec<Ran>, homes: &[(&str, &str)]) -> Vec<CaseResult> {
    let seen_at_home = |kind: &str| {
        homes.iter().any(|(k, home)| {
            *k == kind
                && ran
                    .iter()
                    .any(|r| r.result.id == *home && r.kinds.iter().any(|seen| seen == kind))
        })
    };
    let home_of = |kind: &str| homes.iter().find(|(k, _)| *k == kind).map(|(_, h)| *h);
    ran.iter()
        .map(|r| {
            let mut result = r.result.clone();
            let first_deviation = result.detail.len() - r.kinds.len();
            let keep: Vec<bool> = r
                .kinds
                .iter()
                .map(|kind| home_of(kind) == Some(result.id.as_str()) || !seen_at_home(kind))
                .collect();
            let mut at = 0;
            result.detail.retain(|_| {
                at += 1;
                at <= first_deviation || keep[at - 1 - first_deviation]
            });
            if result.verdict == Verdict::Deviation && result.detail.is_empty() {
                result.verdict = Verdict::Pass;
                result.evidence.clear();
                result.stderr.clear();
            }
            result.cause = first_cause(&result, &r.causes);
            result
        })
        .collect()
}

/// Runs `cases` at the same time (cases that share nothing, each a connection or a process of
/// its own, so a run costs its slowest case, not their sum), each with a fresh `Ctx` from
/// `ctx_for` and its own deadline from `timeout_for`; results in the cases' order.
/// A case that reached its deadline is grouped under `stops` (the checked protocol's words)
/// rather than seed 001's.
pub(crate) async fn run_at_once(
    cases: &[Case],
    ctx_for: impl Fn() -> Ctx,
    timeout_for: impl Fn(usize, &Case) -> Duration,
    stops: &'static str,
) -> Vec<Ran> {
    let mut ran = futures::future::join_all(
        cases
            .iter()
            .enumerate()
            .map(|(i, case)| run_case(case, ctx_for(), timeout_for(i, case))),
    )
    .await;
    for r in &mut ran {
        for kind in &mut r.causes {
            if *kind == causes::STOPS_ANSWERING {
                *kind = stops;
            }
        }
    }
    ran
}

/// Messages shown under a case that did not pass: the last ones before `end`, where it went
/// wrong.
fn evidence(lines: &[String], end: usize) -> Vec<String> {
    let end = end.min(lines.len());
    lines[end.saturating_sub(EVIDENCE_LINES)..end].to_vec()
}

const EVIDENCE_LINES: usize = 12;

/// A case's whole exchange, for the HTML report, is cut to its last this many messages.
const EXCHANGE_LINES: usize = 200;

pub(crate) fn finish(report: &Report, files: &[ReportFile]) -> Result<i32> {
    use std::io::IsTerminal;
    let terminal = std::io::stdout().is_terminal();
    let style = report::Style {
        colour: terminal,
        width: terminal
            .then(|| crossterm::terminal::size().ok())
            .flatten()
            .map(|(columns, _)| usize::from(columns)),
    };
    print!("{}", report::table(report, style));
    for file in files {
        let (path, text) = match file {
            ReportFile::Json(path) => (path, report::json(report)),
            ReportFile::Junit(path) => (path, report::junit(report)),
            ReportFile::Html(path) => (path, html::html(report)),
        };
        std::fs::write(path, text)
            .wrap_err_with(|| format!("cannot write the report {}", path.display()))?;
    }
    Ok(report.exit_code())
}

/// Names uploaded by this run start with this (unique per run), so running the checker twice
/// against one server does not meet "Already serving" from the run before.
pub(crate) fn run_prefix() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("chk{}{}", secs % 1_000_000, std::process::id() % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(id: &str, verdict: Verdict, failure: Option<&str>, kinds: &[&str]) -> Ran {
        let mut detail: Vec<String> = failure.map(String::from).into_iter().collect();
        detail.extend(kinds.iter().map(|k| format!("saw {k}")));
        Ran {
            result: CaseResult {
                id: id.into(),
                section: "IV.7".into(),
                title: "t".into(),
                seed: "s".into(),
                verdict,
                cause: String::new(),
                detail,
                evidence: vec!["c1 < x".into()],
                stderr: vec![],
                exchange: vec![],
                seconds: 0.0,
            },
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            causes: vec![],
        }
    }

    #[test]
    fn relative_paths_to_existing_files_become_absolute() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.py"), "").unwrap();
        let command = ["python3", "client.py", "-u", "missing.py", "./client.py"].map(String::from);
        let abs = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        assert_eq!(
            absolute_paths(&command, dir.path()),
            [
                "python3".into(),
                abs("client.py"),
                "-u".into(),
                "missing.py".into(),
                abs("./client.py")
            ]
        );
        let program = ["./client.py".to_string()];
        assert_eq!(absolute_paths(&program, dir.path()), [abs("./client.py")]);
    }

    #[test]
    fn a_deviation_its_home_case_saw_is_reported_there_only() {
        let homes = [("no file word", "download"), ("line end", "filelist")];
        let results = attribute_deviations(
            vec![
                ran("filelist", Verdict::Pass, None, &[]),
                ran("upload", Verdict::Deviation, None, &["no file word"]),
                ran("download", Verdict::Deviation, None, &["no file word"]),
                ran("binary", Verdict::Fail, Some("closed"), &["no file word"]),
                ran(
                    "many",
                    Verdict::Deviation,
                    None,
                    &["no file word", "line end"],
                ),
            ],
            &homes,
        );
        let verdicts: Vec<_> = results.iter().map(|r| (r.id.as_str(), r.verdict)).collect();
        assert_eq!(
            verdicts,
            [
                ("filelist", Verdict::Pass),
                ("upload", Verdict::Pass),
                ("download", Verdict::Deviation),
                ("binary", Verdict::Fail),
                ("many", Verdict::Deviation),
            ]
        );
        assert!(results[1].evidence.is_empty() && results[1].detail.is_empty());
        assert_eq!(results[2].detail, ["saw no file word"]);
        assert_eq!(results[3].detail, ["closed"]);
        // "line end" was not seen by its home case, filelist: it stays where it was seen.
        assert_eq!(results[4].detail, ["saw line end"]);
    }

    #[test]
    fn reports_come_in_format_file_pairs() {
        let args = ["json", "a.json", "junit", "b.xml", "html", "c.html"].map(String::from);
        assert_eq!(
            parse_reports(&args).unwrap(),
            vec![
                ReportFile::Json("a.json".into()),
                ReportFile::Junit("b.xml".into()),
                ReportFile::Html("c.html".into())
            ]
        );
        assert!(parse_reports(&["xml".into(), "c".into()]).is_err());
    }
}
