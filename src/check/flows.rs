//! The seed's exchanges as the classroom client runs them (#FILELIST, #UPLOAD, #DOWNLOAD), each
//! checking every reply against the seed's exact message.

use futures::future::try_join_all;

use super::wire::{Checked, Ctx, Session, fail};
use crate::core::protocol::{CHUNK_SIZE, Expect, Reply, Request, chunk_count};

/// `#FILELIST` on a connection of its own: the names served.
pub async fn filelist(ctx: &Ctx) -> Checked<Vec<String>> {
    let mut s = Session::open(ctx).await?;
    match s.ask(&Request::FileList, Expect::FileList).await? {
        Reply::FilesServed(names) => Ok(names),
        other => fail(format!(
            "#FILELIST answered \"{other}\", not \"200 Files served: ...\""
        )),
    }
}

/// Sends `#UPLOAD name bytes N` and returns the reply.
pub async fn upload_start(s: &mut Session, name: &str, size: u64) -> Checked<Reply> {
    let request = Request::UploadStart {
        file: name.to_string(),
        size,
    };
    s.send(&request).await?;
    let ready = format!("330 Ready to receive file {name}");
    s.recv_known(Expect::UploadStart, Some(&ready)).await
}

/// Opens a connection and starts an upload the server must accept.
pub async fn upload_accepted(ctx: &Ctx, name: &str, size: u64) -> Checked<Session> {
    let mut s = Session::open(ctx).await?;
    match upload_start(&mut s, name, size).await? {
        Reply::ReadyToReceive { file } if file == name => Ok(s),
        other => fail(format!(
            "#UPLOAD {name} bytes {size} answered \"{other}\", not \"330 Ready to receive file {name}\""
        )),
    }
}

/// Sends chunk `index` of `data` and checks its acknowledgement.
pub async fn upload_chunk(s: &mut Session, name: &str, data: &[u8], index: u64) -> Checked {
    let start = (index * CHUNK_SIZE) as usize;
    let end = (start + CHUNK_SIZE as usize).min(data.len());
    let request = Request::UploadChunk {
        file: name.to_string(),
        index,
        payload: bytes::Bytes::copy_from_slice(&data[start..end]),
    };
    match s.ask(&request, Expect::UploadChunkAck).await? {
        Reply::ChunkReceived { file, index: got } if file == name && got == index => Ok(()),
        other => fail(format!(
            "#UPLOAD {name} chunk {index} answered \"{other}\", not \"200 File {name} chunk {index} received\""
        )),
    }
}

/// Sends chunks `from..` and waits for `200 File f received`. A server that only saves the file
/// once the client closes its side (a private end marker) is a deviation, if the file then
/// appears whole.
pub async fn upload_rest(ctx: &Ctx, mut s: Session, name: &str, data: &[u8], from: u64) -> Checked {
    for index in from..chunk_count(data.len() as u64) {
        upload_chunk(&mut s, name, data, index).await?;
    }
    match s.recv_within(Expect::UploadDone, ctx.grace).await? {
        Some(Reply::FileReceived { file }) if file == name => return Ok(()),
        Some(other) => {
            return fail(format!(
                "after the last chunk the server answered \"{other}\", not \"200 File {name} received\""
            ));
        }
        None => {}
    }
    s.half_close().await;
    let _ = s.recv_within(Expect::UploadDone, ctx.grace).await;
    drop(s);
    if served_size(ctx, name).await? == Some(data.len() as u64) {
        ctx.deviation(
            "end marker",
            format!(
            "no \"200 File {name} received\" after the last chunk: the server saved the file only once the client closed its side (an end marker the seed does not have)"
        ),
);
        return Ok(());
    }
    fail(format!(
        "no \"200 File {name} received\" within {} ms of the last chunk, and the file was not saved",
        ctx.grace.as_millis()
    ))
}

/// A whole upload that must succeed.
pub async fn upload(ctx: &Ctx, name: &str, data: &[u8]) -> Checked {
    let s = upload_accepted(ctx, name, data.len() as u64).await?;
    upload_rest(ctx, s, name, data, 0).await
}

/// `#DOWNLOAD name` on a connection of its own: the declared size, or `None` if refused.
pub async fn served_size(ctx: &Ctx, name: &str) -> Checked<Option<u64>> {
    let mut s = Session::open(ctx).await?;
    download_start(&mut s, name).await
}

