//! How every mode ends: cancel, then give the running tasks a grace period to finish (close their
//! connections, remove their partial files) before the process exits. Written once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long running tasks get to finish after a signal or a quit.
pub const GRACE: Duration = Duration::from_secs(5);

/// Cancels `shutdown`, then waits up to [`GRACE`] for every task of `tasks`; says so in the log
/// if some did not finish (the process exits anyway: nothing must hold it open).
pub async fn finish(shutdown: &CancellationToken, tasks: &TaskTracker) {
    shutdown.cancel();
    tasks.close();
    if tokio::time::timeout(GRACE, tasks.wait()).await.is_err() {
        tracing::warn!("some tasks did not finish within {GRACE:?} of the shutdown");
    }
}
