//! `--check-client`: the client side of the seed's testing scheme. Each case prepares a peer
//! directory with played servers, runs the client under test there with one command on its
//! stdin, and judges its terminal lines, the round robin it used and what it left in
//! served_files/. Played servers also leave or go silent mid-transfer, and the client itself is
//! killed mid-download.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::cases::Case;
use super::causes;
use super::flows::text;
use super::lab::{Lab, ME};
use super::lines;
use super::play::{Behaviour, Fault};
use super::wire::{Checked, Ctx, fail};
use crate::protocol::chunk_count;

/// What every client case needs: the client's command line and how long a case may take.
#[derive(Clone)]
pub struct Env {
    pub command: Arc<Vec<String>>,
    pub case_timeout: Duration,
}

impl Env {
    /// How long the client has to print what a case of `budget` case timeouts waits for (the
    /// rest of the case timeout is for starting, judging and stopping).
    fn deadline(&self, budget: u32) -> Duration {
        self.case_timeout.mul_f64(0.7 * f64::from(budget))
    }
}

/// A case of `budget` case timeouts.
fn case<F>(
    env: &Env,
    id: &'static str,
    section: &'static str,
    title: &'static str,
    seed: &'static str,
    budget: u32,
    f: fn(Ctx, Env, Duration) -> F,
) -> Case
where
    F: Future<Output = Checked> + Send + 'static,
{
    let env = env.clone();
    let deadline = env.deadline(budget);
    Case {
        id,
        section,
        title,
        seed,
        budget,
        run: Box::new(move |ctx| Box::pin(f(ctx, env.clone(), deadline))),
    }
}

