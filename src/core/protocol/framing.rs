//! How messages are delimited, and the words of p2p-tui's extensions to seed 001.

/// How a message was (or is to be) delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// The seed's form: the message bytes alone, one message per write.
    #[default]
    Bare,
    /// Followed by `\n`: used only between p2p-tui peers, so pipelined messages never run together.
    Line,
}

/// The extensions a p2p-tui peer announces in answer to `#EXTENSIONS` (not in the seeds).
pub mod extensions {
    /// Requests ended by `\n` may be pipelined.
    pub const PIPELINE: &str = "pipeline";
    /// The peer answers `#DIGEST f` with a description of the file's content.
    pub const DIGEST: &str = "digest";
    /// Chunk requests of the download a connection opened may be sent as `+<index>\n`, answered
    /// by `+` and the chunk's bytes (see `protocol::fast`).
    pub const COMPACT: &str = "compact";
}
