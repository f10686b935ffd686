//! `--completions SHELL` and `--man`: shell completion scripts and the man page, generated from
//! the command line's own definition (clap_complete, clap_mangen), so they never drift from it.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;
use super::help::{EXAMPLES, EXIT_STATUSES};

/// The name the scripts complete and the man page documents.
const BIN: &str = "p2p-tui";

/// If the command line asks for a completion script or the man page, prints it on stdout and
/// returns the exit status; else `None` (another mode runs).
pub fn run_if_requested(cli: &Cli) -> Option<io::Result<i32>> {
    let text = if let Some(shell) = cli.docs.completions {
        completions(shell)
    } else if cli.docs.man {
        man_page()
    } else {
        return None;
    };
    Some(print(&text).map(|()| 0))
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut out);
    out
}

/// The man page (section 1, roff): clap_mangen's sections, one per `--help` heading, then the
/// examples and the files a peer reads and writes.
pub fn man_page() -> Vec<u8> {
    let man = clap_mangen::Man::new(Cli::command().long_about(description()));
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = render_man(&man, &mut out);
    out
}

fn render_man(man: &clap_mangen::Man, out: &mut Vec<u8>) -> io::Result<()> {
    man.render_title(out)?;
    section(out, |w| man.render_name_section(w))?;
    section(out, |w| man.render_synopsis_section(w))?;
    section(out, |w| man.render_description_section(w))?;
    section(out, |w| man.render_options_section(w))?;
    writeln!(out, ".SH COMMANDS")?;
    for command in crate::peer::command::COMMANDS {
        let usage = format!("{} {}", command.word, command.usage);
        writeln!(
            out,
            ".TP\n\\fB{}\\fR\n{}",
            roff_escape(usage.trim_end()),
            roff_escape(command.help)
        )?;
    }
    // clap_mangen would title the `after_help` examples "EXTRA"; they are examples.
    writeln!(out, ".SH EXAMPLES")?;
    for (what, example) in EXAMPLES {
        writeln!(
            out,
            ".TP\n\\fB{}\\fR\n{}",
            roff_escape(example),
            roff_escape(what)
        )?;
    }
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (status, what) in EXIT_STATUSES {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}", status, roff_escape(what))?;
    }
    writeln!(out, ".SH FILES")?;
    for (file, what) in FILES {
        writeln!(
            out,
            ".TP\n\\fI{}\\fR\n{}",
            roff_escape(file),
            roff_escape(what)
        )?;
    }
    writeln!(out, ".SH SEE ALSO")?;
    writeln!(
        out,
        "README.md and docs/ in the source: each mode, the protocol, every key of the \
         full-screen UI, and what each mode prints."
    )?;
    section(out, |w| man.render_version_section(w))?;
    Ok(())
}

/// The man page's description; its last sentence names the command words of the table.
fn description() -> String {
    format!(
        "{DESCRIPTION}\n\nA peer's console takes the commands {}.",
        crate::peer::command::word_list(", ", " and ")
    )
}

const DESCRIPTION: &str = "\
p2p-tui shares files between peers over the seed-001 protocol: each peer serves the files in its \
served_files directory on a TCP port, and downloads a file chunk by chunk from every peer that \
holds it, round robin, dealing a departed peer's unfinished chunks to the others.

One binary runs each part of the network, chosen by its flags: a peer (--peer, with the \
full-screen UI on a terminal, the seed's line console with --line, or --headless), the tracker \
(--tracker), the synchronizer (--sync), the static web server (--web) and its client (--get), \
the whole network in one process (--demo), and checks of other implementations \
(--check-server, --check-client).";

/// Appends one section clap_mangen renders alone, without the two-line preamble defining
/// \*(Aq that it repeats each time (the title already wrote it).
fn section(out: &mut Vec<u8>, render: impl Fn(&mut Vec<u8>) -> io::Result<()>) -> io::Result<()> {
    let mut text = Vec::new();
    render(&mut text)?;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if !line.starts_with(b".ie \\n(.g .ds Aq") && !line.starts_with(b".el .ds Aq") {
            out.extend_from_slice(line);
        }
    }
    Ok(())
}

