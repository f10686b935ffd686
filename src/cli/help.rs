//! `--help`'s closing text, and the examples and exit statuses it shares with the man page and
//! the README (checked against each other).

/// The exit statuses, for `--help`, the man page and the README (checked against each other).
pub const EXIT_STATUSES: &[(&str, &str)] = &[
    (
        "0",
        "success; also a peer, tracker, web server or synchronizer stopped by a signal",
    ),
    (
        "1",
        "a runtime or startup error (port in use, missing directory or settings file, unknown peer ID), said in one line on stderr",
    ),
    (
        "2",
        "a usage error (unknown flag, missing or invalid value, a flag of another mode, no mode), said in one line on stderr",
    ),
    (
        "other",
        "--get: 1 for an answer other than 200, 2 for no answer, 128 + N after signal N; --check-*: 1 when a case does not pass",
    ),
];

/// The examples of `--help` and the man page. None runs on the source's demo/ in place: a peer
/// writes into its directory (downloads, its history, its log).
pub(super) const EXAMPLES: &[(&str, &str)] = &[
    (
        "The whole network in one process, from a temporary copy of demo/: peers p2..p4 in the background, p1's UI in front.",
        "p2p-tui --demo",
    ),
    (
        "Work in a copy of the source's demo/ (a settings file and a directory per peer).",
        "cp -r demo /tmp/p2p-demo && cd /tmp/p2p-demo",
    ),
    (
        "There: peer p2's server alone, in the background, its log in a file (--settings defaults to peer_settings.txt, --dir to ./p2).",
        "p2p-tui --peer p2 --headless 2>p2.log &",
    ),
    (
        "There: peer p1 with the full-screen UI (--line: the seed's line console, commands from stdin).",
        "p2p-tui --peer p1",
    ),
    (
        "The tracker, and the web server showing it at /tracker.",
        "p2p-tui --tracker --web",
    ),
    (
        "Fetch one file from a web server.",
        "p2p-tui --get 127.0.0.1 8080 hello.txt",
    ),
    (
        "Install bash completions for the current user.",
        "p2p-tui --completions bash > ~/.local/share/bash-completion/completions/p2p-tui",
    ),
    ("Read the man page.", "p2p-tui --man | man -l -"),
];

/// `--help`'s closing text: the examples and the exit statuses.
pub fn after_help() -> String {
    let mut text = String::from("Examples:\n");
    for (what, example) in EXAMPLES {
        text.push_str(&format!("  {example}\n      {what}\n"));
    }
    text.push_str("\nExit status:\n");
    for (status, what) in EXIT_STATUSES {
        text.push_str(&format!("  {status:<6}{what}\n"));
    }
    text
}
