//! Pure: the terminal lines the seed requires of a client, and their comparison with what a
//! client printed, as multisets (threads print in any order).

use std::collections::HashMap;

use crate::core::protocol::{chunk_count, lines};

const PROMPT: &str = "Input your command: ";

/// A printed line without prompts; `None` for a blank line or the echoed command.
pub fn clean(line: &str, input: &str) -> Option<String> {
    let mut line = line.trim_end();
    while let Some(rest) = line.strip_prefix(PROMPT.trim_end()) {
        line = rest.trim_start();
    }
    (!line.is_empty() && line != input).then(|| line.to_string())
}

fn counts(lines: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for line in lines {
        *counts.entry(line.trim_end()).or_default() += 1;
    }
    counts
}

/// Lines of `expected` not (or not as often) in `got`.
pub fn missing(expected: &[String], got: &[String]) -> Vec<String> {
    difference(expected, got)
}

/// Lines of `got` that look like the seed's lines but are not among `expected`. Other extra
/// lines (a note that a peer left, an "unverified" remark) are allowed.
pub fn unexpected(expected: &[String], got: &[String]) -> Vec<String> {
    difference(got, expected)
        .into_iter()
        .filter(|line| is_seed_line(line))
        .collect()
}

fn difference(a: &[String], b: &[String]) -> Vec<String> {
    let mut left = counts(b);
    let mut out = Vec::new();
    for line in a {
        match left.get_mut(line.trim_end()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(line.clone()),
        }
    }
    out
}

fn is_seed_line(line: &str) -> bool {
    let peer_line = line.starts_with("Peer ") && line.contains(" does not serve file ");
    let starts = [
        "Client (",
        "Server (",
        "File ",
        "TCP connection",
        "Uploading",
        "Downloading",
    ];
    peer_line || starts.iter().any(|p| line.starts_with(p))
}

fn sent(peer: &str, request: &str) -> String {
    lines::client_sent(peer, request)
}

fn replied(peer: &str, reply: &str) -> String {
    lines::server_replied(peer, reply)
}

