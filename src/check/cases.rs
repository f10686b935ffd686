//! The server side of the seed's testing scheme (section IV) and the edge cases the seed implies,
//! one async function per case. Each case uploads files of its own (unique names per run), so
//! cases do not depend on each other.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::future::try_join_all;

use super::flows::{
    binary, download, download_chunk, download_exact, download_start, filelist, served_size, text,
    upload, upload_accepted, upload_chunk, upload_rest, upload_start,
};
use super::wire::{Checked, Ctx, Session, fail};
use crate::core::protocol::{Expect, Reply, Request};

pub type CaseFuture = Pin<Box<dyn Future<Output = Checked> + Send>>;

/// One case: a stable id, the seed section it checks, what it checks.
pub struct Case {
    pub id: &'static str,
    pub section: &'static str,
    pub title: &'static str,
    /// The seed's words the case checks (every report names them).
    pub seed: &'static str,
    /// How many case timeouts it may take (2 where the implementation is allowed a timeout of
    /// its own, e.g. a client giving up on a silent server).
    pub budget: u32,
    pub run: Box<dyn Fn(Ctx) -> CaseFuture + Send + Sync>,
}

fn case<F>(
    id: &'static str,
    section: &'static str,
    title: &'static str,
    seed: &'static str,
    f: fn(Ctx) -> F,
) -> Case
where
    F: Future<Output = Checked> + Send + 'static,
{
    Case {
        id,
        section,
        title,
        seed,
        budget: 1,
        run: Box::new(move |ctx| Box::pin(f(ctx))),
    }
}

/// Each kind of deviation and the case whose subject it is, where it is reported (other cases
/// tolerate it once it is; see `attribute_deviations`).
pub const DEVIATION_HOMES: &[(&str, &str)] = &[
    ("line end", "filelist"),
    ("end marker", "upload"),
    ("330 without file", "download"),
    ("closed on a bad chunk", "chunk-out-of-range"),
];

