//! `--check-web HOST:PORT`: a conformance checker for a seed-000 Part I / seed-004 web server
//! (a classroom `WebServer.py`, p2p-tui's own `--web`). It puts files of its own in the
//! directory the server serves (`--web-root DIR`, default the current directory: where a
//! classroom server is started), one of each type the seeds name, asks for them as a browser
//! and as the classroom clients do, and removes them when done. Same cases, verdicts, deadlines
//! and reports as `--check-server`.

pub mod cases;
pub mod causes;
pub mod http;
pub mod site;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};

use super::report::Report;
use super::wire::Ctx;
use super::{ReportFile, attribute_deviations, finish, run_case, run_prefix};

/// `--check-web HOST:PORT [--web-root DIR]`.
#[derive(Debug, Clone)]
pub struct WebCheck {
    pub addr: String,
    /// The directory the server serves its files from.
    pub root: PathBuf,
    pub case_timeout: Duration,
    pub reports: Vec<ReportFile>,
}

/// A server that is not there at all is one clear sentence, not twelve failures. The probe is
/// a whole request (for a file that is not there), never a bare connection: a classroom server
/// that reads one request per connection dies on a connection closed without one (found
/// against a course implementation), and that must be a case's finding, not the probe's.
async fn reachable(check: &WebCheck, prefix: &str) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(&check.addr).await?;
        let request = format!(
            "GET /{prefix}-probe.html HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            check.addr
        );
        stream.write_all(request.as_bytes()).await?;
        // Its answer, whatever it is, until it closes (bounded by the timeout below).
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    };
    match tokio::time::timeout(check.case_timeout, probe).await {
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(eyre!("cannot connect to {}: {e}", check.addr))
        }
        // Refused is the only answer that says nobody is there; the rest is for the cases.
        _ => Ok(()),
    }
}

/// Runs every web case, prints the table, writes the reports; 0 only when every case passed.
pub async fn run_web(check: WebCheck) -> Result<i32> {
    if !check.root.is_dir() {
        return Err(eyre!(
            "--web-root {}: not a directory (give the directory the server serves its files from)",
            check.root.display()
        ));
    }
    let prefix = run_prefix();
    reachable(&check, &prefix).await?;
    let site = Arc::new(site::Site::create(&check.root, &prefix)?);
    let grace = (check.case_timeout / 5).min(Duration::from_secs(1));
    let mut results = Vec::new();
    for case in cases::web_cases(&site, check.case_timeout) {
        let ctx = Ctx::new(&check.addr, grace, &prefix);
        results.push(run_case(&case, ctx, check.case_timeout).await);
    }
    drop(site);
    let results = attribute_deviations(results, cases::DEVIATION_HOMES);
    let report = Report::new("web", &check.addr, results);
    finish(&report, &check.reports)
}
