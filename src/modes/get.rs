//! `--get`: the seed-004 web client as a mode (the client itself lives in web::client).

use std::time::Duration;

use color_eyre::eyre::{Result, eyre};

use crate::core::signals::Signals;
use crate::web;

/// `--get`: the seed-004 client. Exit 0 for a 200, 1 for another HTTP status, 2 when there was
/// no answer (refused, timed out, broken), 128 + the signal's number after SIGINT, SIGTERM or
/// SIGHUP.
pub async fn run(args: &[String], timeout_secs: f64, mut signals: Signals) -> Result<i32> {
    let (args, timeout_secs) =
        web::client::seed_timeout(args, timeout_secs).map_err(|e| eyre!(e))?;
    let target = web::client::Target::parse(args).map_err(|e| eyre!(e))?;
    if !(timeout_secs.is_finite() && timeout_secs > 0.0 && timeout_secs < 86_400.0) {
        return Err(eyre!(
            "--timeout must be a number of seconds between 0 and 86400"
        ));
    }
    let timeout = Duration::from_secs_f64(timeout_secs);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    // A signal drops the request, and with it any half-saved temporary file.
    let result = tokio::select! {
        r = web::client::run(&target, timeout, std::path::Path::new("."), &mut out) => r,
        (number, _) = signals.recv() => {
            eprintln!("Interrupted; nothing saved.");
            return Ok(128 + number);
        }
    };
    match result {
        Ok(web::client::Outcome::Ok) => Ok(0),
        Ok(web::client::Outcome::HttpError(_)) => Ok(1),
        Err(e) => {
            use std::io::Write;
            let _ = out.flush();
            eprintln!("{e}");
            Ok(2)
        }
    }
}
