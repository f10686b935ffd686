//! The causes `--check-sync` groups failures by: what a synchronizer does, with seed 002's words
//! it breaks.

/// The synchronizer under test exits while the case still needs it.
pub const EXITED: &str = "the synchronizer exits while it should keep running (seed 002: it sends \"keepalive messages ... every 5 seconds\" and answers \"File Request\" messages from other peers for as long as it runs)";

/// No message reaches the tracker after the start.
pub const NO_INITIAL: &str = "sends no initial message to the tracker (seed 002: the synchronizer must \"send an Initial message ... when it first starts\"; it \"takes as command line arguments the IP address and port number (Port A) of the tracker\")";

/// A case reached its deadline.
pub const STOPS_ANSWERING: &str = "does not finish what the case waits for within its deadline (seed 002: \"This process is repeated until all the new or more up-to-date files contained in the Directory Response Message are fetched\")";

/// A file its server sent (raw bytes, then close) does not end up in the folder.
pub const NOT_SAVED: &str = "does not save a file its holder sent as the seed's File Response, its raw bytes then the end of the connection (seed 002 Table 2: File Response: \"Content of the file, it can be binary or text\" ... \"Peer saves the received file locally\")";
