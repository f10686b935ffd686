//! The causes `--check-tracker` groups failures by: what a tracker does, with seed 002's words
//! it breaks (see `crate::check::causes` for the seed-001 ones).

/// The tracker closes a peer's connection where it should answer.
pub const CLOSES: &str = "closes the peer's connection instead of answering (seed 002 Table 1: after an initial or keep-alive message \"the tracker responds with a directory response message\"; 4) \"Only one TCP connection is needed between a peer and a tracker\")";

/// The tracker does not answer a message at all.
pub const NO_REPLY: &str = "does not answer a message with a directory response (seed 002 Table 1: \"Tracker responds with a directory response message\")";

/// What came back is not JSON.
pub const NOT_JSON: &str = "answers with bytes that are not JSON (seed 002: \"Messages exchanged between tracker and peers (synchronizers) are encoded in JSON\")";

/// What came back is JSON but not the seed's directory response.
pub const NOT_DIRECTORY: &str = "answers with JSON that is not the seed's directory response (seed 002 Table 1: {filename:{'ip':,'port':,'mtime':}})";

/// The tracker cannot be reached (it is not running, or no longer is).
pub const CANNOT_CONNECT: &str = "cannot be connected to (seed 002: the synchronizer \"communicates with the tracker through a single TCP socket\"; the tracker must keep accepting peers)";

/// A case reached its deadline.
pub const STOPS_ANSWERING: &str = "stops answering: no result within the case's deadline (seed 000 Part II: the tracker \"traces the live peer nodes\" and serves every peer's requests)";
