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
        text.contains("ma: --max-upload --max-connections --max-per-address --max-message --man\n"),
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

// The README and docs/ (issues 27 and 28): they say what the program does, and nothing else.

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// README.md and every docs/*.md, as (path relative to the root, text).
fn documents() -> Vec<(String, String)> {
    let mut paths = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(format!("{ROOT}/docs"))
        .expect("docs/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(format!("{ROOT}/{p}")).expect("read");
            (p, text)
        })
        .collect()
}

fn readme() -> String {
    std::fs::read_to_string(format!("{ROOT}/README.md")).expect("README.md")
}

#[test]
fn the_readme_is_a_first_screen_and_a_map() {
    let readme = readme();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines");
    // The test command is the one CI runs.
    let ci = std::fs::read_to_string(format!("{ROOT}/.ci/run")).expect(".ci/run");
    let ci_test = ci
        .lines()
        .rfind(|l| l.starts_with("cargo test"))
        .expect("CI runs cargo test");
    let first_block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a first sh block");
    assert!(first_block.contains("-- --demo"), "{first_block}");
    assert!(
        first_block
            .lines()
            .any(|l| l.starts_with(&format!("{ci_test} "))),
        "the README's test command is not CI's `{ci_test}`:\n{first_block}"
    );
    // Every docs/ file is on the map.
    for (path, _) in documents().iter().skip(1) {
        assert!(
            readme.contains(&format!("]({path})")),
            "the README does not link {path}"
        );
    }
}

#[test]
fn the_docs_carry_no_changelog_and_name_only_what_the_repository_holds() {
    let changelog = [
        "before this round",
        "earlier figures",
        "issue 1",
        "issue 2",
        "this round",
        "the old design",
    ];
    for (path, text) in documents() {
        let lower = text.to_lowercase();
        for phrase in changelog {
            assert!(!lower.contains(phrase), "{path}: changelog text {phrase:?}");
        }
        assert!(
            !text.contains("SPEC"),
            "{path} cites a spec the repository does not hold"
        );
        let dir = std::path::Path::new(&path).parent().expect("parent");
        for target in links(&text) {
            let file = target.split('#').next().unwrap_or_default();
            if file.is_empty() || file.contains("://") {
                continue;
            }
            let resolved = std::path::Path::new(ROOT).join(dir).join(file);
            assert!(
                resolved.exists(),
                "{path}: link to {target}, which does not exist"
            );
        }
        for named in repository_paths(&text) {
            assert!(
                std::path::Path::new(ROOT).join(&named).exists(),
                "{path} names {named}, which the repository does not hold"
            );
        }
    }
}

/// The targets of `[text](target)` links.
fn links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_owned)
        .collect()
}

/// Paths in backticks under the repository's top-level folders, e.g. `src/front/tui/render_tests.rs`.
fn repository_paths(text: &str) -> Vec<String> {
    const TOP: &[&str] = &[
        "src/", "tests/", "scripts/", "demo/", "docs/", "assets/", "benches/", ".ci/",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| TOP.iter().any(|top| quoted.starts_with(top)))
        .filter(|quoted| !quoted.contains([' ', '*', '<', '$']))
        .map(str::to_owned)
        .collect()
}

/// A peer writes into its directory, so no example runs one on the checkout's demo/ in place.
#[test]
fn no_example_runs_a_peer_in_the_checkouts_demo() {
    let mut texts = documents();
    texts.push(("--help".to_owned(), stdout_of(&["--help"])));
    texts.push((
        "--man".to_owned(),
        stdout_of(&["--man"]).replace("\\-", "-"),
    ));
    for (path, text) in texts {
        for line in text.lines() {
            for in_place in ["--dir demo", "--settings demo/", "cd demo"] {
                assert!(
                    !line.contains(in_place),
                    "{path} runs on demo/ in place: {line}"
                );
            }
        }
    }
}

/// The README's flags table gives every default `--help` gives.
#[test]
fn the_readme_flags_table_has_the_defaults_of_help() {
    let readme = readme();
    let help = stdout_of(&["--help"]);
    let mut checked = 0;
    for (flag, defaults) in help_defaults(&help) {
        let row = readme
            .lines()
            .find(|l| {
                l.starts_with(&format!("| `{flag} ")) || l.starts_with(&format!("| `{flag}`"))
            })
            .unwrap_or_else(|| panic!("{flag} has no row in the README's flags table"));
        for value in defaults {
            assert!(
                row.contains(&value),
                "--help gives {flag} the default {value}; the README's row does not: {row}"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} defaults found in --help");
}

/// Each flag of `--help` with the values its `[default: ...]` notes name: numbers, addresses
/// and paths (words such as "no limit" are the README's to phrase).
fn help_defaults(help: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() < 8 && trimmed.starts_with("--") {
            let flag = trimmed.split([' ', '<', '[']).next().unwrap_or_default();
            out.push((flag.to_owned(), Vec::new()));
        }
        let Some((_, values)) = out.last_mut() else {
            continue;
        };
        for note in line.split("[default: ").skip(1) {
            let note = note.split(']').next().unwrap_or_default();
            values.extend(
                note.split([' ', ',', ';'])
                    .map(|w| w.trim_matches(['(', ')', ':']))
                    .filter(|w| w.chars().any(|c| c.is_ascii_digit()) || w.starts_with("./"))
                    .filter(|w| !w.starts_with('-'))
                    .map(str::to_owned),
            );
        }
    }
    out.retain(|(_, values)| !values.is_empty());
    out
}

/// The README's exit statuses are the ones `--help` and the man page give.
#[test]
fn the_readme_gives_the_exit_statuses_of_help() {
    let readme = readme();
    let help = stdout_of(&["--help"]);
    let section = help
        .split("\nExit status:\n")
        .nth(1)
        .expect("--help lists exit statuses");
    let statuses: Vec<&str> = section
        .lines()
        .filter_map(|l| l.trim_start().split(' ').next())
        .filter(|s| s.parse::<u8>().is_ok())
        .collect();
    assert_eq!(statuses, ["0", "1", "2"], "{section}");
    let table = readme
        .split("\n## Exit status\n")
        .nth(1)
        .expect("the README has an exit status section");
    for status in statuses {
        assert!(
            table.contains(&format!("\n| {status} | ")),
            "the README's exit statuses lack {status}"
        );
    }
    assert!(stdout_of(&["--man"]).contains(".SH \"EXIT STATUS\""));
}
