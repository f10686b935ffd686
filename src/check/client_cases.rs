//! The `--check-client` cases: what each checks, the seed's words behind it, and how many case
//! timeouts it may take. The cases themselves are in `client.rs`.

use std::future::Future;
use std::time::Duration;

use super::cases::Case;
use super::client::{
    Env, download, download_exists, download_killed, download_left, download_none,
    download_offline, download_silent, filelist, offline, upload, upload_left, upload_missing,
    upload_offline, upload_refused, upload_silent,
};
use super::wire::{Checked, Ctx};

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
