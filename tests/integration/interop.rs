//! Interoperation with a naive lockstep peer, in both directions.

use crate::naive::{NaiveClient, NaiveServer};
use crate::util::{Net, random_bytes, sha256};

#[test]
fn our_client_downloads_and_uploads_with_a_naive_server() {
    // p2 is the naive peer; p3 is ours. A download is shared between them.
    let mut net = Net::new(&["p1", "p2", "p3"]);
    let naive = NaiveServer::start(net.port("p2"), net.dir("p2"));
    net.start("p3", &[]);
    let data = random_bytes(9_999, 21);
    net.put("p2", "f.bin", &data);
    net.put("p3", "f.bin", &data);
    let up = random_bytes(1_234, 22);
    net.put("p1", "up.bin", &up);
    let mut p1 = net.console("p1", &[]);
    p1.send("#FILELIST p2");
    p1.expect_line("Server (p2): 200 Files served: f.bin");
    p1.send("#DOWNLOAD f.bin p2 p3");
    p1.expect_line("File f.bin download success");
    assert_eq!(p1.count("Client (p2): #DOWNLOAD f.bin chunk 98"), 1);
    assert_eq!(sha256(&net.served("p1", "f.bin").unwrap()), sha256(&data));
    p1.send("#UPLOAD up.bin p2");
    p1.expect_line("File up.bin upload success");
    assert_eq!(net.served("p2", "up.bin"), Some(up));
    let violations = naive.violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "the naive server saw: {violations:?}"
    );
}

#[test]
fn a_naive_client_uses_our_server() {
    let mut net = Net::new(&["p1", "p2"]);
    net.start("p2", &[]);
    let data = random_bytes(5_432, 23);
    net.put("p2", "f.bin", &data);
    let list = NaiveClient::connect(net.port("p2")).exchange(b"#FILELIST");
    assert_eq!(list, b"200 Files served: f.bin");
    let got = NaiveClient::connect(net.port("p2")).download("f.bin");
    assert_eq!(sha256(&got), sha256(&data));
    let up = random_bytes(250, 24);
    let replies = NaiveClient::connect(net.port("p2")).upload("up.bin", &up);
    assert_eq!(replies[0], "330 Ready to receive file up.bin");
    assert_eq!(replies[1], "200 File up.bin chunk 0 received");
    let tail = replies[3..].concat();
    assert_eq!(
        tail,
        "200 File up.bin chunk 2 received200 File up.bin received"
    );
    assert_eq!(net.served("p2", "up.bin"), Some(up));
}