pub fn client_cases(env: &Env) -> Vec<Case> {
    vec![
        case(
            env,
            "filelist",
            "IV.1",
            "#FILELIST p2 p3: the seed's lines",
            r##"seed 001 III.6: print all of the sent requests and received replies in the client terminal, using the following format: "Client (peer_id): request_message" and "Server (peer_id): reply_message""##,
            1,
            filelist,
        ),
        case(
            env,
            "offline",
            "III.4",
            "#FILELIST to a server not running: TCP connection ... failed",
            r##"seed 001 III.4: Your client program should be resilient to this exception without failing, print on the terminal "TCP connection to server peer_id failed" for each offline server, and stop trying to connect to these servers."##,
            1,
            offline,
        ),
        case(
            env,
            "upload",
            "IV.2",
            "#UPLOAD f p2 p3: lines, and the bytes that arrive",
            r##"seed 001 II.1 #UPLOAD: the client prints "Uploading file filename" ... step 8: If the reply is "200 File filename received", print "File filename upload success" on the terminal."##,
            1,
            upload,
        ),
        case(
            env,
            "upload-offline",
            "III.4",
            "#UPLOAD to a server not running: the other gets the file",
            r##"seed 001 III.4: some servers in "p1 p2 p3 ..." may not be running ... print on the terminal "TCP connection to server peer_id failed" for each offline server, and stop trying to connect to these servers."##,
            1,
            upload_offline,
        ),
        case(
            env,
            "upload-refused",
            "IV.4",
            "servers answer 250 Already serving / Currently receiving: no chunks sent",
            r##"seed 001 II.1 #UPLOAD step 3: If the reply code is "330", proceed to step 4; otherwise quit."##,
            1,
            upload_refused,
        ),
        case(
            env,
            "upload-left",
            "IV.5",
            "a server dies mid-upload: upload failed to it, success to the other",
            r##"seed 001 II.1 #UPLOAD step 8: If the reply is "200 File filename received", print "File filename upload success" on the terminal. Otherwise, print "File filename upload failed". (IV.5: During the process of uploading, the client or a server is shut down.)"##,
            1,
            upload_left,
        ),
        case(
            env,
            "upload-silent",
            "IV.5",
            "a server goes silent mid-upload: the client gives up on it",
            r##"seed 001 III.3: a peer may leave the system at any time, thus breaking the TCP connection. Your program should be resilient to these exceptions without failing. (IV.5: During the process of uploading, the client or a server is shut down.)"##,
            2,
            upload_silent,
        ),
        case(
            env,
            "upload-missing",
            "IV.6",
            "#UPLOAD of a file not served: Peer p1 does not serve file f",
            r##"seed 001 II.1 #UPLOAD: If the file does not exist, the client program should print "Peer peer_id does not serve file filename" on its terminal, where peer_id is the peer ID of the current peer"##,
            1,
            upload_missing,
        ),
        case(
            env,
            "download",
            "IV.7",
            "#DOWNLOAD f p2 p3 p4: lines, round robin, bytes saved",
            r##"seed 001 II.1 #DOWNLOAD: suppose the list of peers in serving peers set are numbered 0, 1 ,2, ..., and the set size is n; chunk i is downloaded from peer r = i % n. Step 8: save the file into subdirectory "peer_dir/served_files" of the peer, and print "File filename download success" on the terminal."##,
            1,
            download,
        ),
        case(
            env,
            "download-offline",
            "III.4",
            "#DOWNLOAD with a server not running: the other serves it all",
            r##"seed 001 III.4: some servers in "p1 p2 p3 ..." may not be running ... print on the terminal "TCP connection to server peer_id failed" for each offline server, and stop trying to connect to these servers."##,
            1,
            download_offline,
        ),
        case(
            env,
            "download-none",
            "IV.7",
            "no peer serves the file: download failed, peers ... not serving",
            r##"seed 001 II.1 #DOWNLOAD step 4: If the serving peers set is not empty, proceed to step 5. Otherwise, print "File filename download failed, peers p1 p2 p3 ... are not serving the file", and quit."##,
            1,
            download_none,
        ),
        case(
            env,
            "download-left",
            "IV.10",
            "a serving peer dies mid-download: success and the file, or failed and nothing",
            r##"seed 001 II.1 #DOWNLOAD step 8: If all chunks of the file are received, save the file ... and print "File filename download success" on the terminal. Otherwise, print "File filename download failed". (IV.10: During the process of downloading, the client or a server is shut down.)"##,
            1,
            download_left,
        ),
        case(
            env,
            "download-silent",
            "IV.10",
            "a serving peer goes silent mid-download: the client still ends the download",
            r##"seed 001 III.3: a peer may leave the system at any time, thus breaking the TCP connection. Your program should be resilient to these exceptions without failing. (IV.10: During the process of downloading, the client or a server is shut down.)"##,
            2,
            download_silent,
        ),
        case(
            env,
            "download-killed",
            "IV.10",
            "the client is killed mid-download: no partial file in served_files",
            r##"seed 001 III.5: If #UPLOAD or #DOWNLOAD fails, the partially uploaded/downloaded file should be removed from the respective peer. (IV.10: the client ... is shut down.)"##,
            1,
            download_killed,
        ),
        case(
            env,
            "download-exists",
            "IV.11",
            "#DOWNLOAD of a file already served: File f already exists",
            r##"seed 001 II.1 #DOWNLOAD: If the file already exists in "served_files" under the peer directory of this peer, the client prints on its terminal "File filename already exists""##,
            1,
            download_exists,
        ),
    ]
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
    let results = [true, false].map(|ok| crate::protocol::lines::download_result(file, ok));
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

async fn filelist(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
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

async fn offline(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
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

async fn upload(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(250, 1);
    let servers = vec![("p2", serving(&[])), ("p3", serving(&[]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[("up.txt", &data)]).await?;
    let expected = lines::upload("up.txt", data.len() as u64, &["p2", "p3"]);
    judge(&ctx, &lab, "#UPLOAD up.txt p2 p3", &expected, deadline).await?;
    received_exact(&lab, "p2", "up.txt", &data)?;
    received_exact(&lab, "p3", "up.txt", &data)
}

async fn upload_offline(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(180, 5);
    let servers = vec![("p2", serving(&[])), ("p5", None)];
    let lab = Lab::new(&ctx, &env.command, servers, &[("up.txt", &data)]).await?;
    let mut expected = lines::upload("up.txt", data.len() as u64, &["p2"]);
    expected.push(crate::protocol::lines::connection_failed("p5"));
    judge(&ctx, &lab, "#UPLOAD up.txt p2 p5", &expected, deadline).await?;
    received_exact(&lab, "p2", "up.txt", &data)
}

async fn upload_refused(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
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
    let failed = crate::protocol::lines::upload_result("up.txt", false);
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

async fn upload_left(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    upload_cut(&ctx, &env, Fault::Leave, deadline).await
}

async fn upload_silent(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    upload_cut(&ctx, &env, Fault::Silent, deadline).await
}

async fn upload_missing(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let lab = Lab::new(&ctx, &env.command, vec![("p2", serving(&[]))], &[]).await?;
    let expected = vec![crate::protocol::lines::not_serving_locally(
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

async fn download(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
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

async fn download_offline(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(330, 8);
    let servers = vec![("p5", None), ("p2", serving(&[("f4.txt", &data)]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let mut expected = lines::download("f4.txt", data.len() as u64, &["p2"]);
    expected.push(crate::protocol::lines::connection_failed("p5"));
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

async fn download_none(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let servers = vec![("p2", serving(&[])), ("p3", serving(&[]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[]).await?;
    let mut expected = lines::download_round("gone.txt", 0, &[], &["p2", "p3"]);
    expected.push(crate::protocol::lines::nobody_serves(
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
    let success = crate::protocol::lines::download_result("f2.txt", true);
    let failure = crate::protocol::lines::download_result("f2.txt", false);
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

async fn download_left(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    download_cut(&ctx, &env, Fault::Leave, deadline).await
}

async fn download_silent(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    download_cut(&ctx, &env, Fault::Silent, deadline).await
}

/// The client is killed (SIGKILL, its whole process group) after 4 of 40 chunks: whatever it
/// had received must not be in served_files/ under the file's name (its server would serve it,
/// and a new #DOWNLOAD would answer "already exists"). Another file left there is a deviation.
async fn download_killed(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
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

async fn download_exists(ctx: Ctx, env: Env, deadline: Duration) -> Checked {
    let data = text(120, 4);
    let servers = vec![("p2", serving(&[("mine.txt", &data)]))];
    let lab = Lab::new(&ctx, &env.command, servers, &[("mine.txt", &data)]).await?;
    let expected = vec![crate::protocol::lines::already_exists("mine.txt")];
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
