//! The `--check-sync` cases, one async function each: every case starts the synchronizer in a
//! folder of its own against a tracker and file servers of its own.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::causes;
use super::env::Env;
use super::lab::{SyncLab, entry, now_secs};
use super::play::{PlayedServer, Serve};
use crate::check::wire::{Checked, Ctx, fail, show};

/// Binary content: every byte value, NUL and bytes that are not UTF-8 among them.
pub fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}

fn serve(files: &[(&str, &[u8])]) -> Serve {
    Serve::Files(
        files
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect::<HashMap<_, _>>(),
    )
}

/// Starts the synchronizer and waits for its initial message; the port in it.
async fn started(
    ctx: &Ctx,
    env: &Env,
    lab: &mut SyncLab,
    directory: Value,
) -> Checked<Option<u16>> {
    lab.start(ctx, &env.command, directory, &env.start_gate)
        .await?;
    if !lab
        .wait_until(ctx, env.deadline(1), |l| !l.messages().is_empty())
        .await
    {
        ctx.cause(
            causes::NO_INITIAL,
            format!(
                "no message reached the tracker within {:.1} s of the start",
                env.deadline(1).as_secs_f64()
            ),
        );
        return fail("the synchronizer sent no initial message");
    }
    let first = lab.messages()[0].1.clone();
    Ok(first
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok()))
}

/// Waits until `name` in the folder holds `bytes`; why not, if it does not by the deadline.
async fn fetched(
    ctx: &Ctx,
    lab: &mut SyncLab,
    name: &str,
    bytes: &[u8],
    deadline: Duration,
    from: &PlayedServer,
) -> Checked {
    if lab
        .wait_until(ctx, deadline, |l| l.file(name).as_deref() == Some(bytes))
        .await
    {
        return Ok(());
    }
    let asked: Vec<String> = from
        .asked
        .lock()
        .map(|a| a.iter().map(|r| show(r, 60)).collect())
        .unwrap_or_default();
    if !asked.is_empty() {
        ctx.cause(
            causes::NOT_SAVED,
            format!(
                "{name} was asked for and sent, but not saved (its server was asked {})",
                asked.join(", ")
            ),
        );
    }
    let there = match lab.file(name) {
        None => "no such file in the folder".to_string(),
        Some(got) => format!(
            "the folder's copy has {} bytes, not the {} served",
            got.len(),
            bytes.len()
        ),
    };
    fail(format!(
        "{name} was not fetched within {:.1} s: {there}; its server was asked {}",
        deadline.as_secs_f64(),
        if asked.is_empty() {
            "nothing".to_string()
        } else {
            asked.join(", ")
        }
    ))
}

pub async fn initial_case(ctx: Ctx, env: Env) -> Checked {
    let t = now_secs();
    let bin = binary(3000);
    let mut lab = SyncLab::new(&[
        ("a.txt", b"alpha\n", t - 100, 600_000_000),
        ("b.bin", &bin, t - 200, 0),
    ])?;
    started(&ctx, &env, &mut lab, json!({})).await?;
    let message = lab.messages()[0].1.clone();
    let port = message
        .get("port")
        .and_then(Value::as_u64)
        .filter(|p| (1..=65535).contains(p));
    let files = message.get("files").and_then(Value::as_array);
    let (Some(_), Some(files)) = (port, files) else {
        return fail(format!(
            "the first message is not {{\"port\": int, \"files\": [...]}}: {message}"
        ));
    };
    let mut got = BTreeSet::new();
    for file in files {
        let name = file.get("name").and_then(Value::as_str);
        let Some(mtime) = file.get("mtime").filter(|m| m.is_i64() || m.is_u64()) else {
            return fail(format!(
                "a file's mtime is not an integer (the seed: round down to integer if it is a float): {file}"
            ));
        };
        got.insert((
            name.unwrap_or("?").to_string(),
            mtime.as_i64().unwrap_or(-1),
        ));
    }
    let expected = BTreeSet::from([
        ("a.txt".to_string(), t - 100),
        ("b.bin".to_string(), t - 200),
    ]);
    if got != expected {
        return fail(format!(
            "the initial message lists {got:?}, not the folder's files {expected:?} (mtimes rounded down)"
        ));
    }
    Ok(())
}

pub async fn fetch_new_case(ctx: Ctx, env: Env) -> Checked {
    let bytes = binary(100_000);
    let mut lab = SyncLab::new(&[])?;
    let s1 = lab
        .server(&ctx, "s1", serve(&[("new.bin", &bytes)]))
        .await?;
    let directory = json!({"new.bin": entry(s1.port, now_secs() - 50)});
    started(&ctx, &env, &mut lab, directory).await?;
    fetched(&ctx, &mut lab, "new.bin", &bytes, env.deadline(1), &s1).await
}

