//! `--line` on a terminal: the real binary in tmux at 80x24, keys typed as a person types them,
//! the screen read back. (On a pipe the console is the seed's: every other console test.)

use std::path::Path;
use std::time::{Duration, Instant};

use crate::tui::Tmux;
use crate::util::{Net, TIMEOUT, bin, random_bytes, sha256, wait_until};

const PROMPT: &str = "Input your command:";

/// The line peer `id` in a shell that, after it exits, says its exit status and whether the
/// terminal is back in line mode with echo (`TTY=echo,icanon,`; raw mode would read
/// `TTY=-echo,-icanon,`). The peer's process ID goes to `pid_file`.
fn line_peer(net: &Net, id: &str, pid_file: &Path) -> String {
    format!(
        "sh -c 'echo $$ > {pid}; exec {bin} --peer {id} --line --settings {settings} --dir {dir}'; \
         echo EXIT=$?; \
         echo TTY=$(stty -a | tr -s ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | sort | tr '\\n' ,); \
         sleep 60",
        pid = pid_file.display(),
        bin = bin(),
        settings = net.settings().display(),
        dir = net.dir(id).display(),
    )
}

/// The row being edited: the last one with the prompt (tmux trims trailing blanks).
fn edit_row(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| l.starts_with(PROMPT))
        .unwrap_or("")
}

/// Waits until the row being edited reads `PROMPT` + `text`; returns the screen.
fn wait_edit_row(tmux: &Tmux, text: &str) -> String {
    let wanted = format!("{PROMPT} {text}");
    let wanted = wanted.trim_end();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let screen = tmux.screen();
        if edit_row(&screen) == wanted {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the edit row {wanted:?}:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn cursor_column(tmux: &Tmux) -> usize {
    let x = tmux.run(&["display-message", "-t", "t", "-p", "#{cursor_x}"]);
    x.trim().parse().expect("cursor_x")
}

#[test]
fn line_peer_on_a_terminal_edits_recalls_and_keeps_history_and_restores_the_terminal() {
    let mut net = Net::new(&["p1", "p2"]);
    let data = random_bytes(250, 90);
    net.put("p2", "f.txt", &data);
    net.start("p2", &[]);
    let pid_file = net.root.path().join("line.pid");
    let tmux = Tmux::start(80, 24, &line_peer(&net, "p1", &pid_file));
    wait_edit_row(&tmux, "");

    // Tab completes the command word; Enter runs the line as a piped line runs.
    tmux.type_text("#FIL");
    tmux.key("Tab");
    wait_edit_row(&tmux, "#FILELIST");
    tmux.type_text("p2");
    tmux.key("Enter");
    let screen = tmux.wait_for("Server (p2): 200 Files served: f.txt");
    assert!(screen.contains("Input your command: #FILELIST p2\nClient (p2): #FILELIST\n"));
    wait_edit_row(&tmux, "");

    // Up recalls it; edited in the middle and at both ends, it becomes a download.
    tmux.key("Up");
    wait_edit_row(&tmux, "#FILELIST p2");
    tmux.key("C-w"); // "#FILELIST "
    tmux.key("C-a");
    for _ in 0.."#FILELIST".len() {
        tmux.key("Delete");
    }
    tmux.type_text("#DOWNLOAD f.txt");
    wait_edit_row(&tmux, "#DOWNLOAD f.txt");
    assert_eq!(
        cursor_column(&tmux),
        PROMPT.len() + 1 + "#DOWNLOAD f.txt".len()
    );
    tmux.key("End");
    tmux.type_text("p2");
    wait_edit_row(&tmux, "#DOWNLOAD f.txt p2");
    assert_eq!(
        cursor_column(&tmux),
        PROMPT.len() + 1 + "#DOWNLOAD f.txt p2".len()
    );
    tmux.key("Enter");
    let screen = tmux.wait_for("File f.txt download success");
    // Every line starts at the left edge (no raw-mode staircase).
    assert!(
        screen.contains("Input your command: #DOWNLOAD f.txt p2\nDownloading file f.txt\n"),
        "{screen}"
    );
    assert_eq!(
        sha256(&net.served("p1", "f.txt").expect("downloaded")),
        sha256(&data)
    );

    // Ctrl-C with text empties the line; Ctrl-D on an empty line ends the console.
    tmux.type_text("#PEERS half typed");
    wait_edit_row(&tmux, "#PEERS half typed");
    tmux.key("C-c");
    wait_edit_row(&tmux, "");
    tmux.key("C-d");
    let screen = tmux.wait_for("TTY=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("TTY=echo,icanon,"), "{screen}");
    let history = std::fs::read_to_string(net.dir("p1").join(".p2p-tui-history")).unwrap();
    assert_eq!(history, "#FILELIST p2\n#DOWNLOAD f.txt p2\n");
    drop(tmux);

    // A new run recalls the history from the file; SIGTERM while a line is edited leaves the
    // terminal sane.
    std::fs::remove_file(&pid_file).unwrap();
    let tmux = Tmux::start(80, 24, &line_peer(&net, "p1", &pid_file));
    wait_edit_row(&tmux, "");
    tmux.key("Up");
    wait_edit_row(&tmux, "#DOWNLOAD f.txt p2");
    tmux.key("Up");
    wait_edit_row(&tmux, "#FILELIST p2");
    tmux.key("Down");
    wait_edit_row(&tmux, "#DOWNLOAD f.txt p2");
    let mut pid = 0;
    wait_until("the line peer's pid", || {
        pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let screen = tmux.wait_for("TTY=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("TTY=echo,icanon,"), "{screen}");
    // The line stays as it was, the shell's output below it.
    assert!(
        screen.contains("Input your command: #DOWNLOAD f.txt p2\nEXIT=0\n"),
        "{screen}"
    );
}
