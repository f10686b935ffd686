//! After every chunk is acknowledged: did the server keep the file? The seed's
//! `200 File f received`; from a server that does not send it in time, each known end marker
//! (`END_MARKERS`, seen in course work) is tried once; failing that, the server's own file list
//! says whether it kept the file.

use std::time::Duration;

use crate::core::protocol::{END_MARKERS, Expect, Framing, Reply, Request, lines};
use crate::peer::events::Reporter;
use crate::peer::file_list;
use crate::peer::transfer::exchange::{Link, PeerFailure};

/// How long a server may take to confirm the file (`200 File f received`) after its last
/// acknowledgement, and to answer an end marker, before p2p-tui tries the next step.
const CONFIRM_WAIT: Duration = Duration::from_secs(3);

/// Whether peer `id` kept `file`: `Ok` if it confirmed it (or lists it).
pub async fn confirm(
    out: &Reporter,
    link: &mut Link,
    id: &str,
    file: &str,
) -> Result<(), PeerFailure> {
    let mut open = match await_confirmation(out, link, id, file).await {
        Awaited::Confirmed => return Ok(()),
        Awaited::Other => return Err(PeerFailure::NotKept),
        Awaited::Nothing { open } => open,
    };
    for marker in END_MARKERS {
        if (!open || link.window().one_per_connection()) && link.reconnect().await.is_err() {
            break;
        }
        let request = Request::EndMarker(marker);
        out.sent(id, &request);
        if link
            .conn()
            .send_request(&request, Framing::Bare)
            .await
            .is_err()
        {
            open = false;
            continue;
        }
        match await_confirmation(out, link, id, file).await {
            Awaited::Confirmed => {
                out.note(lines::confirmed_after_marker(id, file, marker));
                return Ok(());
            }
            Awaited::Other => open = true,
            Awaited::Nothing { open: still } => open = still,
        }
    }
    // Some servers keep the file only once the client closes: close, then look.
    link.close().await;
    if listed_by(out, link, id, file).await {
        out.note(lines::listed_not_confirmed(id, file));
        return Ok(());
    }
    Err(PeerFailure::NotConfirmed(file.to_string()))
}

/// What came in answer to the last chunk (or to an end marker).
enum Awaited {
    /// `200 File f received`.
    Confirmed,
    /// Another reply (printed): a refusal, or an error for the marker.
    Other,
    /// Nothing within `CONFIRM_WAIT`, or the connection ended (`open` false).
    Nothing { open: bool },
}

async fn await_confirmation(out: &Reporter, link: &mut Link, id: &str, file: &str) -> Awaited {
    let read = tokio::time::timeout(CONFIRM_WAIT, link.conn().read_reply(Expect::UploadDone));
    match read.await {
        Ok(Ok(reply)) => {
            out.replied(id, reply.text());
            match reply.message {
                Reply::FileReceived { file: named } if named == file => Awaited::Confirmed,
                _ => Awaited::Other,
            }
        }
        Ok(Err(e)) => {
            tracing::debug!(peer = id, error = %e, "no confirmation");
            Awaited::Nothing { open: false }
        }
        Err(_) => Awaited::Nothing { open: true },
    }
}

/// Whether the peer lists `file` in answer to `#FILELIST` (asked on a connection of its own).
async fn listed_by(out: &Reporter, link: &mut Link, id: &str, file: &str) -> bool {
    if link.reconnect().await.is_err() {
        return false;
    }
    match file_list::ask(link.conn(), id, out).await {
        Ok(Some(names)) => names.iter().any(|n| n == file),
        Ok(None) | Err(_) => false,
    }
}
