//! `--check-client`: the client side of the seed's testing scheme. Each case prepares a peer
//! directory with played servers, runs the client under test there with one command on its
//! stdin, and judges its terminal lines, the round robin it used and what it left in
//! served_files/.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::cases::Case;
use super::flows::text;
use super::lab::{Lab, ME};
use super::lines;
use super::play::Behaviour;
use super::wire::{Checked, Ctx, fail};
use crate::protocol::chunk_count;

/// What every client case needs: the client's command line and how long it may take.
#[derive(Clone)]
pub struct Env {
    pub command: Arc<Vec<String>>,
    pub deadline: Duration,
}

fn case<F>(
    env: &Env,
    id: &'static str,
    section: &'static str,
    title: &'static str,
    f: fn(Ctx, Env) -> F,
) -> Case
where
    F: Future<Output = Checked> + Send + 'static,
{
    let env = env.clone();
    Case {
        id,
        section,
        title,
        run: Box::new(move |ctx| Box::pin(f(ctx, env.clone()))),
    }
}

pub fn client_cases(env: &Env) -> Vec<Case> {
    vec![
        case(
            env,
            "filelist",
            "IV.1",
            "#FILELIST p2 p3: the seed's lines",
            filelist,
        ),
        case(
            env,
            "offline",
            "III.4",
            "a server that is not running: TCP connection ... failed",
            offline,
        ),
        case(
            env,
            "upload",
            "IV.2",
            "#UPLOAD f p2 p3: lines, and the bytes that arrive",
            upload,
        ),
        case(
            env,
            "upload-missing",
            "IV.6",
            "#UPLOAD of a file not served: Peer p1 does not serve file f",
            upload_missing,
        ),
        case(
            env,
            "download",
            "IV.7",
            "#DOWNLOAD f p2 p3 p4: lines, round robin, bytes saved",
            download,
        ),
        case(
            env,
            "download-none",
            "IV.7",
            "no peer serves the file: download failed, peers ... not serving",
            download_none,
        ),
        case(
            env,
            "download-left",
            "IV.10",
            "a serving peer leaves mid-download: the others finish it",
            download_left,
        ),
        case(
            env,
            "download-exists",
            "IV.11",
            "#DOWNLOAD of a file already served: File f already exists",
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
        leave_after_chunks: None,
    })
}

/// Runs `input` and compares the lines with `expected` (every one printed, and no other line
/// that looks like a seed line).
async fn judge(ctx: &Ctx, env: &Env, lab: &Lab, input: &str, expected: &[String]) -> Checked {
    let got = lab.run(ctx, input, expected, env.deadline).await?;
    let missing = lines::missing(expected, &got);
    if !missing.is_empty() {
        return fail(format!(
            "for \"{input}\" the client did not print {} of the seed's lines, e.g. \"{}\"",
            missing.len(),
            missing[0]
        ));
    }
    let unexpected = lines::unexpected(expected, &got);
    if !unexpected.is_empty() {
        return fail(format!(
            "for \"{input}\" the client printed {} line(s) the seed does not give, e.g. \"{}\"",
            unexpected.len(),
            unexpected[0]
        ));
    }
    Ok(())
}

async fn filelist(ctx: Ctx, env: Env) -> Checked {
    let servers = vec![
        ("p2", serving(&[("a.txt", b"a"), ("b.txt", b"b")])),
        ("p3", serving(&[])),
    ];
    let lab = Lab::new(&env.command, servers, &[]).await?;
    let expected = lines::filelist(&[
        ("p2", Some(vec!["a.txt".into(), "b.txt".into()])),
        ("p3", Some(vec![])),
    ]);
    judge(&ctx, &env, &lab, "#FILELIST p2 p3", &expected).await
}

async fn offline(ctx: Ctx, env: Env) -> Checked {
    let servers = vec![("p2", serving(&[("a.txt", b"a")])), ("p5", None)];
    let lab = Lab::new(&env.command, servers, &[]).await?;
    let expected = lines::filelist(&[("p2", Some(vec!["a.txt".into()])), ("p5", None)]);
    judge(&ctx, &env, &lab, "#FILELIST p2 p5", &expected).await
}