/// The server cases, in the order of the seed's testing scheme; `file`: a file the server
/// already serves, to download as well.
pub fn server_cases(file: Option<String>) -> Vec<Case> {
    let mut cases = vec![
        case(
            "filelist",
            "IV.1",
            "#FILELIST: 200 Files served: names",
            r##"seed 001 II.1 #FILELIST step 2: Reply "200 Files served: f1.txt f2.txt f3.txt ..." ("f1.txt f2.txt f3.txt ..." are all the files stored in subdirectory "peer_id/served_files" of the server)."##,
            filelist_case,
        ),
        case(
            "upload",
            "IV.2",
            "#UPLOAD of a new file, then listed and downloadable",
            r##"seed 001 II.1 #UPLOAD step 7: If all chunks are received, save the file in subdirectory "peer_dir/served_files" of the server, and reply "200 File filename received". Upon successful completion of #UPLOAD, the file should appear in the subdirectory "peer_dir/served_files" of the respective servers."##,
            upload_new,
        ),
        case(
            "upload-served",
            "IV.2",
            "#UPLOAD of a file already served: 250 Already serving",
            r##"seed 001 II.1 #UPLOAD step 2: If the server is already serving the file, i.e., the file exists in subdirectory "served_files" of its peer directory, reply "250 Already serving file filename"."##,
            upload_served,
        ),
        case(
            "upload-many",
            "IV.3",
            "several clients upload different files at once",
            r##"seed 001 II.1: it is possible for a server to be receiving different files simultaneously from multiple clients. (IV.3: Multiple clients upload different files to the same server.)"##,
            upload_many,
        ),
        case(
            "upload-same",
            "IV.4",
            "#UPLOAD of a file being received: 250; of another: 330",
            r##"seed 001 II.1 #UPLOAD step 2: If the server is receiving the same file in handling another #UPLOAD request, reply "250 Currently receiving file filename". (IV.4: ... or a different file that the server is not serving (server should accept).)"##,
            upload_same,
        ),
        case(
            "upload-left",
            "IV.5",
            "uploader leaves mid-upload: nothing visible, name released",
            r##"seed 001 III.2: When a peer owns only some chunks of a file, e.g., when #UPLOAD is still in progress, it is not considered to be able to serve the file. III.5: If #UPLOAD or #DOWNLOAD fails, the partially uploaded/downloaded file should be removed from the respective peer."##,
            upload_left,
        ),
        case(
            "download",
            "IV.7",
            "#DOWNLOAD, every chunk, round robin over 3 clients",
            r##"seed 001 II.1 #DOWNLOAD step 6: Reply "200 File filename chunk i xxxxxx", where xxxxxx is the actual content of chunk i. (IV.7: Download a file from multiple servers.)"##,
            download_case,
        ),
        case(
            "download-many",
            "IV.8",
            "several clients download at once",
            r##"seed 001 II.2: Upon receipt of a TCP connection request from a client, the server creates a new connection socket delegated to this client, and a new thread to handle the socket. (IV.8: Multiple clients download files from the same server.)"##,
            download_many,
        ),
        case(
            "download-receiving",
            "IV.9",
            "#DOWNLOAD of a file being received: 250; of another: 330",
            r##"seed 001 II.1: When #UPLOAD is not yet completed, any further #UPLOAD or #DOWNLOAD requests for the same file will be turned down by a respective server. (IV.9: ... or a different file that the server is serving (server should accept).)"##,
            download_receiving,
        ),
        case(
            "download-left",
            "IV.10",
            "downloader leaves mid-download: server serves on",
            r##"seed 001 III.3: a peer may leave the system at any time, thus breaking the TCP connection. Your program should be resilient to these exceptions without failing."##,
            download_left,
        ),
        case(
            "download-unknown",
            "II.1",
            "#DOWNLOAD of a file not served: 250 Not serving file",
            r##"seed 001 II.1 #DOWNLOAD step 2: If the server serves the file ... reply "330 Ready to send file filename bytes xxx". Otherwise, reply "250 Not serving file filename"."##,
            download_unknown,
        ),
        case(
            "empty-file",
            "II.1",
            "a 0-byte file: no chunks, 200 File f received",
            r##"seed 001 II.1: The size of each chunk in our system is 100 bytes, except that the last chunk has the size of the remaining part of the file."##,
            empty_file,
        ),
        case(
            "one-byte-file",
            "II.1",
            "a 1-byte file",
            r##"seed 001 II.1: The size of each chunk in our system is 100 bytes, except that the last chunk has the size of the remaining part of the file."##,
            one_byte,
        ),
        case(
            "full-last-chunk",
            "II.1",
            "a last chunk of exactly 100 bytes",
            r##"seed 001 II.1: The size of each chunk in our system is 100 bytes, except that the last chunk has the size of the remaining part of the file."##,
            full_last_chunk,
        ),
        case(
            "binary-bytes",
            "II.1",
            "#, NUL, invalid UTF-8 at chunk boundaries, byte-exact",
            r##"seed 001 II.1 #UPLOAD step 4: "#UPLOAD filename chunk i xxxxxx", where xxxxxx is the actual content of the ith chunk; #DOWNLOAD step 6: "200 File filename chunk i xxxxxx", where xxxxxx is the actual content of chunk i."##,
            binary_bytes,
        ),
        case(
            "chunk-out-of-range",
            "II.1",
            "#DOWNLOAD f chunk i past the end: a 250 error, server serves on",
            r##"seed 001 II.1: The status codes to be used in a reply message include: ... 250 — indicating errors"##,
            out_of_range,
        ),
    ];
    if let Some(name) = file {
        cases.push(Case {
            id: "download-named",
            section: "IV.7",
            title: "#DOWNLOAD of the file named by --file",
            seed: r##"seed 001 II.1 #DOWNLOAD step 2: If the server serves the file, i.e., the file exists in subdirectory "served_files" of its peer directory, reply "330 Ready to send file filename bytes xxx"."##,
            budget: 1,
            run: Box::new(move |ctx| Box::pin(download_named(ctx, name.clone()))),
        });
    }
    cases
}

async fn filelist_case(ctx: Ctx) -> Checked {
    filelist(&ctx).await.map(|_| ())
}

async fn upload_new(ctx: Ctx) -> Checked {
    let (name, data) = (ctx.name("upload"), text(250, 1));
    upload(&ctx, &name, &data).await?;
    let names = filelist(&ctx).await?;
    if !names.contains(&name) {
        return fail(format!(
            "{name} was uploaded but #FILELIST does not list it"
        ));
    }
    download_exact(&ctx, &name, 1, &data).await
}

async fn upload_served(ctx: Ctx) -> Checked {
    let (name, data) = (ctx.name("served"), text(120, 2));
    upload(&ctx, &name, &data).await?;
    let mut s = Session::open(&ctx).await?;
    match upload_start(&mut s, &name, data.len() as u64).await? {
        Reply::AlreadyServing { file } if file == name => Ok(()),
        other => fail(format!(
            "a second #UPLOAD of {name} answered \"{other}\", not \"250 Already serving file {name}\""
        )),
    }
}

