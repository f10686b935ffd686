//! What a web client does wrong, each with the seed's sentence it breaks (the report's causes).

/// The client prints other lines than the seed's.
pub const OTHER_LINES: &str = "prints other lines than the seed's (seed 004 3.2: \"Your program should print output to terminal using the following standard format\")";

/// The client is still running at the case's deadline.
pub const NO_END: &str = "does not end: still running at the case's deadline (seed 004 3.1: \"timeout (optional) the amount of time the client will wait for a response for before exiting. (Default: 5 seconds)\")";

/// The client exits without connecting to the HOST and PORT it was given.
pub const NEVER_CONNECTS: &str = "never connects to the HOST and PORT on its command line (seed 004 3.1: \"python client.py [-host] [-port] [-filename] [-timeout]\"; \"host (required)\", \"port (required) the port number where the connection will be established\")";

/// The client exits with an error, saying why on its stderr (a traceback, say).
pub const EXITS_WITH_ERROR: &str = "exits with an error before doing what the case asks (its stderr says why; seed 004 3.2: \"Finally, do not forget to close the sockets before exiting and printing a confirmation message that the sockets have been closed.\")";
