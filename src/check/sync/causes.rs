//! The causes `--check-sync` groups failures by: what a synchronizer does, with seed 002's words
//! it breaks.

/// The synchronizer under test exits while the case still needs it.
pub const EXITED: &str = "the synchronizer exits while it should keep running (seed 002: it sends \"keepalive messages ... every 5 seconds\" and answers \"File Request\" messages from other peers for as long as it runs)";

/// No message reaches the tracker after the start.
pub const NO_INITIAL: &str = "sends no initial message to the tracker (seed 002: the synchronizer must \"send an Initial message ... when it first starts\"; it \"takes as command line arguments the IP address and port number (Port A) of the tracker\")";
