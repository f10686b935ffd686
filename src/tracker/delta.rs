//! Directory deltas for p2p-tui members (issue 30), as pure functions.
//!
//! A classroom peer's keep-alive gets the seed's whole directory, byte for byte, every time. A
//! p2p-tui member adds `"since": N` to its initial and keep-alive messages (N: the directory
//! version it holds, 0 for none; a classroom tracker ignores the key and answers with its whole
//! directory, which the member takes as such). The p2p-tui tracker answers such a message with
//! a reply of its own shape, never with extra keys in a directory response (SPEC §4):
//!
//! `{"delta": {"from": N, "to": M, "changed": {name: holder, ...}, "removed": [name, ...]}}`
//!
//! `from` 0 means the whole directory (the member held none, fell behind the tracker's change
//! log, or the tracker restarted): the member replaces its view. Otherwise the member applies
//! the changes to the view it holds at version N and then holds M.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(test)]
use super::directory::Delta;
use super::directory::Holder;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaReply {
    pub from: u64,
    pub to: u64,
    pub changed: BTreeMap<String, Holder>,
    pub removed: Vec<String>,
}

/// The reply to a member holding `since`, from the current directory `current` (at version
/// `to`) and what changed since (`delta`).
#[cfg(test)]
pub fn build(current: &BTreeMap<String, Holder>, since: u64, to: u64, delta: Delta) -> DeltaReply {
    match delta {
        Delta::Full => DeltaReply {
            from: 0,
            to,
            changed: current.clone(),
            removed: Vec::new(),
        },
        Delta::Names(names) => {
            let mut changed = BTreeMap::new();
            let mut removed = Vec::new();
            for name in names {
                match current.get(&name) {
                    Some(holder) => {
                        changed.insert(name, holder.clone());
                    }
                    None => removed.push(name),
                }
            }
            DeltaReply {
                from: since,
                to,
                changed,
                removed,
            }
        }
    }
}

/// The reply as sent: one JSON value and `\n`.
#[cfg(test)]
pub fn encode(reply: &DeltaReply) -> Vec<u8> {
    let mut json = serde_json::to_vec(&serde_json::json!({ "delta": reply })).unwrap_or_default();
    json.push(b'\n');
    json
}

/// A reply on the wire, borrowed from the directory (no copy of it is made to send it): keys
/// in the order `encode` writes them (a JSON value's: sorted, a holder's too).
#[derive(Serialize)]
struct Wire<'a> {
    delta: WireDelta<'a>,
}

#[derive(Serialize)]
struct WireDelta<'a> {
    changed: Changed<'a>,
    from: u64,
    removed: &'a [&'a str],
    to: u64,
}

/// Names and their holders, in order.
struct Changed<'a>(Vec<(&'a str, &'a Holder)>);

impl Serialize for Changed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.0
                .iter()
                .map(|(name, holder)| (name, SortedKeys(holder))),
        )
    }
}

/// A holder with its keys sorted.
struct SortedKeys<'a>(&'a Holder);

impl Serialize for SortedKeys<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut holder = s.serialize_struct("Holder", 3)?;
        holder.serialize_field("ip", &self.0.ip)?;
        holder.serialize_field("mtime", &self.0.mtime)?;
        holder.serialize_field("port", &self.0.port)?;
        holder.end()
    }
}

fn to_wire(changed: Changed<'_>, from: u64, removed: &[&str], to: u64) -> Vec<u8> {
    let delta = WireDelta {
        changed,
        from,
        removed,
        to,
    };
    let mut json = serde_json::to_vec(&Wire { delta }).unwrap_or_default();
    json.push(b'\n');
    json
}

/// The whole directory `current` at version `to`, as sent (`encode` of the `Full` reply).
pub fn encode_whole(current: &BTreeMap<String, Holder>, to: u64) -> Vec<u8> {
    let changed = current.iter().map(|(n, h)| (n.as_str(), h)).collect();
    to_wire(Changed(changed), 0, &[], to)
}

/// The reply bringing a member from `since` to `to`: each of `names` (sorted, no repeats: a
/// JSON object's keys are written in order) as
/// `current` has it, or removed (`encode` of the `Names` reply).
pub fn encode_changes<'a>(
    current: &'a BTreeMap<String, Holder>,
    since: u64,
    to: u64,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<u8> {
    let (mut changed, mut removed) = (Vec::new(), Vec::new());
    for name in names {
        match current.get_key_value(name) {
            Some((name, holder)) => changed.push((name.as_str(), holder)),
            None => removed.push(name),
        }
    }
    to_wire(Changed(changed), since, &removed, to)
}

