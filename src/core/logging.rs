//! tracing to stderr; `RUST_LOG` overrides the mode's default level.

use tracing_subscriber::EnvFilter;

pub fn init_stderr(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Under the TUI: log to `<peer dir>/p2p-tui.log`, never the screen. Keep the guard alive.
pub fn init_file(dir: &std::path::Path) -> tracing_appender::non_blocking::WorkerGuard {
    let appender = tracing_appender::rolling::never(dir, "p2p-tui.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false)
        .try_init();
    guard
}

/// Longest piece of a client's text a log line carries.
pub const MAX_LOGGED: usize = 200;

/// Client text as a log line shows it: at most `MAX_LOGGED` bytes, with the original length
/// noted when cut, so a hostile client cannot grow the log faster than its requests are bounded.
pub struct Clip<'a>(pub &'a str);

impl std::fmt::Display for Clip<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0;
        if text.len() <= MAX_LOGGED {
            return f.write_str(text);
        }
        let mut end = MAX_LOGGED;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        write!(f, "{}… ({} bytes)", &text[..end], text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_client_text_is_cut_with_its_length_noted() {
        assert_eq!(Clip("short").to_string(), "short");
        let long = "é".repeat(1000);
        let shown = Clip(&long).to_string();
        assert!(shown.len() <= MAX_LOGGED + 20, "{}", shown.len());
        assert!(shown.ends_with("… (2000 bytes)"), "{shown}");
    }
}