pub async fn fetch_newer_case(ctx: Ctx, env: Env) -> Checked {
    let t = now_secs();
    let mut lab = SyncLab::new(&[("old.txt", b"the old copy\n", t - 1000, 0)])?;
    let newer: &[u8] = b"the newer copy, from s1\n";
    let s1 = lab.server(&ctx, "s1", serve(&[("old.txt", newer)])).await?;
    started(
        &ctx,
        &env,
        &mut lab,
        json!({"old.txt": entry(s1.port, t - 10)}),
    )
    .await?;
    fetched(&ctx, &mut lab, "old.txt", newer, env.deadline(1), &s1).await
}

/// An older copy and one as old as the local one are listed with a new file: once the new
/// file is fetched (and a moment more), neither was asked for and the local copies are intact.
pub async fn older_kept_case(ctx: Ctx, env: Env) -> Checked {
    let t = now_secs();
    let (mine, same): (&[u8], &[u8]) = (b"my newer copy\n", b"my copy, as old as s1's\n");
    let mut lab = SyncLab::new(&[("keep.txt", mine, t - 10, 0), ("same.txt", same, t - 20, 0)])?;
    let sentinel: &[u8] = b"a new file listed with them\n";
    let files: &[(&str, &[u8])] = &[
        ("keep.txt", b"older\n"),
        ("same.txt", b"other\n"),
        ("z-new.txt", sentinel),
    ];
    let s1 = lab.server(&ctx, "s1", serve(files)).await?;
    let directory = json!({
        "keep.txt": entry(s1.port, t - 1000),
        "same.txt": entry(s1.port, t - 20),
        "z-new.txt": entry(s1.port, t - 30),
    });
    started(&ctx, &env, &mut lab, directory).await?;
    fetched(&ctx, &mut lab, "z-new.txt", sentinel, env.deadline(1), &s1).await?;
    tokio::time::sleep(ctx.grace).await;
    let asked: Vec<Vec<u8>> = s1.asked.lock().map(|a| a.clone()).unwrap_or_default();
    for (name, local) in [("keep.txt", mine), ("same.txt", same)] {
        if asked.iter().any(|r| r.trim_ascii() == name.as_bytes()) {
            return fail(format!(
                "{name} was requested, though the directory's copy is not newer than the local one"
            ));
        }
        if lab.file(name).as_deref() != Some(local) {
            return fail(format!(
                "the local {name} was changed, though the directory's copy is not newer"
            ));
        }
    }
    Ok(())
}

pub async fn mtime_case(ctx: Ctx, env: Env) -> Checked {
    let stamp = now_secs() - 12_345;
    let bytes: &[u8] = b"stamped with the directory's mtime\n";
    let mut lab = SyncLab::new(&[])?;
    let s1 = lab
        .server(&ctx, "s1", serve(&[("stamp.txt", bytes)]))
        .await?;
    started(
        &ctx,
        &env,
        &mut lab,
        json!({"stamp.txt": entry(s1.port, stamp)}),
    )
    .await?;
    fetched(&ctx, &mut lab, "stamp.txt", bytes, env.deadline(1), &s1).await?;
    let right = |l: &SyncLab| l.mtime("stamp.txt") == Some(stamp);
    if lab.wait_until(&ctx, ctx.grace * 2, right).await {
        return Ok(());
    }
    fail(format!(
        "the saved stamp.txt has mtime {}, not the directory's {stamp}",
        lab.mtime("stamp.txt")
            .map_or("unknown".to_string(), |m| m.to_string())
    ))
}

/// The first file's server fails (`first`: silent, or not listening): the next file is still
/// fetched, within the case's (doubled) deadline.
async fn skipped(ctx: Ctx, env: Env, silent: bool) -> Checked {
    let t = now_secs();
    let mut lab = SyncLab::new(&[])?;
    let first = if silent {
        lab.server(&ctx, "s0", Serve::Silent).await?.port
    } else {
        crate::check::play::offline_port()
            .await
            .or_else(|e| fail(format!("no free port: {e}")))?
    };
    let next: &[u8] = b"the next file\n";
    let s1 = lab
        .server(&ctx, "s1", serve(&[("b-next.txt", next)]))
        .await?;
    let directory =
        json!({"a-first.txt": entry(first, t - 5), "b-next.txt": entry(s1.port, t - 5)});
    started(&ctx, &env, &mut lab, directory).await?;
    fetched(&ctx, &mut lab, "b-next.txt", next, env.deadline(2), &s1)
        .await
        .or_else(|e| {
            let what = if silent {
                "never answered"
            } else {
                "refused the connection"
            };
            fail(format!("after a-first.txt's server {what}: {}", e.0))
        })
}

