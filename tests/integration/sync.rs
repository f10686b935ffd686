//! Real `--sync` processes and a real tracker on loopback converge on the newest copies.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::util::{TIMEOUT, bin, random_bytes, wait_until};

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn write_with_mtime(dir: &Path, name: &str, bytes: &[u8], mtime: u64) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
}

fn mtime(path: &Path) -> Option<u64> {
    Some(
        std::fs::metadata(path)
            .ok()?
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs(),
    )
}

#[test]
fn three_synchronizers_converge_on_the_newest_copies() {
    let root = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tracker_addr = format!("127.0.0.1:{port}");
    let mut procs = Procs(vec![spawn(&["--tracker", &tracker_addr])]);
    wait_until("tracker", || {
        std::net::TcpStream::connect(&tracker_addr).is_ok()
    });
    let dirs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| root.path().join(n))
        .collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let big = random_bytes(300_000, 1);
    write_with_mtime(&dirs[0], "only_a.bin", &big, 1_600_000_000);
    write_with_mtime(&dirs[1], "only_b.txt", b"from b", 1_600_000_100);
    // The same name in three versions: c's is newest and must win everywhere; a's older copy
    // must not overwrite b's newer one on the way.
    write_with_mtime(&dirs[0], "shared.txt", b"old (a)", 1_500_000_000);
    write_with_mtime(&dirs[1], "shared.txt", b"middle (b)", 1_550_000_000);
    write_with_mtime(&dirs[2], "shared.txt", b"newest (c)", 1_700_000_000);
    for d in &dirs {
        procs.0.push(spawn(&[
            "--sync",
            &tracker_addr,
            "--dir",
            d.to_str().unwrap(),
        ]));
    }
    let deadline = Instant::now() + TIMEOUT;
    let converged = |d: &Path| {
        std::fs::read(d.join("only_a.bin")).ok().as_deref() == Some(&big[..])
            && std::fs::read(d.join("only_b.txt")).ok().as_deref() == Some(&b"from b"[..])
            && std::fs::read(d.join("shared.txt")).ok().as_deref() == Some(&b"newest (c)"[..])
    };
    while !dirs.iter().all(|d| converged(d)) {
        assert!(Instant::now() < deadline, "did not converge");
        // b's newer copy is never replaced by a's older one.
        let b_shared = std::fs::read(dirs[1].join("shared.txt")).unwrap();
        assert_ne!(b_shared, b"old (a)");
        std::thread::sleep(Duration::from_millis(100));
    }
    for d in &dirs {
        assert_eq!(
            mtime(&d.join("shared.txt")),
            Some(1_700_000_000),
            "{}",
            d.display()
        );
        assert_eq!(mtime(&d.join("only_a.bin")), Some(1_600_000_000));
        assert_eq!(mtime(&d.join("only_b.txt")), Some(1_600_000_100));
        let partials = std::fs::read_dir(d.join(".p2p-tui-partial"))
            .unwrap()
            .count();
        assert_eq!(partials, 0);
    }
}
