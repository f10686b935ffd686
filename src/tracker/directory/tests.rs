//! The directory's rules, and the index it keeps, checked.
use super::*;

fn f(name: &str, mtime: i64) -> FileEntry {
    FileEntry {
        name: name.into(),
        mtime,
    }
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

#[test]
fn view_lists_peers_and_every_copy_newest_first() {
    let t = Instant::now();
    let mut d = Directory::default();
    d.announce(1, ip(1), 8001, vec![f("a", 10), f("b", 5)], t);
    d.announce(2, ip(2), 8002, vec![f("a", 20)], t);
    let v = d.view(t + Duration::from_millis(1500));
    assert_eq!(v.peers.len(), 2);
    assert_eq!(v.peers[0].ip, "127.0.0.1");
    assert_eq!(v.peers[0].files, vec!["a", "b"]);
    assert_eq!(v.peers[1].silent_ms, 1500);
    let a: Vec<(u16, i64)> = v.files["a"].iter().map(|h| (h.port, h.mtime)).collect();
    assert_eq!(a, vec![(8002, 20), (8001, 10)]);
    assert_eq!(v.files["b"].len(), 1);
}

#[test]
fn newest_copy_wins_and_ties_keep_the_first() {
    let t = Instant::now();
    let mut d = Directory::default();
    d.announce(1, ip(1), 8001, vec![f("a", 10), f("b", 5)], t);
    d.announce(2, ip(2), 8002, vec![f("a", 20), f("b", 5)], t);
    let r = d.response();
    assert_eq!(
        r["a"],
        Holder {
            ip: "127.0.0.2".into(),
            port: 8002,
            mtime: 20
        }
    );
    assert_eq!(
        r["b"],
        Holder {
            ip: "127.0.0.1".into(),
            port: 8001,
            mtime: 5
        }
    );
    // Re-announcing the same copy does not steal the tie.
    d.announce(2, ip(2), 8002, vec![f("a", 20), f("b", 5)], t);
    assert_eq!(d.response()["b"].port, 8001);
}

#[test]
fn departed_and_silent_peers_fall_back_to_the_newest_live_copy() {
    let t = Instant::now();
    let mut d = Directory::default();
    d.announce(1, ip(1), 8001, vec![f("a", 10)], t);
    d.announce(2, ip(2), 8002, vec![f("a", 20), f("only2", 1)], t);
    d.announce(3, ip(3), 8003, vec![f("a", 15)], t);
    assert_eq!(d.remove(2), Some((ip(2), 8002)));
    assert_eq!(d.remove(2), None);
    let r = d.response();
    assert_eq!(r["a"].port, 8003);
    assert!(!r.contains_key("only2"));
    assert!(d.keep_alive(1, ip(1), 8001, t + Duration::from_secs(10)));
    assert_eq!(
        d.expire(t + Duration::from_secs(16), Duration::from_secs(15)),
        vec![3]
    );
    assert_eq!(d.response()["a"].port, 8001);
    assert_eq!(d.holders("a").len(), 1);
}

#[test]
fn a_repeated_initial_replaces_the_file_list() {
    let t = Instant::now();
    let mut d = Directory::default();
    d.announce(1, ip(1), 8001, vec![f("a", 1)], t);
    d.announce(1, ip(1), 8001, vec![f("b", 2)], t);
    assert_eq!(d.response().keys().collect::<Vec<_>>(), vec!["b"]);
}

#[test]
fn holders_lists_every_copy_newest_first() {
    let t = Instant::now();
    let mut d = Directory::default();
    d.announce(1, ip(1), 8001, vec![f("a", 10)], t);
    d.announce(2, ip(1), 8002, vec![f("a", 30)], t);
    d.announce(3, ip(1), 8003, vec![f("a", 10)], t);
    let ports: Vec<u16> = d.holders("a").iter().map(|h| h.port).collect();
    assert_eq!(ports, vec![8002, 8001, 8003]);
}

#[test]
fn a_keep_alive_before_any_initial_registers_the_peer() {
    let t = Instant::now();
    let mut d = Directory::default();
    assert!(!d.keep_alive(9, ip(1), 8009, t));
    assert_eq!(d.peer_count(), 1);
    assert!(d.response().is_empty());
}

/// The directory response and holders as they were computed before the index (from every
/// peer's files), to check the index against.
fn naive_response(d: &Directory) -> BTreeMap<String, Holder> {
    let mut best: BTreeMap<String, (Holder, u64)> = BTreeMap::new();
    for p in d.peers.values() {
        for (file, order) in &p.files {
            let wins = best.get(&file.name).is_none_or(|(held, held_order)| {
                file.mtime > held.mtime || (file.mtime == held.mtime && order < held_order)
            });
            if wins {
                best.insert(file.name.clone(), (p.holder(file.mtime), *order));
            }
        }
    }
    best.into_iter().map(|(n, (h, _))| (n, h)).collect()
}

fn naive_holders(d: &Directory, name: &str) -> Vec<Holder> {
    let mut all: Vec<(Holder, u64)> = d
        .peers
        .values()
        .flat_map(|p| {
            p.files
                .iter()
                .filter(|(f, _)| f.name == name)
                .map(|(f, order)| (p.holder(f.mtime), *order))
        })
        .collect();
    all.sort_by(|(a, ao), (b, bo)| b.mtime.cmp(&a.mtime).then(ao.cmp(bo)));
    all.into_iter().map(|(h, _)| h).collect()
}

proptest::proptest! {
    /// Issue 30: the chosen copies, kept as peers come and go, are always the ones the
    /// rules pick from every peer's files (newest, then first known), and so are the holders.
    #[test]
    fn the_index_always_equals_the_rules_applied_to_every_peer(
        steps in proptest::collection::vec(super::steps::step(5, 6, 3, 2), 1..60),
    ) {
        let mut now = Instant::now();
        let mut d = Directory::default();
        for step in steps {
            step.apply(&mut d, &mut now);
            proptest::prop_assert_eq!(d.response(), naive_response(&d));
            proptest::prop_assert_eq!(d.file_count(), d.response().len());
            for n in 0..6 {
                let name = format!("f{n}");
                proptest::prop_assert_eq!(d.holders(&name), naive_holders(&d, &name));
            }
        }
    }
}

/// Issue 30: announcing is linear in the files listed (it compared each file with every
/// other: a peer of 100,000 files took minutes, under the tracker's lock). A bound a
/// hundred times what it takes, not a race.
#[test]
fn announcing_many_files_again_is_linear() {
    let t = Instant::now();
    let mut d = Directory::default();
    let files: Vec<FileEntry> = (0..100_000).map(|i| f(&format!("file{i:06}"), 1)).collect();
    let started = Instant::now();
    d.announce(1, ip(1), 8001, files.clone(), t);
    d.announce(1, ip(1), 8001, files, t);
    assert_eq!(d.file_count(), 100_000);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
