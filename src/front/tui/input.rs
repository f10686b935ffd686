//! The command bar: tui-input for editing, plus history (Up/Down, the line being typed kept as
//! the newest entry) and Tab completion of command words, peer IDs and file names (several
//! candidates: the common part first, then each in turn, as zsh does).

use tui_input::Input;

use crate::peer::command::{self, COMMANDS, Takes};

/// History entries kept (in memory and in the history file).
pub use crate::front::history::KEPT as HISTORY_KEPT;

#[derive(Default)]
pub struct CommandBar {
    pub input: Input,
    history: Vec<String>,
    /// Position while browsing history (None: editing a new line).
    browsing: Option<usize>,
    /// The line being typed when browsing started: Down past the newest entry brings it back.
    draft: String,
    /// Tab pressed again with several candidates: the line before the word, the candidates,
    /// and the one shown.
    cycle: Option<Cycle>,
}

struct Cycle {
    head: String,
    candidates: Vec<String>,
    shown: usize,
}

/// What a Tab did, for the message line.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    None,
    /// Completed to the only candidate, or to the common part of several.
    Done,
    /// Several candidates: these, the shown one first after a cycle step.
    Several(Vec<String>),
}

impl CommandBar {
    pub fn value(&self) -> &str {
        self.input.value()
    }

    /// Starts from a history read back from disk (oldest first).
    pub fn with_history(history: Vec<String>) -> CommandBar {
        let skip = history.len().saturating_sub(HISTORY_KEPT);
        CommandBar {
            history: history.into_iter().skip(skip).collect(),
            ..CommandBar::default()
        }
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Empties the line and leaves the history (Ctrl-C in the line console).
    pub fn clear(&mut self) {
        self.input.reset();
        self.browsing = None;
        self.draft.clear();
        self.cycle = None;
    }

    /// Any key other than Tab ends a completion cycle.
    pub fn end_cycle(&mut self) {
        self.cycle = None;
    }

    /// Takes the typed line, remembering it in the history.
    pub fn submit(&mut self) -> String {
        let line = self.input.value_and_reset();
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            self.history.push(line.clone());
            if self.history.len() > HISTORY_KEPT {
                self.history.remove(0);
            }
        }
        self.browsing = None;
        self.draft.clear();
        self.cycle = None;
        line
    }

    pub fn history_up(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let at = match self.browsing {
            Some(i) => i.saturating_sub(1),
            None => {
                self.draft = self.input.value().to_string();
                self.history.len() - 1
            }
        };
        self.browsing = Some(at);
        self.input = Input::new(self.history[at].clone());
    }

    pub fn history_down(&mut self) {
        match self.browsing {
            Some(i) if i + 1 < self.history.len() => {
                self.browsing = Some(i + 1);
                self.input = Input::new(self.history[i + 1].clone());
            }
            Some(_) => {
                self.browsing = None;
                self.input = Input::new(std::mem::take(&mut self.draft));
            }
            None => {}
        }
    }

    /// Completes the last word: a command word first, then file names (the second word of a
    /// command taking a file: #UPLOAD / #DOWNLOAD), then peer IDs. Several candidates: their common part; Tab again
    /// shows each in turn.
    pub fn complete(&mut self, peers: &[String], files: &[String]) -> Completion {
        if let Some(cycle) = &mut self.cycle {
            cycle.shown = (cycle.shown + 1) % cycle.candidates.len();
            let word = &cycle.candidates[cycle.shown];
            self.input = Input::new(format!("{}{word}", cycle.head));
            let mut listed = cycle.candidates.clone();
            listed.rotate_left(cycle.shown);
            return Completion::Several(listed);
        }
        let value = self.input.value().to_string();
        let (head, word) = match value.rfind(' ') {
            Some(i) => (&value[..=i], &value[i + 1..]),
            None => ("", value.as_str()),
        };
        let matching = candidates(head, word, peers, files);
        let Some(first) = matching.first() else {
            return Completion::None;
        };
        let common = matching
            .iter()
            .fold(first.to_string(), |acc, c| common_prefix(&acc, c));
        if matching.len() == 1 {
            self.input = Input::new(format!("{head}{common} "));
            return Completion::Done;
        }
        let listed: Vec<String> = matching.iter().map(|c| c.to_string()).collect();
        if common.len() > word.len() {
            // Progress: the common part now, the list shown; the next Tab starts the cycle.
            self.input = Input::new(format!("{head}{common}"));
        } else {
            // Nothing in common left to add: show each candidate in turn.
            self.input = Input::new(format!("{head}{}", listed[0]));
            self.cycle = Some(Cycle {
                head: head.to_string(),
                candidates: listed.clone(),
                shown: 0,
            });
        }
        Completion::Several(listed)
    }
}

