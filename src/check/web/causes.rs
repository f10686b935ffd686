//! The causes `--check-web` groups failures by: what a web server does, in one sentence, with
//! the seeds' words it breaks (see `crate::check::causes` for the idea).

/// The connection is closed (or reset) before a response.
pub const CLOSES_WITHOUT_RESPONSE: &str = "closes the connection without a response (seed 000 I (vii): \"send the response over the TCP connection to the requesting browser\")";

/// What came back is not an HTTP response.
pub const NOT_HTTP: &str = "answers with bytes that are not an HTTP response (seed 000 I (vi): \"create an HTTP response message consisting of the requested file preceded by proper header lines\")";

/// The server cannot be reached.
pub const CANNOT_CONNECT: &str = "cannot be connected to (seed 000 I (i): \"bind to and listen a port specified as a command line argument\")";

/// Nothing came back before the case's deadline.
pub const STOPS_ANSWERING: &str = "stops answering: no response within the case's deadline (seed 000 I (vii): \"send the response over the TCP connection to the requesting browser\")";

/// A response without `Content-Type`, or with another type than the file's.
pub const WRONG_TYPE: &str = "sends no Content-Type, or not the file's (seed 000 I (vi): \"the HTTP response code, Content-size Content-type fields should be set properly\")";

/// A response without `Content-Length`, or with another length than the file's.
pub const WRONG_LENGTH: &str = "sends no Content-Length, or not the file's size (seed 000 I (vi): \"the HTTP response code, Content-size Content-type fields should be set properly\")";

/// The body is not the file, byte for byte.
pub const NOT_THE_FILE: &str = "sends other bytes than the file's (seed 000 I (vi): \"an HTTP response message consisting of the requested file\")";

/// A status other than the one the request calls for.
pub const WRONG_STATUS: &str = "answers with another status than the seed's (seed 000 I (vi): \"the HTTP response code ... should be set properly\"; (vii): \"404 Not Found\" for a file not present)";

/// A request reaches a file outside the web root.
pub const LEAVES_ROOT: &str = "serves files outside its web root (seed 000 I (v): \"get the requested file from the server's file system\": the files it serves; SPEC 5: \"paths that escape the root ... never reach a file outside it\")";