/// `#FILELIST` to `servers` (peer, its names; `None`: offline).
pub fn filelist(servers: &[(&str, Option<Vec<String>>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (peer, names) in servers {
        match names {
            Some(names) => {
                out.push(sent(peer, "#FILELIST"));
                out.push(replied(
                    peer,
                    &format!("200 Files served: {}", names.join(" ")),
                ));
            }
            None => out.push(lines::connection_failed(peer)),
        }
    }
    out
}

/// A successful `#UPLOAD file` of `size` bytes to every one of `servers`.
pub fn upload(file: &str, size: u64, servers: &[&str]) -> Vec<String> {
    let mut out = vec![lines::uploading(file)];
    for peer in servers {
        out.push(sent(peer, &format!("#UPLOAD {file} bytes {size}")));
        out.push(replied(peer, &format!("330 Ready to receive file {file}")));
        for i in 0..chunk_count(size) {
            out.push(sent(peer, &format!("#UPLOAD {file} chunk {i}")));
            out.push(replied(
                peer,
                &format!("200 File {file} chunk {i} received"),
            ));
        }
        out.push(replied(peer, &format!("200 File {file} received")));
        out.push(lines::upload_result(file, true));
    }
    out
}

/// The lines of an `#UPLOAD file` of `size` bytes to `peer` that stops answering after
/// acknowledging `acked` chunks, up to the client's `File f upload failed`.
pub fn upload_cut(file: &str, size: u64, peer: &str, acked: u64) -> Vec<String> {
    let mut out = vec![
        sent(peer, &format!("#UPLOAD {file} bytes {size}")),
        replied(peer, &format!("330 Ready to receive file {file}")),
    ];
    for i in 0..acked {
        out.push(sent(peer, &format!("#UPLOAD {file} chunk {i}")));
        out.push(replied(
            peer,
            &format!("200 File {file} chunk {i} received"),
        ));
    }
    out.push(lines::upload_result(file, false));
    out
}

/// Lines a client may print or not around a peer that stopped answering an upload after
/// `acked` chunks: the chunk requests it sent (or was about to send) that got no answer.
pub fn upload_unanswered(file: &str, size: u64, peer: &str, acked: u64) -> Vec<String> {
    (acked..chunk_count(size))
        .map(|i| sent(peer, &format!("#UPLOAD {file} chunk {i}")))
        .collect()
}

/// `#UPLOAD file` to servers that turn it down: `(peer, reply)`; nothing after the reply.
pub fn upload_refused(file: &str, size: u64, refusals: &[(&str, String)]) -> Vec<String> {
    let mut out = vec![lines::uploading(file)];
    for (peer, reply) in refusals {
        out.push(sent(peer, &format!("#UPLOAD {file} bytes {size}")));
        out.push(replied(peer, reply));
    }
    out
}

/// Every chunk line a download of `size` bytes from `serving` may print when serving peers
/// leave and others take their chunks over: each chunk asked of and answered by each peer once.
pub fn download_any_chunk(file: &str, size: u64, serving: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for peer in serving {
        for i in 0..chunk_count(size) {
            out.push(sent(peer, &format!("#DOWNLOAD {file} chunk {i}")));
            out.push(replied(peer, &format!("200 File {file} chunk {i}")));
        }
    }
    out
}

/// The `#DOWNLOAD file` round: `serving` answer 330 with `size`, `refusing` 250.
pub fn download_round(file: &str, size: u64, serving: &[&str], refusing: &[&str]) -> Vec<String> {
    let mut out = vec![lines::downloading(file)];
    for peer in serving {
        out.push(sent(peer, &format!("#DOWNLOAD {file}")));
        out.push(replied(
            peer,
            &format!("330 Ready to send file {file} bytes {size}"),
        ));
    }
    for peer in refusing {
        out.push(sent(peer, &format!("#DOWNLOAD {file}")));
        out.push(replied(peer, &format!("250 Not serving file {file}")));
    }
    out
}

/// A whole successful download, chunk i from `serving[i % n]`.
pub fn download(file: &str, size: u64, serving: &[&str]) -> Vec<String> {
    let mut out = download_round(file, size, serving, &[]);
    for i in 0..chunk_count(size) {
        let peer = serving[(i % serving.len() as u64) as usize];
        out.push(sent(peer, &format!("#DOWNLOAD {file} chunk {i}")));
        out.push(replied(peer, &format!("200 File {file} chunk {i}")));
    }
    out.push(lines::download_result(file, true));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prompts_blank_lines_and_the_echoed_command_are_dropped() {
        assert_eq!(
            clean("Input your command: #FILELIST p2", "#FILELIST p2"),
            None
        );
        assert_eq!(
            clean("Input your command: Client (p2): #FILELIST", "#FILELIST p2"),
            Some("Client (p2): #FILELIST".into())
        );
        assert_eq!(clean("Input your command: ", "x"), None);
        assert_eq!(clean("", "x"), None);
    }

    #[test]
    fn comparison_is_by_multiset_and_allows_extra_notes() {
        let expected = v(&[
            "Client (p2): #FILELIST",
            "Client (p2): #FILELIST",
            "File f x",
        ]);
        let got = v(&[
            "File f x",
            "Client (p2): #FILELIST",
            "Peer p3 left",
            "Server (p9): y",
        ]);
        assert_eq!(missing(&expected, &got), v(&["Client (p2): #FILELIST"]));
        assert_eq!(unexpected(&expected, &got), v(&["Server (p9): y"]));
    }

    #[test]
    fn download_lines_follow_the_round_robin() {
        let lines = download("f", 250, &["p2", "p3"]);
        assert!(lines.contains(&"Client (p3): #DOWNLOAD f chunk 1".to_string()));
        assert!(lines.contains(&"Client (p2): #DOWNLOAD f chunk 2".to_string()));
        assert_eq!(lines.last().unwrap(), "File f download success");
    }

    #[test]
    fn an_upload_cut_after_two_chunks_ends_in_failure() {
        let lines = upload_cut("f", 450, "p3", 2);
        assert_eq!(lines.len(), 2 + 4 + 1);
        assert!(lines.contains(&"Server (p3): 200 File f chunk 1 received".to_string()));
        assert_eq!(lines.last().unwrap(), "File f upload failed");
        assert_eq!(
            upload_unanswered("f", 450, "p3", 2),
            v(&[
                "Client (p3): #UPLOAD f chunk 2",
                "Client (p3): #UPLOAD f chunk 3",
                "Client (p3): #UPLOAD f chunk 4"
            ])
        );
    }
}