/// Reads a delta reply; `None` if `value` is not one (a whole directory, even one listing a
/// file named "delta": its entry has no "to").
pub fn parse(value: &Value) -> Option<DeltaReply> {
    let reply = value.get("delta").filter(|d| d.get("to").is_some())?;
    serde_json::from_value(reply.clone()).ok()
}

/// What a member holds: the directory view and its version (0: none, or not known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberView {
    pub version: u64,
    pub directory: BTreeMap<String, Holder>,
}

impl MemberView {
    /// Takes a delta reply; false if it does not follow on from the version held (the view is
    /// then dropped and the next message asks for the whole directory).
    pub fn apply(&mut self, reply: DeltaReply) -> bool {
        if reply.from == 0 {
            self.directory = reply.changed;
        } else if reply.from == self.version {
            for name in reply.removed {
                self.directory.remove(&name);
            }
            self.directory.extend(reply.changed);
        } else {
            *self = MemberView::default();
            return false;
        }
        self.version = reply.to;
        true
    }

    /// A whole directory from a classroom tracker: no version to ask from.
    pub fn replace(&mut self, directory: BTreeMap<String, Holder>) {
        self.version = 0;
        self.directory = directory;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::directory::{Directory, steps};
    use proptest::prelude::*;
    use std::time::Instant;

    /// One step of a tracker's life, or of one member watching it.
    #[derive(Debug, Clone)]
    enum Step {
        Directory(steps::Step),
        /// The member sends a message and applies the reply.
        Sync,
        /// The member's connection is lost: it holds no version any more.
        Reconnect,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => steps::step(6, 8, 4, 3).prop_map(Step::Directory),
            2 => Just(Step::Sync),
            1 => Just(Step::Reconnect),
        ]
    }

    /// The tracker's side of a sync: the reply to a member holding `since`.
    fn reply(dir: &Directory, since: u64) -> DeltaReply {
        let current = dir.response();
        let reply = build(&current, since, dir.version, dir.changed_since(since));
        // Through the wire format and back.
        let value: Value = serde_json::from_slice(&encode(&reply)).unwrap();
        parse(&value).unwrap()
    }

    proptest! {
        #[test]
        fn a_members_view_always_equals_the_whole_directory(
            steps in proptest::collection::vec(step(), 1..80),
            log in 1usize..6,
        ) {
            let start = Instant::now();
            let mut now = start;
            let mut dir = Directory::with_change_log(log);
            let mut member = MemberView::default();
            for step in steps {
                match step {
                    Step::Directory(step) => step.apply(&mut dir, &mut now),
                    Step::Sync => {
                        let r = reply(&dir, member.version);
                        prop_assert!(member.apply(r));
                        prop_assert_eq!(&member.directory, &dir.response());
                        prop_assert_eq!(member.version, dir.version);
                    }
                    Step::Reconnect => member = MemberView::default(),
                }
            }
            let r = reply(&dir, member.version);
            prop_assert!(member.apply(r));
            prop_assert_eq!(&member.directory, &dir.response());
        }
    }

    #[test]
    fn a_reply_that_does_not_follow_on_drops_the_view() {
        let mut view = MemberView {
            version: 5,
            directory: BTreeMap::new(),
        };
        let gap = DeltaReply {
            from: 3,
            to: 9,
            changed: BTreeMap::new(),
            removed: vec![],
        };
        assert!(!view.apply(gap));
        assert_eq!(view, MemberView::default());
    }

    #[test]
    fn a_directory_listing_a_file_named_delta_is_not_a_delta() {
        let value: Value =
            serde_json::from_str(r#"{"delta": {"ip": "127.0.0.1", "port": 1, "mtime": 2}}"#)
                .unwrap();
        assert!(parse(&value).is_none());
    }

    /// The replies written from the directory as it is (no copy) are byte for byte the ones
    /// `encode` writes.
    #[test]
    fn replies_written_in_place_equal_the_encoded_replies() {
        let holder = |port| Holder {
            ip: "127.0.0.1".into(),
            port,
            mtime: 7,
        };
        let current: BTreeMap<String, Holder> = [("a\"b", 1), ("c", 2), ("é", 3)]
            .into_iter()
            .map(|(n, p)| (n.to_string(), holder(p)))
            .collect();
        assert_eq!(
            encode_whole(&current, 9),
            encode(&build(&current, 0, 9, Delta::Full))
        );
        let names = ["c", "gone", "é"];
        let set = names.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            encode_changes(&current, 4, 9, names),
            encode(&build(&current, 4, 9, Delta::Names(set)))
        );
        assert_eq!(
            encode_changes(&current, 9, 9, []),
            encode(&build(&current, 9, 9, Delta::Names(Default::default())))
        );
    }
}