const FILES: &[(&str, &str)] = &[
    (
        "peer_settings.txt",
        "The peer list, one \"peer_ID ip_addr server_port\" per line (--settings).",
    ),
    (
        "ID/served_files/",
        "The files a peer serves, and where its downloads and accepted uploads land (--dir).",
    ),
    (
        "ID/.p2p-tui-history",
        "The command history of the full-screen UI and of --line on a terminal (500 lines).",
    ),
    (
        "ID/p2p-tui.log",
        "The full-screen UI's log (it never writes logs on the screen).",
    ),
    (
        "ID/.p2p-tui-partial/",
        "Files being received, linked into served_files/ when complete; a crash's leftovers are removed at the next start (also in a --sync folder).",
    ),
];

/// Escapes text for roff: a backslash, a hyphen (else typeset as a hyphen, not a minus: a flag
/// copied from the page would not work), and a leading dot or quote (a control line).
fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Writes to stdout; a reader that closes early (`| head`) is not an error.
fn print(bytes: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_flags() -> Vec<String> {
        Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .collect()
    }

    #[test]
    fn every_shell_gets_a_script_naming_every_flag() {
        let flags = long_flags();
        assert!(flags.len() > 30, "{flags:?}");
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let script = String::from_utf8(completions(shell)).expect("utf-8");
            for flag in &flags {
                // fish writes `-l completions`, the others the flag itself.
                let fish = format!("-l {}", &flag[2..]);
                assert!(
                    script.contains(flag.as_str()) || script.contains(&fish),
                    "{shell}: {flag} missing"
                );
            }
        }
    }

    #[test]
    fn the_man_page_has_a_title_and_every_flag() {
        let page = String::from_utf8(man_page()).expect("utf-8");
        assert!(page.contains("\n.TH p2p-tui 1 "), "{}", &page[..200]);
        assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble");
        for section in [
            "NAME",
            "SYNOPSIS",
            "PEER",
            "DOCUMENTATION",
            "COMMANDS",
            "EXAMPLES",
            "\"EXIT STATUS\"",
            "FILES",
        ] {
            assert!(page.contains(&format!(".SH {section}")), "{section}");
        }
        for flag in long_flags() {
            // Flags are typeset with escaped hyphens: \-\-peer.
            let roff = flag.replace('-', "\\-");
            assert!(page.contains(&roff), "{flag} missing from the man page");
        }
        let commands = page.split(".SH COMMANDS").nth(1).unwrap_or_default();
        for command in crate::peer::command::COMMANDS {
            assert!(commands.contains(command.word), "{}", command.word);
        }
        assert!(
            page.contains("the commands #FILELIST, #UPLOAD, #DOWNLOAD, #PEERS, #HELP and #QUIT.")
        );
    }

    /// What a peer leaves in its directory, besides served_files/, is ignored by git: a run in
    /// a checkout's demo/ leaves the working tree clean.
    #[test]
    fn git_ignores_what_a_peer_leaves_in_its_directory() {
        let ignored = include_str!("../../.gitignore");
        let left: Vec<&str> = FILES
            .iter()
            .filter_map(|(file, _)| file.strip_prefix("ID/"))
            .filter(|file| *file != "served_files/")
            .collect();
        assert!(left.contains(&".p2p-tui-history"), "{left:?}");
        assert!(left.contains(&format!("{}/", crate::core::store::PARTIAL_DIR).as_str()));
        for file in left {
            assert!(
                ignored.lines().any(|line| line == file),
                ".gitignore does not list {file}"
            );
        }
    }

    #[test]
    fn roff_escape_keeps_flags_typeable() {
        assert_eq!(roff_escape("p2p-tui --man"), "p2p\\-tui \\-\\-man");
        assert_eq!(roff_escape(".hidden"), "\\&.hidden");
        assert_eq!(roff_escape("a\\b"), "a\\eb");
    }
}
