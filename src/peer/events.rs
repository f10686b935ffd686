//! What peer tasks report to a front end: the seed's terminal lines, typed by kind.
//!
//! Lines go through a `LineSink` (a buffered writer for the console, a bounded ring for the TUI),
//! never one channel message per chunk.

use std::fmt::Display;
use std::sync::Arc;

use crate::protocol::lines::{self, LineKind};

/// Receives the lines a command prints. Implementations must be cheap: called per chunk.
pub trait LineSink: Send + Sync {
    fn emit(&self, kind: LineKind, text: String);
}

/// The handle peer tasks use to report; cloned into every task.
#[derive(Clone)]
pub struct Reporter {
    sink: Arc<dyn LineSink>,
}

impl Reporter {
    pub fn new(sink: Arc<dyn LineSink>) -> Self {
        Reporter { sink }
    }

    pub fn line(&self, kind: LineKind, text: String) {
        self.sink.emit(kind, text);
    }

    /// `Client (pX): <request>`
    pub fn sent(&self, peer: &str, request: impl Display) {
        self.line(LineKind::Request, lines::client_sent(peer, request));
    }

    /// `Server (pX): <reply>`
    pub fn replied(&self, peer: &str, reply: impl Display) {
        self.line(LineKind::Reply, lines::server_replied(peer, reply));
    }

    pub fn outcome(&self, text: String) {
        self.line(LineKind::Outcome, text);
    }

    pub fn error(&self, text: String) {
        self.line(LineKind::Error, text);
    }

    /// A command's final line: an outcome if it succeeded, an error if not.
    pub fn result(&self, success: bool, text: String) {
        self.line(
            if success {
                LineKind::Outcome
            } else {
                LineKind::Error
            },
            text,
        );
    }

    pub fn note(&self, text: String) {
        self.line(LineKind::Note, text);
    }
}

/// A sink that keeps every line in memory, for tests.
#[derive(Default)]
pub struct MemorySink {
    pub lines: std::sync::Mutex<Vec<(LineKind, String)>>,
}

impl LineSink for MemorySink {
    fn emit(&self, kind: LineKind, text: String) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((kind, text));
    }
}