/// What `word` may complete to after `head`: a command word first (any case), then a file name
/// (the second word of #UPLOAD / #DOWNLOAD), then peer IDs.
fn candidates<'a>(
    head: &str,
    word: &str,
    peers: &'a [String],
    files: &'a [String],
) -> Vec<&'a str> {
    let position = head.split_whitespace().count();
    let verb = head
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let candidates: Vec<&str> = if position == 0 {
        COMMANDS.iter().map(|c| c.word).collect()
    } else if position == 1
        && command::lookup(&verb).is_some_and(|c| c.takes == Takes::FileThenPeers)
    {
        files.iter().map(String::as_str).collect()
    } else {
        peers.iter().map(String::as_str).collect()
    };
    let upper = word.to_ascii_uppercase();
    candidates
        .into_iter()
        .filter(|c| {
            if position == 0 {
                c.starts_with(&upper)
            } else {
                c.starts_with(word)
            }
        })
        .collect()
}

fn common_prefix(a: &str, b: &str) -> String {
    a.chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(text: &str) -> CommandBar {
        CommandBar {
            input: Input::new(text.into()),
            ..CommandBar::default()
        }
    }

    #[test]
    fn tab_completes_commands_files_and_peers() {
        let peers = vec!["p2".to_string(), "p3".to_string()];
        let files = vec![
            "f1.txt".to_string(),
            "f5.txt".to_string(),
            "ocean.txt".to_string(),
        ];
        let mut b = bar("#dow");
        assert_eq!(b.complete(&peers, &files), Completion::Done);
        assert_eq!(b.value(), "#DOWNLOAD ");
        let mut b = bar("#DOWNLOAD o");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD ocean.txt ");
        let mut b = bar("#FILELIST p2 p3");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#FILELIST p2 p3 ");
    }

    #[test]
    fn tab_with_several_candidates_lists_then_cycles_through_them() {
        let peers = vec!["p2".to_string(), "p3".to_string()];
        let files = vec!["f1.txt".to_string(), "f5.txt".to_string()];
        let mut b = bar("#DOWNLOAD f");
        // "f" to "f" adds nothing: the first candidate is shown, and the list.
        assert_eq!(
            b.complete(&peers, &files),
            Completion::Several(vec!["f1.txt".into(), "f5.txt".into()])
        );
        assert_eq!(b.value(), "#DOWNLOAD f1.txt");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD f5.txt");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD f1.txt");
        b.end_cycle();
        let mut b = bar("#DOWNLOAD f1.txt p");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD f1.txt p2");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD f1.txt p3");
        // A common part is completed first, without cycling.
        let files = vec!["river-1.txt".to_string(), "river-2.txt".to_string()];
        let mut b = bar("#DOWNLOAD ri");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD river-");
    }

    #[test]
    fn history_walks_back_and_forth_keeping_the_line_being_typed() {
        let mut b = bar("#PEERS");
        b.submit();
        b.input = Input::new("#HELP".into());
        b.submit();
        b.input = Input::new("#DOWNLOAD half".into());
        b.history_up();
        assert_eq!(b.value(), "#HELP");
        b.history_up();
        assert_eq!(b.value(), "#PEERS");
        b.history_up();
        assert_eq!(b.value(), "#PEERS");
        b.history_down();
        assert_eq!(b.value(), "#HELP");
        b.history_down();
        assert_eq!(b.value(), "#DOWNLOAD half");
    }

    #[test]
    fn history_read_back_keeps_the_newest() {
        let old: Vec<String> = (0..HISTORY_KEPT + 5).map(|n| format!("#L{n}")).collect();
        let mut b = CommandBar::with_history(old);
        assert_eq!(b.history().len(), HISTORY_KEPT);
        b.history_up();
        assert_eq!(b.value(), format!("#L{}", HISTORY_KEPT + 4));
    }
}
