//! `--check-get -- COMMAND...`: a conformance checker for a seed-004 web client (a classroom
//! `client.py`, p2p-tui's own `--get`). For each case the checker plays the web server on
//! 127.0.0.1 (an ephemeral port), runs `COMMAND 127.0.0.1 PORT FILE [TIMEOUT]` in a temporary
//! directory and judges the lines it prints, what it saves and when it ends. Same cases,
//! verdicts, deadlines and reports as `--check-client`.

pub mod cases;
pub mod causes;
pub mod run;
pub mod serve;

use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::report::Report;
use super::wire::Ctx;
use super::{ReportFile, absolute_paths, attribute_deviations, finish, run_case};

/// `--check-get -- COMMAND...`.
#[derive(Debug, Clone)]
pub struct GetCheck {
    pub command: Vec<String>,
    pub case_timeout: Duration,
    pub reports: Vec<ReportFile>,
}

impl GetCheck {
    /// `command` as given after `--`: relative paths to existing files are made absolute (the
    /// client runs in a directory of its own).
    pub fn new(
        command: &[String],
        case_timeout: Duration,
        reports: Vec<ReportFile>,
    ) -> Result<GetCheck> {
        if command.is_empty() {
            return Err(eyre!(
                "--check-get needs the client's command after --, e.g. p2p-tui --check-get -- python3 client.py"
            ));
        }
        let cwd = std::env::current_dir().wrap_err("the current directory")?;
        Ok(GetCheck {
            command: absolute_paths(command, &cwd),
            case_timeout,
            reports,
        })
    }
}

/// Runs every case against the client, prints the table, writes the reports.
pub async fn run_get(check: GetCheck) -> Result<i32> {
    let grace =
        (check.case_timeout / 10).clamp(Duration::from_millis(200), Duration::from_millis(500));
    let env = cases::Env {
        command: Arc::new(check.command.clone()),
        case_timeout: check.case_timeout,
    };
    let mut results = Vec::new();
    for case in cases::get_cases(&env) {
        let ctx = Ctx::new("", grace, "");
        results.push(run_case(&case, ctx, check.case_timeout).await);
    }
    let results = attribute_deviations(results, cases::DEVIATION_HOMES);
    let report = Report::new("get", &check.command.join(" "), results);
    finish(&report, &check.reports)
}
