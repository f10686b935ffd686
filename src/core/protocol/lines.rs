//! The seed's terminal lines, formatted in one place. Both front ends (line console, TUI) print
//! exactly these strings.

use std::fmt::Display;

/// What a line reports, so a front end can colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// `Client (pX): <request>`
    Request,
    /// `Server (pX): <reply>`
    Reply,
    /// A command's progress or result (`Downloading file f`, `File f download success`).
    Outcome,
    /// Something went wrong (`TCP connection to server pX failed`, `... failed`).
    Error,
    /// Extra information beyond the seed (peer left, chunks reassigned).
    Note,
}

pub fn client_sent(peer: &str, request: impl Display) -> String {
    let mut line = String::new();
    let _ = write_client_sent(&mut line, peer, request);
    line
}

/// `client_sent` into a buffer.
pub fn write_client_sent(
    out: &mut impl std::fmt::Write,
    peer: &str,
    request: impl Display,
) -> std::fmt::Result {
    write!(out, "Client ({peer}): {request}")
}

pub fn server_replied(peer: &str, reply: impl Display) -> String {
    let mut line = String::new();
    let _ = write_server_replied(&mut line, peer, reply);
    line
}

/// `server_replied` into a buffer.
pub fn write_server_replied(
    out: &mut impl std::fmt::Write,
    peer: &str,
    reply: impl Display,
) -> std::fmt::Result {
    write!(out, "Server ({peer}): {reply}")
}

pub fn connection_failed(peer: &str) -> String {
    format!("TCP connection to server {peer} failed")
}

pub fn not_serving_locally(me: &str, file: &str) -> String {
    format!("Peer {me} does not serve file {file}")
}

pub fn uploading(file: &str) -> String {
    format!("Uploading file {file}")
}

pub fn upload_result(file: &str, success: bool) -> String {
    format!(
        "File {file} upload {}",
        if success { "success" } else { "failed" }
    )
}

pub fn already_exists(file: &str) -> String {
    format!("File {file} already exists")
}

pub fn downloading(file: &str) -> String {
    format!("Downloading file {file}")
}

pub fn download_result(file: &str, success: bool) -> String {
    format!(
        "File {file} download {}",
        if success { "success" } else { "failed" }
    )
}

pub fn nobody_serves(file: &str, peers: &[String]) -> String {
    format!(
        "File {file} download failed, peers {} are not serving the file",
        peers.join(" ")
    )
}

// Lines beyond the seed: one version per download.

/// The serving peers hold different versions (`groups`: one description per version).
pub fn versions_disagree(file: &str, groups: &[String]) -> String {
    format!(
        "File {file} differs between the serving peers: {}; not downloaded (name the peers of one version)",
        groups.join(" | ")
    )
}

/// A download succeeded from classroom peers that cannot describe the content.
pub fn not_verified(file: &str) -> String {
    format!(
        "Not verified: no serving peer could describe the content of file {file} (classroom peers)"
    )
}

/// A serving peer sent bytes that do not match the file's digest.
pub fn wrong_bytes(peer: &str, file: &str, chunk: u64) -> String {
    format!("Server {peer} sent chunk {chunk} of file {file} that does not match its digest")
}

/// An upload a server confirmed only after an end marker the seed does not have.
pub fn confirmed_after_marker(peer: &str, file: &str, marker: &str) -> String {
    format!(
        "Server {peer} confirmed file {file} only after the end marker \"{marker}\" (not part of seed 001)"
    )
}

/// An upload whose every chunk was acknowledged, and the file listed, but never confirmed.
pub fn listed_not_confirmed(peer: &str, file: &str) -> String {
    format!(
        "Server {peer} acknowledged every chunk of file {file} and lists it, but never sent \"200 File {file} received\" (it may expect a private end marker)"
    )
}

// Lines beyond the seed: how a transfer went with each peer.

/// A server closed the connection before the first reply of a transfer.
pub fn closed_before_reply(peer: &str, why: impl Display) -> String {
    format!("Server {peer} closed the connection: {why}")
}

/// A server answered `330` for another file than the one asked for.
pub fn offered_other_file(peer: &str, offered: &str, file: &str) -> String {
    format!("Server {peer} offered file {offered}, not {file}; not used")
}

/// A server closed without a word: not a seed-001 server (a synchronizer, say).
pub fn closed_without_reply(peer: &str) -> String {
    format!("Server {peer} closed the connection without a reply")
}

/// A server did not answer the first request of a transfer (`#DOWNLOAD f`, `#UPLOAD f bytes N`).
pub fn did_not_answer(peer: &str, request: &str, file: &str, why: &str) -> String {
    format!("Server {peer} did not answer {request} {file}: {why}")
}

