//! `#FILELIST`: asking one peer which files it serves, for the client's command and for the
//! upload's last check that a server kept a file. Imports the connection and the protocol only.

use std::time::Duration;

use super::connection::{ConnError, Connection};
use super::events::Reporter;
use crate::core::protocol::{Expect, Framing, Reply, Request};

/// How long a file list may pause before it is taken as complete (servers may keep the
/// connection open after `200 Files served: ...`).
pub const FILE_LIST_GAP: Duration = Duration::from_millis(300);

/// Why a peer's file list did not come.
pub enum NotListed {
    /// The request could not be sent.
    NotSent,
    /// No reply came (the connection ended, or it was silent).
    NoReply(ConnError),
}

/// Sends `#FILELIST` to peer `id` on `conn` and reads the reply, printing both; the names
/// listed (`None`: it answered something else).
pub async fn ask(
    conn: &mut Connection,
    id: &str,
    out: &Reporter,
) -> Result<Option<Vec<String>>, NotListed> {
    out.sent(id, Request::FileList);
    if conn
        .send_request(&Request::FileList, Framing::Bare)
        .await
        .is_err()
    {
        return Err(NotListed::NotSent);
    }
    let reply = conn
        .read_reply_until_quiet(Expect::FileList, FILE_LIST_GAP)
        .await
        .map_err(NotListed::NoReply)?;
    out.replied(id, reply.text());
    match reply.message {
        Reply::FilesServed(names) => Ok(Some(names)),
        _ => Ok(None),
    }
}
