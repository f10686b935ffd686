//! `--check-client`: the client side of the seed's testing scheme. Each case prepares a peer
//! directory with played servers, runs the client under test there with one command on its
//! stdin, and judges its terminal lines, the round robin it used and what it left in
//! served_files/. Played servers also leave or go silent mid-transfer, and the client itself is
//! killed mid-download.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::causes;
use super::flows::text;
use super::lab::{Lab, ME};
use super::lines;
use super::play::{Behaviour, Fault};
use super::wire::{Checked, Ctx, fail};
use crate::core::protocol::chunk_count;

/// What every client case needs: the client's command line and how long a case may take.
#[derive(Clone)]
pub struct Env {
    pub command: Arc<Vec<String>>,
    pub case_timeout: Duration,
}

impl Env {
    /// How long the client has to print what a case of `budget` case timeouts waits for (the
    /// rest of the case timeout is for starting, judging and stopping).
    pub(super) fn deadline(&self, budget: u32) -> Duration {
        self.case_timeout.mul_f64(0.7 * f64::from(budget))
    }
}

fn serving(files: &[(&str, &[u8])]) -> Option<Behaviour> {
    Some(Behaviour {
        files: files
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect::<HashMap<_, _>>(),
        ..Behaviour::default()
    })
}

/// A server with `files` that leaves or goes silent on the chunk request after `after`.
fn faulty(files: &[(&str, &[u8])], after: usize, fault: Fault) -> Option<Behaviour> {
    serving(files).map(|b| Behaviour {
        fault_after_chunks: Some((after, fault)),
        ..b
    })
}

/// Runs `input` and compares the lines with `expected` (every one printed, and no other line
/// that looks like a seed line).
async fn judge(
    ctx: &Ctx,
    lab: &Lab,
    input: &str,
    expected: &[String],
    deadline: Duration,
) -> Checked {
    let got = lab.run(ctx, input, expected, deadline).await?;
    compare(ctx, input, &got, expected, &[])
}

/// Runs a `#DOWNLOAD` until every `expected` line or its result line (`File f download ...`)
/// is printed; its lines.
async fn run_download(
    ctx: &Ctx,
    lab: &Lab,
    input: &str,
    file: &str,
    expected: &[String],
    deadline: Duration,
) -> Checked<Vec<String>> {
    let results = [true, false].map(|ok| crate::core::protocol::lines::download_result(file, ok));
    let mut client = lab.start(ctx, input).await?;
    let done = |got: &[String]| {
        lines::missing(expected, got).is_empty() || results.iter().any(|r| got.contains(r))
    };
    client.wait_for(ctx, done, deadline).await;
    Ok(client.finish(ctx).await)
}

/// Every `expected` line printed, and no seed line that is neither expected nor `optional`.
fn compare(
    ctx: &Ctx,
    input: &str,
    got: &[String],
    expected: &[String],
    optional: &[String],
) -> Checked {
    let missing = lines::missing(expected, got);
    let allowed: Vec<String> = expected.iter().chain(optional).cloned().collect();
    let unexpected = lines::unexpected(&allowed, got);
    if !(missing.is_empty() && unexpected.is_empty()) {
        ctx.failure_kind(causes::OTHER_LINES);
    }
    if !missing.is_empty() {
        return fail(format!(
            "for \"{input}\" the client did not print {} of the seed's lines, e.g. \"{}\"",
            missing.len(),
            missing[0]
        ));
    }
    if !unexpected.is_empty() {
        return fail(format!(
            "for \"{input}\" the client printed {} line(s) the seed does not give, e.g. \"{}\"",
            unexpected.len(),
            unexpected[0]
        ));
    }
    Ok(())
}

pub(super) async fn filelist(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let servers = vec![
        ("p2", serving(&[("a.txt", b"a"), ("b.txt", b"b")])),
        ("p3", serving(&[])),
    ];
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let expected = lines::filelist(&[
        ("p2", Some(vec!["a.txt".into(), "b.txt".into()])),
        ("p3", Some(vec![])),
    ]);
    judge(&ctx, &lab, "#FILELIST p2 p3", &expected, deadline).await
}

pub(super) async fn offline(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let servers = vec![("p2", serving(&[("a.txt", b"a")])), ("p5", None)];
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let expected = lines::filelist(&[("p2", Some(vec!["a.txt".into()])), ("p5", None)]);
    judge(&ctx, &lab, "#FILELIST p2 p5", &expected, deadline).await
}

