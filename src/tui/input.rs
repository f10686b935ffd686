//! The command bar: tui-input for editing, plus history (Up/Down) and Tab completion of command
//! words, peer IDs and file names.

use tui_input::Input;

const COMMANDS: [&str; 6] = [
    "#FILELIST",
    "#UPLOAD",
    "#DOWNLOAD",
    "#PEERS",
    "#HELP",
    "#QUIT",
];

#[derive(Default)]
pub struct CommandBar {
    pub input: Input,
    history: Vec<String>,
    /// Position while browsing history (None: editing a new line).
    browsing: Option<usize>,
}

impl CommandBar {
    pub fn value(&self) -> &str {
        self.input.value()
    }

    /// Takes the typed line, remembering it in the history.
    pub fn submit(&mut self) -> String {
        let line = self.input.value_and_reset();
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            self.history.push(line.clone());
        }
        self.browsing = None;
        line
    }

    pub fn history_up(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let at = self
            .browsing
            .map_or(self.history.len() - 1, |i| i.saturating_sub(1));
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
                self.input.reset();
            }
            None => {}
        }
    }

    /// Completes the last word: a command word first, then file names (the second word of
    /// #UPLOAD / #DOWNLOAD), then peer IDs. Several candidates: completes their common prefix.
    pub fn complete(&mut self, peers: &[String], files: &[String]) {
        let value = self.input.value().to_string();
        let (head, word) = match value.rfind(' ') {
            Some(i) => (&value[..=i], &value[i + 1..]),
            None => ("", value.as_str()),
        };
        let position = head.split_whitespace().count();
        let verb = head
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let candidates: Vec<&str> = if position == 0 {
            COMMANDS.to_vec()
        } else if position == 1 && (verb == "#UPLOAD" || verb == "#DOWNLOAD") {
            files.iter().map(String::as_str).collect()
        } else {
            peers.iter().map(String::as_str).collect()
        };
        let upper = word.to_ascii_uppercase();
        let matching: Vec<&str> = candidates
            .into_iter()
            .filter(|c| {
                if position == 0 {
                    c.starts_with(&upper)
                } else {
                    c.starts_with(word)
                }
            })
            .collect();
        let Some(first) = matching.first() else {
            return;
        };
        let common = matching
            .iter()
            .fold(first.to_string(), |acc, c| common_prefix(&acc, c));
        let mut completed = format!("{head}{common}");
        if matching.len() == 1 {
            completed.push(' ');
        }
        if completed.len() >= value.len() {
            self.input = Input::new(completed);
        }
    }
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
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD ");
        let mut b = bar("#DOWNLOAD o");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD ocean.txt ");
        let mut b = bar("#DOWNLOAD f");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD f");
        let mut b = bar("#DOWNLOAD f1.txt p");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#DOWNLOAD f1.txt p");
        let mut b = bar("#FILELIST p2 p3");
        b.complete(&peers, &files);
        assert_eq!(b.value(), "#FILELIST p2 p3 ");
    }

    #[test]
    fn history_walks_back_and_forth() {
        let mut b = bar("#PEERS");
        b.submit();
        b.input = Input::new("#HELP".into());
        b.submit();
        b.history_up();
        assert_eq!(b.value(), "#HELP");
        b.history_up();
        assert_eq!(b.value(), "#PEERS");
        b.history_up();
        assert_eq!(b.value(), "#PEERS");
        b.history_down();
        assert_eq!(b.value(), "#HELP");
        b.history_down();
        assert_eq!(b.value(), "");
    }
}
