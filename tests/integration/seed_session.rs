//! The seed's sample session, piped into `--line`: every printed line must appear exactly as in
//! the seed (compared per command as a multiset, since thread timing may reorder lines).

use crate::util::{Net, random_bytes};

const SEED_TRANSCRIPT: &str = "\
Input your command: #FILELIST p2 p3 p4
Client (p4): #FILELIST
Client (p3): #FILELIST
Client (p2): #FILELIST
Server (p3): 200 Files served: f1.txt f5.txt
Server (p4): 200 Files served: f1.txt
Server (p2): 200 Files served: f1.txt

Input your command: #UPLOAD f2.txt p2 p3
Uploading file f2.txt
Client (p2): #UPLOAD f2.txt bytes 131
Client (p3): #UPLOAD f2.txt bytes 131
Server (p3): 330 Ready to receive file f2.txt
Client (p3): #UPLOAD f2.txt chunk 0
Server (p2): 330 Ready to receive file f2.txt
Client (p2): #UPLOAD f2.txt chunk 0
Server (p3): 200 File f2.txt chunk 0 received
Server (p2): 200 File f2.txt chunk 0 received
Client (p2): #UPLOAD f2.txt chunk 1
Server (p2): 200 File f2.txt chunk 1 received
Client (p3): #UPLOAD f2.txt chunk 1
Server (p3): 200 File f2.txt chunk 1 received
Server (p2): 200 File f2.txt received
Server (p3): 200 File f2.txt received
File f2.txt upload success
File f2.txt upload success

Input your command: #DOWNLOAD f1.txt p2 p3 p4
Downloading file f1.txt
Client (p2): #DOWNLOAD f1.txt
Client (p3): #DOWNLOAD f1.txt
Client (p4): #DOWNLOAD f1.txt
Server (p2): 330 Ready to send file f1.txt bytes 950
Client (p2): #DOWNLOAD f1.txt chunk 0
Server (p3): 330 Ready to send file f1.txt bytes 950
Server (p4): 330 Ready to send file f1.txt bytes 950
Client (p3): #DOWNLOAD f1.txt chunk 1
Client (p4): #DOWNLOAD f1.txt chunk 2
Server (p2): 200 File f1.txt chunk 0
Client (p2): #DOWNLOAD f1.txt chunk 3
Server (p3): 200 File f1.txt chunk 1
Server (p4): 200 File f1.txt chunk 2
Client (p3): #DOWNLOAD f1.txt chunk 4
Client (p4): #DOWNLOAD f1.txt chunk 5
Server (p4): 200 File f1.txt chunk 5
Client (p4): #DOWNLOAD f1.txt chunk 8
Server (p2): 200 File f1.txt chunk 3
Client (p2): #DOWNLOAD f1.txt chunk 6
Server (p3): 200 File f1.txt chunk 4
Client (p3): #DOWNLOAD f1.txt chunk 7
Server (p4): 200 File f1.txt chunk 8
Server (p2): 200 File f1.txt chunk 6
Client (p2): #DOWNLOAD f1.txt chunk 9
Server (p3): 200 File f1.txt chunk 7
Server (p2): 200 File f1.txt chunk 9
File f1.txt download success
";

/// Lines grouped by command (a group starts at each prompt), each group sorted.
fn per_command(lines: &[String]) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for line in lines.iter().filter(|l| !l.is_empty()) {
        if line.starts_with("Input your command: ") || groups.is_empty() {
            groups.push(Vec::new());
        }
        if let Some(group) = groups.last_mut() {
            group.push(line.clone());
        }
    }
    for group in &mut groups {
        group.sort();
    }
    groups
}

#[test]
fn line_console_reproduces_the_seed_sample_session() {
    // The seed's layout: p1 serves f2.txt (131 bytes); p2, p3, p4 serve f1.txt (950 bytes); p3 also f5.txt.
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    let f1 = random_bytes(950, 1);
    net.put("p1", "f2.txt", &random_bytes(131, 2));
    for id in ["p2", "p3", "p4"] {
        net.put(id, "f1.txt", &f1);
        net.start(id, &[]);
    }
    net.put("p3", "f5.txt", b"five");
    let mut p1 = net.console("p1", &[]);
    for command in [
        "#FILELIST p2 p3 p4",
        "#UPLOAD f2.txt p2 p3",
        "#DOWNLOAD f1.txt p2 p3 p4",
    ] {
        p1.send(command);
    }
    let (status, lines) = p1.finish();
    assert!(status.success(), "console exit status {status}");
    let expected: Vec<String> = SEED_TRANSCRIPT.lines().map(str::to_string).collect();
    let got = per_command(&lines);
    let want = per_command(&expected);
    // The final prompt, answered by end of input, stands alone.
    assert_eq!(got.len(), want.len() + 1, "{lines:#?}");
    assert_eq!(got.last(), Some(&vec!["Input your command: ".to_string()]));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    assert_eq!(net.served("p1", "f1.txt"), Some(f1));
}
