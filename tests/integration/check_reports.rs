//! What the checkers' reports say about a failing implementation: the client's own words (its
//! last stderr lines, escaped), the cause of a case before its consequences, and a summary of
//! the cases by first cause at the top of every report.

use serde_json::Value;

use crate::check::{Classroom, check_client, check_server, classroom_client};

fn case<'a>(cases: &'a [Value], id: &str) -> &'a Value {
    cases
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A client that dies on the first reply it reads, with a Python traceback on stderr
/// (tests/fixtures/classroom_client.py crash): every case a server replies in fails, each shows
/// the traceback, and leads with the cause (the client exited, after which message) before
/// what it then failed to do.
#[test]
fn a_crashing_client_shows_its_traceback_and_the_exit_as_the_cause() {
    let run = classroom_client("crash");
    let passed: Vec<&str> = run
        .cases()
        .iter()
        .filter(|c| c["verdict"] == "pass")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    // The two cases in which no server replies.
    assert_eq!(
        passed,
        ["upload-missing", "download-exists"],
        "{}",
        run.stdout
    );
    for c in run.cases().iter().filter(|c| c["verdict"] != "pass") {
        let stderr = strings(&c["stderr"]).join("\n");
        assert!(
            stderr.contains("Traceback (most recent call last):")
                && stderr.contains("ValueError: invalid literal for int()"),
            "{}: no traceback in {stderr:?}\n{}",
            c["id"],
            run.stdout
        );
        let first = strings(&c["detail"]).first().cloned().unwrap_or_default();
        assert!(
            first.starts_with("the client exited with status 1 after the last message it was sent"),
            "{}: the first reason is {first:?}\n{}",
            c["id"],
            run.stdout
        );
    }
    let download = strings(&case(run.cases(), "download")["detail"]);
    assert!(
        download[0].contains("\"330 Ready to send file f1.txt bytes 950\""),
        "{download:?}"
    );
    assert!(download[1].contains("round robin"), "{download:?}");
    // The text report shows the traceback under the case.
    assert!(
        run.stdout
            .contains("p1 stderr | Traceback (most recent call last):"),
        "{}",
        run.stdout
    );
    // One cause for all thirteen, at the top of every report.
    let groups = run.json["by_cause"].as_array().expect("by_cause");
    assert_eq!(groups.len(), 1, "{}", run.stdout);
    assert!(
        groups[0]["cause"]
            .as_str()
            .unwrap()
            .starts_with("the client exits in the middle of a command (seed 001 III.3"),
        "{groups:?}"
    );
    assert_eq!(groups[0]["cases"].as_array().unwrap().len(), 13);
    let summary = "the client exits in the middle of a command";
    let top = run
        .stdout
        .find(summary)
        .expect("summary in the text report");
    assert!(top < run.stdout.find("PASS").unwrap(), "{}", run.stdout);
    assert!(
        run.junit
            .contains("<property name=\"cause.1\" value=\"the client exits")
    );
    assert!(
        run.junit
            .contains("<system-err>Traceback (most recent call last):")
    );
}

/// A client that prints ESC colour sequences and BEL (classroom_client.py escapes): its bytes
/// appear in every report escaped (`\x1b`, `\x07`), as server bytes are, never raw.
#[test]
fn a_clients_control_bytes_are_escaped_in_every_report() {
    // Every case fails (no line matches) at the end of its wait for the lines: a short case
    // timeout keeps the test short, with room for the rest of the case on a busy machine.
    let run = check_client(
        "2",
        &["python3", "tests/fixtures/classroom_client.py", "escapes"],
    );
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    for (name, text) in [("text", &run.stdout), ("JUnit", &run.junit)] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "raw control bytes in the {name} report:\n{text}"
        );
    }
    assert!(
        run.stdout
            .contains("\\x1b[1mServer (p2): 200 Files served: a.txt b.txt\\x1b[0m\\x07"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("p1 stderr | warning: \\x1b[31mred\\x1b[0m\\x07"),
        "{}",
        run.stdout
    );
    // Lines that are not the seed's: one cause for every case.
    let groups = run.json["by_cause"].as_array().expect("by_cause");
    assert!(
        groups.iter().any(|g| g["cause"]
            .as_str()
            .unwrap()
            .starts_with("prints other terminal lines than the seed's")),
        "{groups:?}"
    );
    let filelist = case(run.cases(), "filelist");
    assert!(
        strings(&filelist["stderr"]).contains(&"warning: \\x1b[31mred\\x1b[0m\\x07".to_string()),
        "{filelist}"
    );
    assert!(
        strings(&filelist["evidence"])
            .iter()
            .all(|line| !line.contains('\u{1b}')),
        "{filelist}"
    );
}

/// A classroom server that answers one request per connection and then closes
/// (classroom_server.py close-after-reply): one cause, named once with the seed's words, at the
/// top of every report, instead of a dozen similar reasons; each case leads with it.
#[test]
fn a_server_that_closes_after_every_reply_is_one_cause_at_the_top() {
    let server = Classroom::start("close-after-reply");
    let run = check_server(server.port, "3");
    let groups = run.json["by_cause"].as_array().expect("by_cause");
    assert_eq!(groups.len(), 1, "{}", run.stdout);
    let cause = groups[0]["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("closes the connection after a reply instead of answering the next request on it (seed 001 II.1:"),
        "{cause}"
    );
    let failed: Vec<&Value> = run
        .cases()
        .iter()
        .filter(|c| c["verdict"] != "pass")
        .collect();
    assert!(failed.len() >= 10, "{}", run.stdout);
    assert_eq!(groups[0]["cases"].as_array().unwrap().len(), failed.len());
    for c in failed {
        assert_eq!(c["cause"], cause, "{}", run.stdout);
        let first = strings(&c["detail"]).first().cloned().unwrap_or_default();
        assert!(
            first.contains("the server closed the connection instead of replying, after"),
            "{}: {first}",
            c["id"]
        );
    }
    let line = format!(
        "  - {cause}: {} cases (upload, ",
        groups[0]["cases"].as_array().unwrap().len()
    );
    let at = run.stdout.find(&line).expect("the summary line");
    assert!(
        at < run.stdout.find("PASS  IV.1").unwrap(),
        "{}",
        run.stdout
    );
    assert!(
        run.junit
            .contains("<property name=\"cause.1\" value=\"closes the connection after a reply")
    );
}