async fn upload_many(ctx: Ctx) -> Checked {
    let files: Vec<(String, Vec<u8>)> = (0..3u8)
        .map(|i| {
            (
                ctx.name(&format!("many{i}")),
                text(230 + usize::from(i) * 40, i),
            )
        })
        .collect();
    // All three announced first, then their chunks interleave.
    let mut sessions = Vec::new();
    for (name, data) in &files {
        sessions.push(upload_accepted(&ctx, name, data.len() as u64).await?);
    }
    let uploads = sessions
        .into_iter()
        .zip(&files)
        .map(|(s, (name, data))| upload_rest(&ctx, s, name, data, 0));
    try_join_all(uploads).await?;
    for (name, data) in &files {
        download_exact(&ctx, name, 1, data).await?;
    }
    Ok(())
}

async fn upload_same(ctx: Ctx) -> Checked {
    let (name, data) = (ctx.name("same"), text(300, 3));
    let mut first = upload_accepted(&ctx, &name, data.len() as u64).await?;
    upload_chunk(&mut first, &name, &data, 0).await?;
    let mut second = Session::open(&ctx).await?;
    match upload_start(&mut second, &name, data.len() as u64).await? {
        Reply::CurrentlyReceiving { file } if file == name => {}
        other => {
            return fail(format!(
                "#UPLOAD of {name} while it is being received answered \"{other}\", not \"250 Currently receiving file {name}\""
            ));
        }
    }
    drop(second);
    let (other, other_data) = (ctx.name("same-other"), text(150, 4));
    upload(&ctx, &other, &other_data).await?;
    upload_rest(&ctx, first, &name, &data, 1).await?;
    download_exact(&ctx, &name, 1, &data).await?;
    download_exact(&ctx, &other, 1, &other_data).await
}

async fn upload_left(ctx: Ctx) -> Checked {
    let (name, data) = (ctx.name("left"), text(350, 5));
    let mut s = upload_accepted(&ctx, &name, data.len() as u64).await?;
    upload_chunk(&mut s, &name, &data, 0).await?;
    upload_chunk(&mut s, &name, &data, 1).await?;
    drop(s);
    ctx.note("(the uploader leaves after 2 of 4 chunks)".into());
    tokio::time::sleep(ctx.grace / 2).await;
    if filelist(&ctx).await?.contains(&name) {
        return fail(format!(
            "#FILELIST lists {name} after its uploader left mid-upload (a partial file)"
        ));
    }
    if let Some(size) = served_size(&ctx, &name).await? {
        return fail(format!(
            "#DOWNLOAD {name} offers {size} bytes of a partial file whose uploader left"
        ));
    }
    let s = accepted_again(&ctx, &name, data.len() as u64).await?;
    upload_rest(&ctx, s, &name, &data, 0).await?;
    download_exact(&ctx, &name, 1, &data).await
}

/// A new `#UPLOAD` of a name whose uploader left: accepted once the server has noticed.
async fn accepted_again(ctx: &Ctx, name: &str, size: u64) -> Checked<Session> {
    let deadline = tokio::time::Instant::now() + ctx.grace * 2;
    loop {
        let mut s = Session::open(ctx).await?;
        match upload_start(&mut s, name, size).await? {
            Reply::ReadyToReceive { .. } => return Ok(s),
            Reply::CurrentlyReceiving { .. } if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => {
                return fail(format!(
                    "#UPLOAD {name} after its first uploader left answered \"{other}\": the partial upload was not released"
                ));
            }
        }
    }
}

async fn download_case(ctx: Ctx) -> Checked {
    let (name, data) = (ctx.name("download"), text(950, 6));
    upload(&ctx, &name, &data).await?;
    download_exact(&ctx, &name, 3, &data).await
}

async fn download_many(ctx: Ctx) -> Checked {
    let a = (ctx.name("dl-a"), text(420, 7));
    let b = (ctx.name("dl-b"), text(380, 8));
    upload(&ctx, &a.0, &a.1).await?;
    upload(&ctx, &b.0, &b.1).await?;
    let all = [&a, &b, &a, &b].map(|(name, data)| download_exact(&ctx, name, 2, data));
    try_join_all(all).await.map(|_| ())
}

