//! `--check-server` and `--check-client`: a conformance checker for any implementation of the seed-001 protocol. It
//! runs the seed's testing scheme (section IV) and the edge cases the seed implies against a
//! running server, speaking like the classroom clients (one message per write, each reply
//! awaited), and reports pass, fail or deviation per case.

pub mod cases;
pub mod client;
pub mod flows;
pub mod lab;
pub mod lines;
pub mod play;
pub mod report;
pub mod wire;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};

use cases::Case;
use report::{CaseResult, Report, Verdict};
use wire::Ctx;

/// A report to write when the run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportFile {
    Json(PathBuf),
    Junit(PathBuf),
}

/// `--report FORMAT FILE ...`, as clap collects them (pairs, flattened).
pub fn parse_reports(args: &[String]) -> Result<Vec<ReportFile>> {
    args.chunks(2)
        .map(|pair| match pair {
            [format, file] if format == "json" => Ok(ReportFile::Json(file.into())),
            [format, file] if format == "junit" => Ok(ReportFile::Junit(file.into())),
            [format, _] => Err(eyre!("--report {format}: the formats are junit and json")),
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

impl ServerCheck {
    pub fn from_cli(cli: &crate::cli::Cli, addr: String) -> Result<ServerCheck> {
        if !(cli.case_timeout.is_finite() && cli.case_timeout > 0.0 && cli.case_timeout < 3600.0) {
            return Err(eyre!("--case-timeout must be between 0 and 3600 seconds"));
        }
        Ok(ServerCheck {
            addr,
            file: cli.check_file.clone(),
            case_timeout: Duration::from_secs_f64(cli.case_timeout),
            reports: parse_reports(&cli.report)?,
        })
    }
}

/// Runs every server case, prints the table, writes the reports; the exit status is 0 only
/// when every case passed.
pub async fn run_server(check: ServerCheck) -> Result<i32> {
    // A server that is not there at all is one clear sentence, not sixteen failures.
    tokio::time::timeout(
        check.case_timeout,
        tokio::net::TcpStream::connect(&check.addr),
    )
    .await
    .map_err(|_| eyre!("no answer from {} within the case timeout", check.addr))?
    .wrap_err_with(|| format!("cannot connect to {}", check.addr))?;
    let grace = (check.case_timeout / 5).min(Duration::from_secs(1));
    let prefix = run_prefix();
    let mut results = Vec::new();
    for case in cases::server_cases(check.file.clone()) {
        let ctx = Ctx::new(&check.addr, grace, &prefix);
        results.push(run_case(&case, ctx, check.case_timeout).await);
    }
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
    pub fn from_cli(cli: &crate::cli::Cli) -> Result<ClientCheck> {
        let server = ServerCheck::from_cli(cli, String::new())?;
        if cli.command.is_empty() {
            return Err(eyre!(
                "--check-client needs the client's command after --, e.g. p2p-tui --check-client -- python3 client.py"
            ));
        }
        Ok(ClientCheck {
            command: cli.command.clone(),
            case_timeout: server.case_timeout,
            reports: server.reports,
        })
    }
}

/// Runs every client case against the client started by `command`.
pub async fn run_client(check: ClientCheck) -> Result<i32> {
    let grace =
        (check.case_timeout / 10).clamp(Duration::from_millis(100), Duration::from_millis(500));
    let env = client::Env {
        command: std::sync::Arc::new(check.command.clone()),
        deadline: check.case_timeout.mul_f64(0.7),
    };
    let mut results = Vec::new();
    for case in client::client_cases(&env) {
        let ctx = Ctx::new("", grace, "");
        results.push(run_case(&case, ctx, check.case_timeout).await);
    }
    let report = Report::new("client", &check.command.join(" "), results);
    finish(&report, &check.reports)
}

async fn run_case(case: &Case, ctx: Ctx, deadline: Duration) -> CaseResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(deadline, (case.run)(ctx.clone())).await;
    let journal = ctx.take_journal();
    let (verdict, detail) = match outcome {
        Err(_) => (
            Verdict::Fail,
            vec![format!(
                "no result within {:.1} s (the case timeout): the server stopped answering",
                deadline.as_secs_f64()
            )],
        ),
        Ok(Err(failure)) => (Verdict::Fail, vec![failure.0]),
        Ok(Ok(())) if journal.deviations.is_empty() => (Verdict::Pass, vec![]),
        Ok(Ok(())) => (Verdict::Deviation, journal.deviations.clone()),
    };
    let evidence = match verdict {
        Verdict::Pass => Vec::new(),
        Verdict::Fail => evidence(&journal.lines, journal.lines.len()),
        Verdict::Deviation => evidence(
            &journal.lines,
            journal.deviation_at.unwrap_or(journal.lines.len()) + 2,
        ),
    };
    CaseResult {
        id: case.id.to_string(),
        section: case.section.to_string(),
        title: case.title.to_string(),
        verdict,
        detail,
        evidence,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Messages shown under a case that did not pass: the last ones before `end`, where it went
/// wrong.
fn evidence(lines: &[String], end: usize) -> Vec<String> {
    let end = end.min(lines.len());
    lines[end.saturating_sub(EVIDENCE_LINES)..end].to_vec()
}

const EVIDENCE_LINES: usize = 12;

fn finish(report: &Report, files: &[ReportFile]) -> Result<i32> {
    use std::io::IsTerminal;
    let colour = std::io::stdout().is_terminal();
    print!("{}", report::table(report, colour));
    for file in files {
        let (path, text) = match file {
            ReportFile::Json(path) => (path, report::json(report)),
            ReportFile::Junit(path) => (path, report::junit(report)),
        };
        std::fs::write(path, text)
            .wrap_err_with(|| format!("cannot write the report {}", path.display()))?;
    }
    Ok(report.exit_code())
}

/// Names uploaded by this run start with this (unique per run), so running the checker twice
/// against one server does not meet "Already serving" from the run before.
fn run_prefix() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("chk{}{}", secs % 1_000_000, std::process::id() % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_come_in_format_file_pairs() {
        let args = ["json", "a.json", "junit", "b.xml"].map(String::from);
        assert_eq!(
            parse_reports(&args).unwrap(),
            vec![
                ReportFile::Json("a.json".into()),
                ReportFile::Junit("b.xml".into())
            ]
        );
        assert!(parse_reports(&["xml".into(), "c".into()]).is_err());
    }
}