/// `#DOWNLOAD name`: `Some(size)` for a 330, `None` for a 250.
pub async fn download_start(s: &mut Session, name: &str) -> Checked<Option<u64>> {
    let request = Request::DownloadStart {
        file: name.to_string(),
    };
    match s.ask(&request, Expect::DownloadStart).await? {
        Reply::ReadyToSend { file, size } if file == name => Ok(Some(size)),
        Reply::ReadyToSend { file, .. } => fail(format!(
            "#DOWNLOAD {name} answered for another file, {file}"
        )),
        _ => Ok(None),
    }
}

/// `#DOWNLOAD name chunk index` and its payload.
pub async fn download_chunk(
    s: &mut Session,
    name: &str,
    size: u64,
    index: u64,
) -> Checked<Vec<u8>> {
    let request = Request::DownloadChunk {
        file: name.to_string(),
        index,
    };
    match s
        .ask(&request, Expect::DownloadChunk { size, index })
        .await?
    {
        Reply::Chunk { file, payload, .. } if file == name => Ok(payload.to_vec()),
        other => fail(format!(
            "#DOWNLOAD {name} chunk {index} answered \"{other}\", not \"200 File {name} chunk {index} ...\""
        )),
    }
}

/// Downloads `name` over `clients` connections at once, chunk i from connection i mod n (the
/// seed's round robin, as from n serving peers).
pub async fn download(ctx: &Ctx, name: &str, clients: usize) -> Checked<Vec<u8>> {
    let mut sessions = Vec::new();
    let mut size = None;
    for _ in 0..clients.max(1) {
        let mut s = Session::open(ctx).await?;
        let Some(declared) = download_start(&mut s, name).await? else {
            return fail(format!(
                "#DOWNLOAD {name} was turned down, but the file is served"
            ));
        };
        if size.is_some_and(|first| first != declared) {
            return fail(format!("#DOWNLOAD {name} declared two sizes"));
        }
        size = Some(declared);
        sessions.push(s);
    }
    let size = size.unwrap_or(0);
    let n = sessions.len() as u64;
    let parts = sessions
        .into_iter()
        .enumerate()
        .map(|(r, mut s)| async move {
            let mut got = Vec::new();
            for index in (r as u64..chunk_count(size)).step_by(n as usize) {
                got.push((index, download_chunk(&mut s, name, size, index).await?));
            }
            Checked::Ok(got)
        });
    let mut chunks: Vec<(u64, Vec<u8>)> = try_join_all(parts).await?.concat();
    chunks.sort_by_key(|(index, _)| *index);
    Ok(chunks.into_iter().flat_map(|(_, c)| c).collect())
}

/// Downloads `name` and compares it with `data`.
pub async fn download_exact(ctx: &Ctx, name: &str, clients: usize, data: &[u8]) -> Checked {
    let got = download(ctx, name, clients).await?;
    if got == data {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(data)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(data.len()));
    fail(format!(
        "{name} downloaded as {} bytes that differ from the {} uploaded, first at byte {at} (chunk {})",
        got.len(),
        data.len(),
        at / CHUNK_SIZE as usize
    ))
}

/// A text file of `len` bytes, like the seed's .txt files: words, spaces and line ends.
pub fn text(len: usize, seed: u8) -> Vec<u8> {
    let words = b"peer to peer chunk round robin file ";
    (0..len)
        .map(|i| match i % 61 {
            60 => b'\n',
            k => words[(k + seed as usize) % words.len()],
        })
        .collect()
}

/// Bytes a text-only server mangles: `#`, NUL, invalid UTF-8, UTF-8 sequences cut at chunk
/// boundaries, message-like text, line ends and a trailing space.
pub fn binary() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend_from_slice(b"#UPLOAD x chunk 1 200 File x received");
    data.resize(299, 0);
    data[0] = b'#';
    data[99] = 0xe2; // "€" cut across chunks 0 and 1
    data[100] = 0x82;
    data[101] = 0xac;
    data[199] = 0xc3; // "é" cut across chunks 1 and 2
    data[200] = 0xa9;
    data[201] = b'#';
    data[250] = 0xff;
    data[251] = 0x00;
    data[297] = b'\r';
    data[298] = b' ';
    data
}