async fn download_receiving(ctx: Ctx) -> Checked {
    let (served, served_data) = (ctx.name("recv-served"), text(260, 9));
    upload(&ctx, &served, &served_data).await?;
    let (name, data) = (ctx.name("recv"), text(330, 10));
    let mut uploader = upload_accepted(&ctx, &name, data.len() as u64).await?;
    upload_chunk(&mut uploader, &name, &data, 0).await?;
    if let Some(size) = served_size(&ctx, &name).await? {
        return fail(format!(
            "#DOWNLOAD {name} while it is being received offered {size} bytes, not \"250 Not serving file {name}\""
        ));
    }
    download_exact(&ctx, &served, 1, &served_data).await?;
    upload_rest(&ctx, uploader, &name, &data, 1).await?;
    download_exact(&ctx, &name, 1, &data).await
}

async fn download_left(ctx: Ctx) -> Checked {
    let (name, data) = (ctx.name("dl-left"), text(500, 11));
    upload(&ctx, &name, &data).await?;
    let mut s = Session::open(&ctx).await?;
    let size = download_start(&mut s, &name).await?.unwrap_or(0);
    download_chunk(&mut s, &name, size, 0).await?;
    drop(s);
    ctx.note("(the downloader leaves after 1 of 5 chunks)".into());
    filelist(&ctx).await?;
    download_exact(&ctx, &name, 2, &data).await
}

async fn download_unknown(ctx: Ctx) -> Checked {
    let name = ctx.name("never-uploaded");
    let mut s = Session::open(&ctx).await?;
    let request = Request::DownloadStart { file: name.clone() };
    match s.ask(&request, Expect::DownloadStart).await? {
        Reply::NotServing { file } if file == name => Ok(()),
        other => fail(format!(
            "#DOWNLOAD of a file not served answered \"{other}\", not \"250 Not serving file {name}\""
        )),
    }
}

async fn round_trip(ctx: &Ctx, what: &str, data: &[u8]) -> Checked {
    let name = ctx.name(what);
    upload(ctx, &name, data).await?;
    if served_size(ctx, &name).await? != Some(data.len() as u64) {
        return fail(format!(
            "{name} is not served as {} bytes after its upload",
            data.len()
        ));
    }
    download_exact(ctx, &name, 2, data).await
}

async fn empty_file(ctx: Ctx) -> Checked {
    round_trip(&ctx, "empty", b"").await
}

async fn one_byte(ctx: Ctx) -> Checked {
    round_trip(&ctx, "one", b"x").await
}

async fn full_last_chunk(ctx: Ctx) -> Checked {
    round_trip(&ctx, "full", &text(200, 12)).await
}

async fn binary_bytes(ctx: Ctx) -> Checked {
    round_trip(&ctx, "binary", &binary()).await
}

async fn out_of_range(ctx: Ctx) -> Checked {
    let (name, data) = (ctx.name("range"), text(150, 13));
    upload(&ctx, &name, &data).await?;
    let mut s = Session::open(&ctx).await?;
    let size = download_start(&mut s, &name).await?.unwrap_or(0);
    s.send(&Request::DownloadChunk {
        file: name.clone(),
        index: 2,
    })
    .await?;
    let answer = s
        .recv_within(Expect::DownloadChunk { size, index: 2 }, ctx.grace)
        .await;
    match answer {
        Ok(Some(Reply::Chunk { .. })) => {
            return fail("chunk 2 of a 150-byte file was answered with data");
        }
        Ok(Some(_)) => {}
        Ok(None) => {
            return fail(format!(
                "no reply within {} ms to #DOWNLOAD {name} chunk 2 (past the end)",
                ctx.grace.as_millis()
            ));
        }
        Err(e) if e.0.contains("closed the connection") => {
            // Tolerated: the close is this deviation, not a cause of what follows.
            ctx.forget_causes();
            ctx.deviation(
                "closed on a bad chunk",
                format!(
                    "#DOWNLOAD {name} chunk 2 (past the end): the server closed the connection without a 250 reply"
                ),
            )
        }
        Err(e) => return Err(e),
    }
    drop(s);
    download_exact(&ctx, &name, 1, &data).await
}

async fn download_named(ctx: Ctx, name: String) -> Checked {
    let Some(size) = served_size(&ctx, &name).await? else {
        return fail(format!("--file {name}: the server does not serve it"));
    };
    let a = download(&ctx, &name, 2).await?;
    if a.len() as u64 != size {
        return fail(format!(
            "{name}: {} bytes received, {size} declared",
            a.len()
        ));
    }
    let b = download(&ctx, &name, 1).await?;
    if a != b {
        return fail(format!("{name}: two downloads gave different bytes"));
    }
    Ok(())
}
