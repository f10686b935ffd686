//! The causes a report groups failures by: what an implementation does, in one sentence, with
//! the seed's words it breaks. A case records the causes it sees on the way (`Ctx::cause`);
//! its reasons lead with them, and the report's summary counts the cases of each first cause.

/// The server closes a connection on which it has already replied, instead of reading the next
/// request: the classroom server that handles one request per connection.
pub const CLOSES_AFTER_REPLY: &str = "closes the connection after a reply instead of answering the next request on it (seed 001 II.1: the server \"receives, parses and processes the request messages, and then sends reply messages through the same TCP connection\")";

/// The server closes a connection before it has replied to anything on it.
pub const CLOSES_INSTEAD_OF_REPLYING: &str = "closes the connection instead of replying (seed 001 II.1: the server \"sends reply messages through the same TCP connection\")";

/// The bytes that came back are not the seed's reply to the request.
pub const NOT_A_REPLY: &str = "replies with bytes that are not the seed's reply (seed 001 III.7: \"make sure your message formats ... strictly comply to the stated design\")";

/// Nothing came back before the case's deadline.
pub const STOPS_ANSWERING: &str = "stops answering: no result within the case's deadline (seed 001 III.3: \"Your program should be resilient to these exceptions without failing\")";

/// The server cannot be reached.
pub const CANNOT_CONNECT: &str = "cannot be connected to (seed 001 II.2: \"The server program should keep listening on the designated port\")";

/// The client under test exits while its command is still running.
pub const CLIENT_EXITED: &str = "the client exits in the middle of a command (seed 001 III.3: \"Your program should be resilient to these exceptions without failing\"; II.2: it prompts \"Input your command: \" for the next)";

/// The client's terminal lines are not the seed's: some missing, or others in their place.
pub const OTHER_LINES: &str = "prints other terminal lines than the seed's (seed 001 III.7: \"You should make sure your message formats, the formats of inputs and outputs, strictly comply to the stated design\")";
