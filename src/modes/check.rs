//! `--check-server`, `--check-client`, `--check-tracker`, `--check-sync`, `--check-web` and `--check-get`: the checkers of check/, started from their flags.

use color_eyre::eyre::Result;

use crate::check::{self, ClientCheck, ServerCheck};
use crate::cli::CheckFlags;

pub async fn server(addr: String, file: Option<String>, flags: &CheckFlags) -> Result<i32> {
    let check = ServerCheck {
        addr,
        file,
        case_timeout: check::case_timeout(flags.case_timeout)?,
        reports: check::parse_reports(&flags.report)?,
    };
    check::run_server(check).await
}

pub async fn client(command: Vec<String>, flags: &CheckFlags) -> Result<i32> {
    let timeout = check::case_timeout(flags.case_timeout)?;
    let reports = check::parse_reports(&flags.report)?;
    check::run_client(ClientCheck::new(&command, timeout, reports)?).await
}

pub async fn tracker(addr: String, peer_timeout: u64, flags: &CheckFlags) -> Result<i32> {
    let check =
        check::tracker::TrackerCheck::new(addr, peer_timeout, flags.case_timeout, &flags.report)?;
    check::tracker::run(check).await
}

pub async fn sync(command: Vec<String>, flags: &CheckFlags) -> Result<i32> {
    let check = check::sync::SyncCheck::new(&command, flags.case_timeout, &flags.report)?;
    check::sync::run(check).await
}

pub async fn web(
    addr: String,
    root: Option<std::path::PathBuf>,
    flags: &CheckFlags,
) -> Result<i32> {
    let check = check::web::WebCheck {
        addr,
        root: root.unwrap_or_else(|| ".".into()),
        case_timeout: check::case_timeout(flags.case_timeout)?,
        reports: check::parse_reports(&flags.report)?,
    };
    check::web::run_web(check).await
}

pub async fn get(command: Vec<String>, flags: &CheckFlags) -> Result<i32> {
    let timeout = check::case_timeout(flags.case_timeout)?;
    let reports = check::parse_reports(&flags.report)?;
    check::get::run_get(check::get::GetCheck::new(&command, timeout, reports)?).await
}
