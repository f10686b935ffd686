//! The seed-001 peer protocol as pure functions over bytes: no sockets, files or clock.
//!
//! Messages have no delimiter on the wire (the seed sends one message per `send()`), so the
//! decoders are incremental parsers that know how long payloads are and accept an optional
//! `\n` / `\r\n` after any message.

pub mod chunk;
pub mod codec;
mod cursor;
pub mod digest;
pub mod fast;
mod framing;
pub mod lines;
pub mod names;

pub use chunk::{CHUNK_SIZE, chunk_count, chunk_len, chunk_offset};
pub use codec::{
    Decoded, END_MARKERS, Expect, ProtocolError, Reply, Request, decode_reply, decode_request,
};
pub use framing::{Framing, extensions};
pub use names::validate_file_name;