pub async fn server_silent_case(ctx: Ctx, env: Env) -> Checked {
    skipped(ctx, env, true).await
}

pub async fn server_refused_case(ctx: Ctx, env: Env) -> Checked {
    skipped(ctx, env, false).await
}

/// Two keep-alives after the initial message, each `{"port": P}` with the initial's port, 5 s
/// apart (3.5 to 7 s is accepted).
pub async fn keep_alive_case(ctx: Ctx, env: Env) -> Checked {
    let mut lab = SyncLab::new(&[])?;
    let port = started(&ctx, &env, &mut lab, json!({})).await?;
    let wait = Duration::from_secs(16);
    if !lab
        .wait_until(&ctx, wait, |l| l.messages().len() >= 3)
        .await
    {
        let n = lab.messages().len().saturating_sub(1);
        return fail(format!(
            "{n} keep-alive messages reached the tracker in {} s after the initial one, not 2",
            wait.as_secs()
        ));
    }
    let messages = lab.messages();
    for pair in messages[..3].windows(2) {
        let (before, (at, message)) = (pair[0].0, &pair[1]);
        if message.get("files").is_some() {
            return fail(format!(
                "the initial message was sent again instead of a keep-alive: {message}"
            ));
        }
        let announced = message
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok());
        if announced.is_none() || announced != port {
            return fail(format!(
                "a keep-alive is not {{\"port\": {}}}: {message}",
                port.unwrap_or(0)
            ));
        }
        let gap = at.duration_since(before).as_secs_f64();
        if !(3.5..=7.0).contains(&gap) {
            return fail(format!(
                "a keep-alive came {gap:.1} s after the message before it, not 5 s"
            ));
        }
    }
    Ok(())
}

/// Another peer asks for a file in the folder by its plain name (then ends its output): the
/// file's raw bytes come back, then the connection closes.
pub async fn serves_case(ctx: Ctx, env: Env) -> Checked {
    let bytes = binary(100_000);
    let mut lab = SyncLab::new(&[("shared.bin", &bytes, now_secs() - 300, 0)])?;
    let Some(port) = started(&ctx, &env, &mut lab, json!({})).await? else {
        return fail("the initial message names no serving port");
    };
    let got = match ask_file(&ctx, port, 2 * bytes.len(), env.deadline(1)).await {
        Ok(got) => got,
        Err(Unanswered::Failed(e)) => {
            return fail(format!("the file request to port {port} failed: {e}"));
        }
        Err(Unanswered::NotClosed(got)) => {
            return fail(format!(
                "no whole answer (bytes, then close) within {:.1} s: {} bytes came back, {}, and the connection stayed open",
                env.deadline(1).as_secs_f64(),
                got.len(),
                show(&got, 40)
            ));
        }
    };
    ctx.note(format!(
        "p < {} ({} bytes), then closed",
        show(&got, 40),
        got.len()
    ));
    if got != bytes {
        let at = got
            .iter()
            .zip(&bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(bytes.len()));
        return fail(format!(
            "the answer is {} bytes, {}, not the file's {} raw bytes (first difference at byte {at})",
            got.len(),
            show(&got, 40),
            bytes.len()
        ));
    }
    Ok(())
}

/// Why a file request got no whole answer.
enum Unanswered {
    Failed(std::io::Error),
    /// What came back before the deadline, the connection still open.
    NotClosed(Vec<u8>),
}

/// Asks the synchronizer at `port` for shared.bin by its bare name, then ends the output; what
/// comes back until the connection closes (at most `max` bytes), within `deadline`.
async fn ask_file(
    ctx: &Ctx,
    port: u16,
    max: usize,
    deadline: Duration,
) -> Result<Vec<u8>, Unanswered> {
    let end = tokio::time::Instant::now() + deadline;
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    let mut conn = match tokio::time::timeout_at(end, connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(Unanswered::Failed(e)),
        Err(_) => return Err(Unanswered::NotClosed(Vec::new())),
    };
    ctx.note(format!("p connected to {port}"));
    ctx.note("p > \"shared.bin\", then ends its output".to_string());
    let sent = async {
        conn.write_all(b"shared.bin").await?;
        conn.shutdown().await
    };
    sent.await.map_err(Unanswered::Failed)?;
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(end, conn.read(&mut chunk)).await {
            Err(_) => return Err(Unanswered::NotClosed(got)),
            Ok(Err(e)) => return Err(Unanswered::Failed(e)),
            Ok(Ok(0)) => return Ok(got),
            Ok(Ok(n)) if got.len() + n > max => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
        }
    }
}
