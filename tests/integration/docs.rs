//! `--completions SHELL` and `--man` (issue 14): generated from the command line itself, so every
//! flag `--help` lists is completed and documented.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::bin;

fn stdout_of(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{args:?} wrote on stderr");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The long flags `--help` lists (without --help and --version).
fn help_flags() -> Vec<String> {
    let help = stdout_of(&["--help"]);
    let flags: Vec<String> = help
        .lines()
        .filter(|l| l.len() - l.trim_start().len() < 8)
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split([' ', '<', '[']).next())
        .filter(|f| !["help", "version"].contains(f))
        .map(|f| format!("--{f}"))
        .collect();
    assert!(flags.len() > 30, "{flags:?}");
    assert!(flags.contains(&"--completions".to_owned()), "{flags:?}");
    assert!(flags.contains(&"--man".to_owned()), "{flags:?}");
    flags
}

#[test]
fn the_bash_script_completes_every_flag() {
    let script = stdout_of(&["--completions", "bash"]);
    for flag in help_flags() {
        assert!(
            script.contains(&flag),
            "{flag} missing from the bash script"
        );
    }
    // Loaded into a real bash, `p2p-tui --comp<Tab>` completes to --completions, `--ma<Tab>` offers the five --ma flags, and `--completions <Tab>`
    // offers the shells.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p2p-tui.bash");
    std::fs::write(&path, &script).expect("write script");
    let probe = format!(
        r#"source '{}'
complete -p p2p-tui
COMP_WORDS=(p2p-tui --comp); COMP_CWORD=1; _p2p__tui p2p-tui --comp p2p-tui
echo "comp: ${{COMPREPLY[*]}}"
COMP_WORDS=(p2p-tui --ma); COMP_CWORD=1; _p2p__tui p2p-tui --ma p2p-tui
echo "ma: ${{COMPREPLY[*]}}"
COMP_WORDS=(p2p-tui --completions ''); COMP_CWORD=2; _p2p__tui p2p-tui '' --completions
echo "shells: ${{COMPREPLY[*]}}"
"#,
        path.display()
    );
    let mut bash = Command::new("bash")
        .arg("--norc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    bash.stdin
        .take()
        .expect("stdin")
        .write_all(probe.as_bytes())
        .expect("feed bash");
    let out = bash.wait_with_output().expect("bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("p2p-tui\n"), "not registered: {text}");
    assert!(text.contains("comp: --completions\n"), "{text}");
    assert!(
        text.contains("ma: --max-connections --max-per-address --max-upload --max-message --man\n"),
        "{text}"
    );
    assert!(
        text.contains("shells: bash elvish fish powershell zsh\n"),
        "{text}"
    );
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_refused() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["--completions", shell]);
        assert!(
            script.contains("p2p-tui") && script.contains("completions"),
            "{shell}"
        );
    }
    let out = Command::new(bin())
        .args(["--completions", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("possible values: bash, elvish, fish, powershell, zsh"),
        "{err}"
    );
    // A documentation flag with a mode is a mistake, not a mode started.
    let out = Command::new(bin())
        .args(["--man", "--peer", "p1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn the_man_page_documents_every_flag_and_renders() {
    let page = stdout_of(&["--man"]);
    assert!(page.contains("\n.TH p2p-tui 1 "), "{}", &page[..200]);
    for flag in help_flags() {
        // roff typesets a flag with escaped hyphens.
        let roff = flag.replace('-', "\\-");
        assert!(page.contains(&roff), "{flag} missing from the man page");
    }
    // Rendered by man(1) where it is installed: the headings and the flags as a reader sees them.
    let Ok(mut man) = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("man is not installed: the roff source alone was checked");
        return;
    };
    man.stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("feed man");
    let out = man.wait_with_output().expect("man");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "man warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for heading in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "PEER",
        "TRACKER AND WEB SERVER",
        "DOCUMENTATION",
        "EXAMPLES",
        "EXIT STATUS",
        "FILES",
    ] {
        assert!(
            text.lines().any(|l| l == heading),
            "no {heading} heading:\n{text}"
        );
    }
    for flag in help_flags() {
        assert!(text.contains(&flag), "{flag} not in the rendered page");
    }
}

#[test]
fn a_reader_closing_early_is_not_an_error() {
    // A pipe whose reading end is closed before the child starts: every write fails with EPIPE,
    // as under `p2p-tui --man | head -c0`.
    let (reader, writer) = nix::unistd::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(bin())
        .arg("--man")
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
