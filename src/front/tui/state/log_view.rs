//! The message log as the Log panel shows it: where it is scrolled to, whether per-chunk lines
//! are hidden, and the search with its hit. Its keys: j/k, g/G, PgUp/PgDn, Home/End, f, n/N.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::effect::{BarMessage, Effect};
use crate::core::protocol::lines::LineKind;
use crate::front::tui::log::{Log, LogLine};

pub struct LogView {
    pub log: Log,
    /// Lines scrolled back from the newest in the current view (0: following the newest).
    pub scroll: usize,
    /// The filtered view: per-chunk lines hidden.
    pub hide_chunks: bool,
    /// The text searched for with `/`, and the line found (by number).
    pub search: Option<String>,
    pub hit: Option<u64>,
    /// Rows of log text the last frame showed (what a page is).
    pub rows: usize,
}

impl Default for LogView {
    fn default() -> LogView {
        LogView {
            log: Log::default(),
            scroll: 0,
            hide_chunks: false,
            search: None,
            hit: None,
            rows: 1,
        }
    }
}

impl LogView {
    /// Lines logged since the last frame.
    pub fn on_lines(&mut self, lines: Vec<LogLine>) {
        let mut added = 0;
        for line in lines {
            if !(self.hide_chunks && line.chunk) {
                added += 1;
            }
            self.log.push(line.kind, line.text, line.chunk);
        }
        self.hold_place(added);
    }

    /// Logs a line of the UI's own (a typed command's echo, its error, a cancel).
    pub fn log_line(&mut self, kind: LineKind, text: String) {
        self.log.push(kind, text, false);
        self.hold_place(1);
    }

    /// Keeps the view where the user left it while `added` lines arrive below.
    fn hold_place(&mut self, added: usize) {
        if self.scroll > 0 {
            self.scroll = (self.scroll + added).min(self.max_scroll());
        }
    }

    /// Keys with the Log panel focused.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('k') | KeyCode::Up => self.scroll_by(1),
            KeyCode::Char('j') | KeyCode::Down => self.scroll_by(-1),
            KeyCode::Char('g') => self.oldest(),
            KeyCode::Char('G') => self.follow(),
            KeyCode::Char('#') => return vec![Effect::TypeIntoBar(key)],
            _ => {}
        }
        Vec::new()
    }

    /// The log lines the current view shows (indices into `log`), oldest first.
    pub fn view(&self) -> Vec<usize> {
        self.log.view(self.hide_chunks)
    }

    /// Lines a page scrolls: a row less than is shown, so one line stays in sight.
    pub fn page(&self) -> usize {
        self.rows.saturating_sub(1).max(1)
    }

    fn max_scroll(&self) -> usize {
        self.view().len().saturating_sub(self.rows)
    }

    /// Scrolls `lines` back (negative: forward), within the view.
    pub fn scroll_by(&mut self, lines: isize) {
        self.scroll = self
            .scroll
            .saturating_add_signed(lines)
            .min(self.max_scroll());
    }

    /// The oldest page.
    pub fn oldest(&mut self) {
        self.scroll = self.max_scroll();
    }

    /// Follows the newest line.
    pub fn follow(&mut self) {
        self.scroll = 0;
    }

    /// Hides per-chunk lines, or shows them again; says which.
    pub fn toggle_chunks(&mut self) -> BarMessage {
        self.hide_chunks = !self.hide_chunks;
        self.scroll = 0;
        if let Some(seq) = self.hit {
            self.show_line(seq);
        }
        BarMessage::info(if self.hide_chunks {
            "Log: per-chunk lines hidden (f shows them)".into()
        } else {
            "Log: every line (f hides per-chunk lines)".into()
        })
    }

    /// Starts a search for `text` (from the newest line).
    pub fn search_for(&mut self, text: String) -> BarMessage {
        self.search = Some(text);
        self.hit = None;
        self.find(true)
    }

    pub fn end_search(&mut self) {
        self.search = None;
        self.hit = None;
    }

    /// Goes to the next match of the search: older (`n`) or newer (`N`), wrapping around.
    pub fn find(&mut self, older: bool) -> BarMessage {
        let Some(text) = self.search.clone() else {
            return BarMessage::info("Nothing searched yet: / starts a search".into());
        };
        let view = self.view();
        let matches: Vec<usize> = view
            .iter()
            .enumerate()
            .filter(|(_, i)| self.log.get(**i).is_some_and(|l| l.text.contains(&text)))
            .map(|(at, _)| at)
            .collect();
        let Some(at) = self.next_match(&view, &matches, older) else {
            self.hit = None;
            return BarMessage::error(format!("No line of the log contains \"{text}\""));
        };
        let number = matches.iter().position(|&m| m == at).unwrap_or(0) + 1;
        self.hit = self.log.get(view[at]).map(|l| l.seq);
        if let Some(seq) = self.hit {
            self.show_line(seq);
        }
        BarMessage::info(format!(
            "\"{text}\": match {number} of {} (n older, N newer, Esc ends)",
            matches.len()
        ))
    }

    /// The match after the current hit (positions in `view`), else the first one round.
    fn next_match(&self, view: &[usize], matches: &[usize], older: bool) -> Option<usize> {
        // Where the search goes from: the current hit, else just past the newest line.
        let from = self
            .hit
            .and_then(|seq| self.log.index_of(seq))
            .and_then(|i| view.iter().position(|&v| v == i))
            .unwrap_or(view.len());
        let at = if older {
            matches.iter().rev().find(|&&m| m < from).or(matches.last())
        } else {
            matches.iter().find(|&&m| m > from).or(matches.first())
        };
        at.copied()
    }

    /// Scrolls so that line `seq` is on screen, a third of the way up from the bottom.
    fn show_line(&mut self, seq: u64) {
        let view = self.view();
        let Some(at) = self
            .log
            .index_of(seq)
            .and_then(|i| view.iter().position(|&v| v == i))
        else {
            return;
        };
        let below = view.len() - 1 - at;
        self.scroll = below.saturating_sub(self.rows / 3).min(self.max_scroll());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::tui::app_tests::line;

    fn texts(view: &LogView) -> Vec<String> {
        (view.view().iter())
            .map(|&i| view.log.get(i).unwrap().text.clone())
            .collect()
    }

    #[test]
    fn f_hides_chunk_lines_and_outcomes_survive_a_chunk_flood() {
        let mut view = LogView::default();
        view.on_lines(vec![line(
            LineKind::Error,
            "File other.txt download failed",
            false,
        )]);
        view.on_lines(
            (0..12_000)
                .map(|n| {
                    line(
                        LineKind::Reply,
                        &format!("Server (p2): 200 File big chunk {n}"),
                        true,
                    )
                })
                .collect(),
        );
        view.on_lines(vec![line(
            LineKind::Outcome,
            "File big download success",
            false,
        )]);
        view.toggle_chunks();
        assert!(view.hide_chunks);
        assert_eq!(
            texts(&view),
            [
                "File other.txt download failed",
                "File big download success"
            ]
        );
        view.toggle_chunks();
        assert!(texts(&view).len() > 1000);
        assert_eq!(texts(&view)[0], "File other.txt download failed");
    }
}