/// A server refused an upload.
pub fn refused(peer: &str, reply: impl Display) -> String {
    format!("{peer} refused: {reply}")
}

/// An upload to one server ended before the server confirmed the file.
pub fn upload_stopped(file: &str, peer: &str, why: impl Display) -> String {
    format!("Upload of file {file} to {peer} stopped: {why}")
}

/// A serving peer left a download, and who takes its chunks.
pub fn stopped_serving(
    peer: &str,
    file: &str,
    why: &str,
    orphaned: u64,
    taken_by: &[&str],
) -> String {
    let head = format!("Server {peer} stopped serving file {file} ({why})");
    if taken_by.is_empty() {
        format!("{head}: {orphaned} unfinished chunks, no serving peers left")
    } else {
        format!(
            "{head}: {orphaned} unfinished chunks reassigned to {}",
            taken_by.join(" ")
        )
    }
}

/// An idle serving peer takes chunks not yet requested from one far behind (not a seed line:
/// worded apart from the seed's and from a takeover's "stopped serving").
pub fn far_behind(file: &str, from: &str, to: &str, queued: u64, theirs: f64, ours: f64) -> String {
    format!(
        "Rebalancing file {file}: {to} takes chunks not yet requested from {from}, which is far behind ({queued} chunks left: {theirs:.1} s at its rate, {ours:.1} s for {to})"
    )
}

/// The endgame: an idle peer asks again for the last chunks awaited from one far behind.
pub fn endgame(file: &str, from: &str, to: &str) -> String {
    format!(
        "Endgame for file {file}: {to} asks again for the last chunks awaited from {from}, which is far behind (the second reply is discarded)"
    )
}

/// What moved between serving peers in one download, at its end.
pub fn rebalanced(file: &str, moved: &[String], endgame: Option<String>) -> String {
    let mut parts = moved.to_vec();
    parts.extend(endgame);
    format!("Rebalanced file {file}: {}", parts.join("; "))
}

/// The file appeared in served_files while the download was being prepared.
pub fn appeared_meanwhile(file: &str) -> String {
    format!("File {file} appeared in served_files meanwhile")
}

/// The downloaded file could not be written or linked into served_files.
pub fn cannot_save(file: &str, why: impl Display) -> String {
    format!("Cannot save file {file}: {why}")
}

/// The downloaded file could not be written.
pub fn cannot_write(file: &str, why: impl Display) -> String {
    format!("Cannot write file {file}: {why}")
}

/// Verification dropped every serving peer.
pub fn no_matching_bytes(file: &str) -> String {
    format!("No serving peer sends the bytes of file {file} that match its digest")
}

pub fn download_cancelled(file: &str) -> String {
    format!("Download of file {file} cancelled")
}

pub fn partial_removed(file: &str) -> String {
    format!("Partial file {file} removed")
}

/// No holder speaks seed 001: the synchronizer's plain file request instead.
pub fn plain_fallback(file: &str, holder: &str) -> String {
    format!("No holder speaks #DOWNLOAD; fetching file {file} from {holder} by plain file request")
}

pub fn plain_received(bytes: u64, file: &str, holder: &str) -> String {
    format!("Received {bytes} bytes of file {file} from {holder}")
}

pub fn plain_failed(holder: &str, why: &str) -> String {
    format!("Plain file request to {holder} failed: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_the_seed_sample() {
        assert_eq!(client_sent("p4", "#FILELIST"), "Client (p4): #FILELIST");
        assert_eq!(
            server_replied("p3", "200 Files served: f1.txt f5.txt"),
            "Server (p3): 200 Files served: f1.txt f5.txt"
        );
        assert_eq!(
            connection_failed("p2"),
            "TCP connection to server p2 failed"
        );
        assert_eq!(
            not_serving_locally("p1", "x.txt"),
            "Peer p1 does not serve file x.txt"
        );
        assert_eq!(uploading("f2.txt"), "Uploading file f2.txt");
        assert_eq!(upload_result("f2.txt", true), "File f2.txt upload success");
        assert_eq!(upload_result("f2.txt", false), "File f2.txt upload failed");
        assert_eq!(already_exists("f1.txt"), "File f1.txt already exists");
        assert_eq!(downloading("f1.txt"), "Downloading file f1.txt");
        assert_eq!(
            download_result("f1.txt", true),
            "File f1.txt download success"
        );
        assert_eq!(
            download_result("f1.txt", false),
            "File f1.txt download failed"
        );
        assert_eq!(
            nobody_serves("f9.txt", &["p2".into(), "p3".into(), "p4".into()]),
            "File f9.txt download failed, peers p2 p3 p4 are not serving the file"
        );
    }
}