async fn upload(ctx: Ctx, env: Env) -> Checked {
    let data = text(250, 1);
    let servers = vec![("p2", serving(&[])), ("p3", serving(&[]))];
    let lab = Lab::new(&env.command, servers, &[("up.txt", &data)]).await?;
    let expected = lines::upload("up.txt", data.len() as u64, &["p2", "p3"]);
    judge(&ctx, &env, &lab, "#UPLOAD up.txt p2 p3", &expected).await?;
    for peer in ["p2", "p3"] {
        let got = lab.seen[peer]
            .lock()
            .ok()
            .and_then(|s| s.uploaded.get("up.txt").cloned());
        if got.as_deref() != Some(&data[..]) {
            return fail(format!(
                "{peer} did not receive the 250 bytes of up.txt intact"
            ));
        }
    }
    Ok(())
}

async fn upload_missing(ctx: Ctx, env: Env) -> Checked {
    let lab = Lab::new(&env.command, vec![("p2", serving(&[]))], &[]).await?;
    let expected = vec![crate::protocol::lines::not_serving_locally(
        ME,
        "nothere.txt",
    )];
    judge(&ctx, &env, &lab, "#UPLOAD nothere.txt p2", &expected).await
}

async fn download(ctx: Ctx, env: Env) -> Checked {
    let data = text(950, 2);
    let file: &[(&str, &[u8])] = &[("f1.txt", &data)];
    let peers = ["p2", "p3", "p4"];
    let servers = peers.iter().map(|p| (*p, serving(file))).collect();
    let lab = Lab::new(&env.command, servers, &[]).await?;
    let expected = lines::download("f1.txt", data.len() as u64, &peers);
    judge(&ctx, &env, &lab, "#DOWNLOAD f1.txt p2 p3 p4", &expected).await?;
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
    saved_exact(&lab, "f1.txt", &data)
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

async fn download_none(ctx: Ctx, env: Env) -> Checked {
    let servers = vec![("p2", serving(&[])), ("p3", serving(&[]))];
    let lab = Lab::new(&env.command, servers, &[]).await?;
    let mut expected = lines::download_round("gone.txt", 0, &[], &["p2", "p3"]);
    expected.push(crate::protocol::lines::nobody_serves(
        "gone.txt",
        &["p2".into(), "p3".into()],
    ));
    judge(&ctx, &env, &lab, "#DOWNLOAD gone.txt p2 p3", &expected).await?;
    if !lab.served_names().is_empty() {
        return fail(format!("served_files/ holds {:?}", lab.served_names()));
    }
    Ok(())
}

async fn download_left(ctx: Ctx, env: Env) -> Checked {
    let data = text(1000, 3);
    let file: &[(&str, &[u8])] = &[("f2.txt", &data)];
    let mut leaving = serving(file);
    if let Some(b) = leaving.as_mut() {
        b.leave_after_chunks = Some(2);
    }
    let lab = Lab::new(
        &env.command,
        vec![("p2", serving(file)), ("p3", leaving)],
        &[],
    )
    .await?;
    let mut expected = lines::download_round("f2.txt", data.len() as u64, &["p2", "p3"], &[]);
    expected.push(crate::protocol::lines::download_result("f2.txt", true));
    let got = lab
        .run(&ctx, "#DOWNLOAD f2.txt p2 p3", &expected, env.deadline)
        .await?;
    let missing = lines::missing(&expected, &got);
    if let Some(line) = missing.first() {
        return fail(format!(
            "after p3 left mid-download the client did not print \"{line}\""
        ));
    }
    saved_exact(&lab, "f2.txt", &data)
}

async fn download_exists(ctx: Ctx, env: Env) -> Checked {
    let data = text(120, 4);
    let servers = vec![("p2", serving(&[("mine.txt", &data)]))];
    let lab = Lab::new(&env.command, servers, &[("mine.txt", &data)]).await?;
    let expected = vec![crate::protocol::lines::already_exists("mine.txt")];
    judge(&ctx, &env, &lab, "#DOWNLOAD mine.txt p2", &expected).await
}
