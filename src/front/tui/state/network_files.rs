//! What the network offers, as the Network files panel shows it: the files other peers listed
//! (`#FILELIST` replies) and, with `--join`, the tracker's directory, grouped by name with who
//! holds them; which one is selected. Its keys: j/k select, Enter or D downloads.

use std::collections::BTreeMap;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::effect::{Action, BarMessage, ECHO, Effect};
use super::peers::{Holder, Peers};
use crate::core::protocol::lines::LineKind;
use crate::peer::client::FilesListed;
use crate::peer::command::Command;
use crate::tracker::join::NetworkView;

/// A file some other peer offers, and who holds it (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFile {
    pub name: String,
    pub holders: Vec<Holder>,
}

#[derive(Default)]
pub struct NetworkFiles {
    /// What other peers listed in `#FILELIST` replies: file name to the peers that hold it.
    pub listed: BTreeMap<String, Vec<String>>,
    /// With `--join`: the tracker's view, refreshed with the served files.
    pub tracker: Option<NetworkView>,
    /// The selected row.
    pub selected: usize,
}

impl NetworkFiles {
    /// A peer's whole list: it holds these files, and no longer the others it listed before.
    pub fn on_files_listed(&mut self, list: FilesListed) {
        for holders in self.listed.values_mut() {
            holders.retain(|h| *h != list.peer);
        }
        for file in list.files {
            let holders = self.listed.entry(file).or_default();
            holders.push(list.peer.clone());
            holders.sort();
        }
        self.listed.retain(|_, holders| !holders.is_empty());
    }

    /// Files other peers offer: from `#FILELIST` replies and, with `--join`, the tracker;
    /// grouped by name, holders named by their settings ID where they have one.
    pub fn files(&self, peers: &Peers) -> Vec<NetworkFile> {
        let mut files: BTreeMap<String, Vec<Holder>> = (self.listed.iter())
            .map(|(name, ids)| {
                (
                    name.clone(),
                    ids.iter().map(|id| peers.holder(id)).collect(),
                )
            })
            .collect();
        if let Some(view) = &self.tracker {
            for (name, at) in &view.directory {
                let holder = peers.holder_at(&at.ip, at.port);
                if holder == Holder::Peer(peers.me.clone()) {
                    continue;
                }
                let holders = files.entry(name.clone()).or_default();
                if !holders.contains(&holder) {
                    holders.push(holder);
                }
            }
        }
        (files.into_iter())
            .map(|(name, mut holders)| {
                holders.sort_by(|a, b| a.name().cmp(b.name()));
                NetworkFile { name, holders }
            })
            .collect()
    }

    /// Selects the `n`-th file (the last if there are fewer).
    pub fn select(&mut self, n: usize, peers: &Peers) {
        self.selected = n.min(self.files(peers).len().saturating_sub(1));
    }

    /// Keys with the Network files panel focused.
    pub fn on_key(&mut self, key: KeyEvent, peers: &Peers) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.select(self.selected + 1, peers),
            KeyCode::Char('k') | KeyCode::Up => {
                self.selected = self.selected.saturating_sub(1);
            }
            KeyCode::Enter | KeyCode::Char('D') => return self.download_selected(peers),
            KeyCode::Char('#') => return vec![Effect::TypeIntoBar(key)],
            _ => {}
        }
        Vec::new()
    }

    /// Downloads the selected file from every holder.
    fn download_selected(&self, peers: &Peers) -> Vec<Effect> {
        let files = self.files(peers);
        let Some(file) = files.get(self.selected) else {
            return Vec::new();
        };
        // A holder seen going offline is skipped (its entries are marked, not dropped: it may
        // come back with the same files).
        let holders: Vec<&Holder> = (file.holders.iter())
            .filter(|h| !peers.holder_offline(h))
            .collect();
        if holders.is_empty() {
            let text = format!("Every peer that listed {} is offline", file.name);
            return vec![Effect::Say(BarMessage::error(text))];
        }
        let ids: Vec<String> = (holders.iter())
            .filter_map(|h| match h {
                Holder::Peer(id) => Some(id.clone()),
                Holder::Address(_) => None,
            })
            .collect();
        // Holders only the tracker knows are reached through it (no peer list).
        let known = ids.len() == holders.len();
        let from = if known || self.tracker.is_none() {
            ids
        } else {
            Vec::new()
        };
        let line = format!("#DOWNLOAD {} {}", file.name, from.join(" "));
        let command = Command::Download {
            file: file.name.clone(),
            peers: from,
        };
        vec![
            Effect::Log(LineKind::Request, format!("{ECHO}{}", line.trim_end())),
            Effect::Act(Action::Run(command)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::KeyModifiers;

    use super::*;
    use crate::front::tui::app_tests::demo_peers;

    fn peer(id: &str) -> super::Holder {
        super::Holder::Peer(id.into())
    }

    fn listed(network: &mut NetworkFiles, peer: &str, files: &[&str]) {
        network.on_files_listed(FilesListed {
            peer: peer.into(),
            files: files.iter().map(|f| f.to_string()).collect(),
        });
    }

    #[test]
    fn network_files_group_holders_and_a_key_downloads_from_all_of_them() {
        let peers = Peers::new("p1", &demo_peers());
        let mut network = NetworkFiles::default();
        listed(&mut network, "p2", &["ocean.txt", "river.txt"]);
        listed(&mut network, "p4", &["river.txt"]);
        listed(&mut network, "p3", &["river.txt", "gone.txt"]);
        // p3's newer list replaces its older one.
        listed(&mut network, "p3", &["river.txt"]);
        assert_eq!(
            network.files(&peers),
            [
                NetworkFile {
                    name: "ocean.txt".into(),
                    holders: vec![peer("p2")]
                },
                NetworkFile {
                    name: "river.txt".into(),
                    holders: vec![peer("p2"), peer("p3"), peer("p4")]
                },
            ]
        );
        let press = |network: &mut NetworkFiles, code| {
            network.on_key(KeyEvent::new(code, KeyModifiers::NONE), &peers)
        };
        press(&mut network, KeyCode::Char('j'));
        assert_eq!(
            press(&mut network, KeyCode::Enter),
            [
                Effect::Log(
                    LineKind::Request,
                    "Input your command: #DOWNLOAD river.txt p2 p3 p4".into()
                ),
                Effect::Act(Action::Run(Command::Download {
                    file: "river.txt".into(),
                    peers: vec!["p2".into(), "p3".into(), "p4".into()]
                }))
            ]
        );
    }

    #[test]
    fn tracker_holders_are_named_by_their_settings_id() {
        use crate::tracker::Holder;
        let peers = Peers::new("p1", &demo_peers());
        let mut network = NetworkFiles::default();
        let mut view = crate::tracker::join::NetworkView::default();
        for (name, port) in [("f1.txt", 50002), ("synced.md", 41234)] {
            view.directory.insert(
                name.into(),
                Holder {
                    ip: "127.0.0.1".into(),
                    port,
                    mtime: 0,
                },
            );
        }
        network.tracker = Some(view);
        let files = network.files(&peers);
        assert_eq!(files[0].holders, [peer("p2")]);
        assert_eq!(
            files[1].holders,
            [super::Holder::Address("127.0.0.1:41234".into())],
            "a peer only the tracker knows"
        );
    }
}