/// What `peer` received of `name` is exactly `data`.
fn received_exact(lab: &Lab, peer: &str, name: &str, data: &[u8]) -> Checked {
    let got = lab.seen[peer]
        .lock()
        .ok()
        .and_then(|s| s.uploaded.get(name).cloned());
    if got.as_deref() != Some(data) {
        return fail(format!(
            "{peer} did not receive the {} bytes of {name} intact",
            data.len()
        ));
    }
    Ok(())
}

pub(super) async fn upload(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(250, 1);
    let servers = vec![("p2", serving(&[])), ("p3", serving(&[]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[("up.txt", &data)]).await?;
    let expected = lines::upload("up.txt", data.len() as u64, &["p2", "p3"]);
    judge(&ctx, &lab, "#UPLOAD up.txt p2 p3", &expected, deadline).await?;
    received_exact(&lab, "p2", "up.txt", &data)?;
    received_exact(&lab, "p3", "up.txt", &data)
}

pub(super) async fn upload_offline(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(180, 5);
    let servers = vec![("p2", serving(&[])), ("p5", None)];
    let lab = Lab::new(&ctx, &env.command, servers, &[("up.txt", &data)]).await?;
    let mut expected = lines::upload("up.txt", data.len() as u64, &["p2"]);
    expected.push(crate::core::protocol::lines::connection_failed("p5"));
    judge(&ctx, &lab, "#UPLOAD up.txt p2 p5", &expected, deadline).await?;
    received_exact(&lab, "p2", "up.txt", &data)
}

pub(super) async fn upload_refused(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(220, 6);
    let receiving = Behaviour {
        receiving: vec!["up.txt".into()],
        ..Behaviour::default()
    };
    let servers = vec![
        ("p2", serving(&[("up.txt", &data)])),
        ("p3", Some(receiving)),
    ];
    let lab = Lab::new(&ctx, &env.command, servers, &[("up.txt", &data)]).await?;
    let expected = lines::upload_refused(
        "up.txt",
        data.len() as u64,
        &[
            ("p2", "250 Already serving file up.txt".into()),
            ("p3", "250 Currently receiving file up.txt".into()),
        ],
    );
    judge(&ctx, &lab, "#UPLOAD up.txt p2 p3", &expected, deadline).await
}

/// `#UPLOAD up.txt p2 p3` where p3 leaves or goes silent instead of acknowledging chunk 2.
async fn upload_cut(ctx: &Ctx, env: &Env, fault: Fault, deadline: Duration) -> Checked {
    let data = text(450, 7);
    let size = data.len() as u64;
    let servers = vec![("p2", serving(&[])), ("p3", faulty(&[], 2, fault))];
    let lab = Lab::new(ctx, &env.command, servers, &[("up.txt", &data)]).await?;
    let mut expected = lines::upload("up.txt", size, &["p2"]);
    expected.extend(lines::upload_cut("up.txt", size, "p3", 2));
    let optional = lines::upload_unanswered("up.txt", size, "p3", 2);
    let input = "#UPLOAD up.txt p2 p3";
    let failed = crate::core::protocol::lines::upload_result("up.txt", false);
    let mut client = lab.start(ctx, input).await?;
    let given_up = |got: &[String]| got.contains(&failed);
    if fault == Fault::Silent && !client.wait_for(ctx, given_up, deadline).await {
        return fail(format!(
            "p3 went silent after 2 chunks and the client did not give up on it (no \"{failed}\") {}: a server that stops answering hangs it",
            client.stopped(deadline)
        ));
    }
    client
        .wait_for(
            ctx,
            |got| lines::missing(&expected, got).is_empty(),
            deadline,
        )
        .await;
    let got = client.finish(ctx).await;
    compare(ctx, input, &got, &expected, &optional)?;
    received_exact(&lab, "p2", "up.txt", &data)
}

pub(super) async fn upload_left(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    upload_cut(&ctx, &env, Fault::Leave, deadline).await
}

pub(super) async fn upload_silent(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    upload_cut(&ctx, &env, Fault::Silent, deadline).await
}

pub(super) async fn upload_missing(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let lab = Lab::new(&ctx, &env.command, vec![("p2", serving(&[]))], &[]).await?;
    let expected = vec![crate::core::protocol::lines::not_serving_locally(
        ME,
        "nothere.txt",
    )];
    judge(&ctx, &lab, "#UPLOAD nothere.txt p2", &expected, deadline).await?;
    let asked = lab.seen["p2"].lock().map(|s| s.requests).unwrap_or(0);
    if asked > 0 {
        return fail("the client sent p2 a request for a file it does not have");
    }
    Ok(())
}

pub(super) async fn download(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(950, 2);
    let file: &[(&str, &[u8])] = &[("f1.txt", &data)];
    let peers = ["p2", "p3", "p4"];
    let servers = peers.iter().map(|p| (*p, serving(file))).collect();
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let expected = lines::download("f1.txt", data.len() as u64, &peers);
    let input = "#DOWNLOAD f1.txt p2 p3 p4";
    let got = run_download(&ctx, &lab, input, "f1.txt", &expected, deadline).await?;
    for (r, peer) in peers.iter().enumerate() {
        let mut asked = lab.seen[*peer]
            .lock()
            .map(|s| s.chunks_asked.clone())
            .unwrap_or_default();
        asked.sort_unstable();
        let owed: Vec<u64> = (0..chunk_count(data.len() as u64))
            .filter(|i| *i as usize % peers.len() == r)
            .collect();
        if asked != owed {
            return fail(format!(
                "round robin: {peer} (serving peer {r} of 3) was asked for chunks {asked:?}, not {owed:?}"
            ));
        }
    }
    compare(&ctx, input, &got, &expected, &[])?;
    saved_exact(&lab, "f1.txt", &data)
}

pub(super) async fn download_offline(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(330, 8);
    let servers = vec![("p5", None), ("p2", serving(&[("f4.txt", &data)]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let mut expected = lines::download("f4.txt", data.len() as u64, &["p2"]);
    expected.push(crate::core::protocol::lines::connection_failed("p5"));
    let input = "#DOWNLOAD f4.txt p5 p2";
    let got = run_download(&ctx, &lab, input, "f4.txt", &expected, deadline).await?;
    compare(&ctx, input, &got, &expected, &[])?;
    saved_exact(&lab, "f4.txt", &data)
}

fn saved_exact(lab: &Lab, name: &str, data: &[u8]) -> Checked {
    if lab.served(name).as_deref() != Some(data) {
        return fail(format!(
            "served_files/{name} is not the {} bytes served (files there: {:?})",
            data.len(),
            lab.served_names()
        ));
    }
    if lab.served_names() != [name] {
        return fail(format!(
            "served_files/ holds more than {name}: {:?}",
            lab.served_names()
        ));
    }
    Ok(())
}

pub(super) async fn download_none(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let servers = vec![("p2", serving(&[])), ("p3", serving(&[]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let mut expected = lines::download_round("gone.txt", 0, &[], &["p2", "p3"]);
    expected.push(crate::core::protocol::lines::nobody_serves(
        "gone.txt",
        &["p2".into(), "p3".into()],
    ));
    judge(&ctx, &lab, "#DOWNLOAD gone.txt p2 p3", &expected, deadline).await?;
    if !lab.served_names().is_empty() {
        return fail(format!("served_files/ holds {:?}", lab.served_names()));
    }
    Ok(())
}

/// `#DOWNLOAD f2.txt p2 p3` where p3 leaves or goes silent instead of sending its third chunk.
/// The seed allows either end: `File f2.txt download success` with the file whole (the others
/// took p3's chunks over), or `File f2.txt download failed` with nothing left in served_files.
async fn download_cut(ctx: &Ctx, env: &Env, fault: Fault, deadline: Duration) -> Checked {
    let data = text(1000, 3);
    let size = data.len() as u64;
    let file: &[(&str, &[u8])] = &[("f2.txt", &data)];
    let servers = vec![("p2", serving(file)), ("p3", faulty(file, 2, fault))];
    let lab = Lab::new(ctx, &env.command, servers, &[]).await?;
    let input = "#DOWNLOAD f2.txt p2 p3";
    let success = crate::core::protocol::lines::download_result("f2.txt", true);
    let failure = crate::core::protocol::lines::download_result("f2.txt", false);
    let mut client = lab.start(ctx, input).await?;
    let ended = |got: &[String]| got.contains(&success) || got.contains(&failure);
    if !client.wait_for(ctx, ended, deadline).await {
        let what = match fault {
            Fault::Leave => "left",
            Fault::Silent => "went silent",
        };
        return fail(format!(
            "p3 {what} after 2 chunks and the client printed neither \"{success}\" nor \"{failure}\" {}",
            client.stopped(deadline)
        ));
    }
    let got = client.finish(ctx).await;
    let succeeded = got.contains(&success);
    let mut expected = lines::download_round("f2.txt", size, &["p2", "p3"], &[]);
    expected.push(if succeeded { success } else { failure });
    let optional = lines::download_any_chunk("f2.txt", size, &["p2", "p3"]);
    compare(ctx, input, &got, &expected, &optional)?;
    if succeeded {
        return saved_exact(&lab, "f2.txt", &data);
    }
    ctx.note("(the client gave the download up, as the seed allows)".into());
    if !lab.served_names().is_empty() {
        return fail(format!(
            "the download failed but served_files/ holds {:?} (a partial file)",
            lab.served_names()
        ));
    }
    Ok(())
}

pub(super) async fn download_left(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    download_cut(&ctx, &env, Fault::Leave, deadline).await
}

pub(super) async fn download_silent(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    download_cut(&ctx, &env, Fault::Silent, deadline).await
}

/// The client is killed (SIGKILL, its whole process group) after 4 of 40 chunks: whatever it
/// had received must not be in served_files/ under the file's name (its server would serve it,
/// and a new #DOWNLOAD would answer "already exists"). Another file left there is a deviation.
pub(super) async fn download_killed(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(4000, 9);
    let file: &[(&str, &[u8])] = &[("f3.txt", &data)];
    let slow = |b: Option<Behaviour>| {
        b.map(|b| Behaviour {
            chunk_delay: Duration::from_millis(50),
            ..b
        })
    };
    let servers = vec![("p2", slow(serving(file))), ("p3", slow(serving(file)))];
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let mut client = lab.start(&ctx, "#DOWNLOAD f3.txt p2 p3").await?;
    let asked = || {
        ["p2", "p3"]
            .iter()
            .map(|p| {
                lab.seen[*p]
                    .lock()
                    .map(|s| s.chunks_asked.len())
                    .unwrap_or(0)
            })
            .sum::<usize>()
    };
    let end = tokio::time::Instant::now() + deadline;
    while asked() < 4 {
        if client.exited || tokio::time::Instant::now() >= end {
            return fail(format!(
                "the client asked for {} chunks of f3.txt {}; it was to be killed after 4",
                asked(),
                client.stopped(deadline)
            ));
        }
        client
            .wait_for(&ctx, |_| false, Duration::from_millis(10))
            .await;
    }
    client.kill().await;
    let at = asked();
    ctx.note(format!(
        "(the client is killed after {at} of 40 chunks were asked for)"
    ));
    if at >= 40 {
        return fail("the client had asked for every chunk before it could be killed");
    }
    drop(client);
    nothing_partial_served(&ctx, &lab)
}

/// After the kill: the file's name must not be in served_files/; another file there is a
/// deviation.
fn nothing_partial_served(ctx: &Ctx, lab: &Lab) -> Checked {
    let left = lab.served_names();
    if left.iter().any(|n| n == "f3.txt") {
        let size = lab.served("f3.txt").map(|d| d.len()).unwrap_or(0);
        return fail(format!(
            "killed mid-download, the client left served_files/f3.txt ({size} of 4000 bytes): a partial file its server would serve"
        ));
    }
    if !left.is_empty() {
        ctx.deviation(
            "leftover after kill",
            format!(
                "killed mid-download, the client left {left:?} in served_files/ (not the file's name, but its server lists it); keep partial files elsewhere"
            ),
        );
    }
    Ok(())
}

pub(super) async fn download_exists(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(120, 4);
    let servers = vec![("p2", serving(&[("mine.txt", &data)]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[("mine.txt", &data)]).await?;
    let expected = vec![crate::core::protocol::lines::already_exists("mine.txt")];
    judge(&ctx, &lab, "#DOWNLOAD mine.txt p2", &expected, deadline).await?;
    let asked = lab.seen["p2"].lock().map(|s| s.requests).unwrap_or(0);
    if asked > 0 {
        return fail("the client sent p2 a request for a file it already serves");
    }
    if lab.served("mine.txt").as_deref() != Some(&data[..]) {
        return fail("served_files/mine.txt changed");
    }
    Ok(())
}
