//! Verdicts and their reports: the terminal table, JSON and JUnit XML. Pure: strings in, strings
//! out.

use serde::Serialize;

use super::lab::ME;
use crate::core::markup::escape_for_xml as xml;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Something the seed does not allow but a classroom peer could live with.
    Deviation,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Deviation => "DEV ",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Verdict::Pass => "\x1b[32m",
            Verdict::Fail => "\x1b[31m",
            Verdict::Deviation => "\x1b[33m",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub section: String,
    pub title: String,
    /// The seed's words the case checks.
    pub seed: String,
    pub verdict: Verdict,
    /// The first cause of a failure (what the implementation did, the sentence the summary
    /// groups cases by), or the first deviation; empty for a pass.
    pub cause: String,
    /// Why it failed, cause first, then its consequences; or the deviations seen; empty for a
    /// pass.
    pub detail: Vec<String>,
    /// The messages sent (`>`) and received (`<`) that show it; empty for a pass.
    pub evidence: Vec<String>,
    /// The last lines the client under test wrote on its stderr, escaped; empty for a pass.
    pub stderr: Vec<String>,
    /// The case's messages on the wire, escaped (its last ones when there were many).
    pub exchange: Vec<String>,
    pub seconds: f64,
}

/// The cases that did not pass for one first cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseGroup {
    pub cause: String,
    /// `fail`, or `deviation` when every case of the group is a deviation.
    pub verdict: Verdict,
    pub cases: Vec<String>,
}

impl CauseGroup {
    /// "CAUSE: N cases (a, b, c)".
    pub fn line(&self) -> String {
        let n = self.cases.len();
        let plural = if n == 1 { "case" } else { "cases" };
        let what = if self.verdict == Verdict::Deviation {
            "deviation: "
        } else {
            ""
        };
        format!(
            "{what}{}: {n} {plural} ({})",
            self.cause,
            self.cases.join(", ")
        )
    }
}

/// The cases that did not pass, grouped by their first cause, largest group first (failures
/// before deviations when equal), each group's cases in run order.
pub fn by_cause(cases: &[CaseResult]) -> Vec<CauseGroup> {
    let mut groups: Vec<CauseGroup> = Vec::new();
    for c in cases.iter().filter(|c| c.verdict != Verdict::Pass) {
        match groups.iter_mut().find(|g| g.cause == c.cause) {
            Some(g) => {
                g.cases.push(c.id.clone());
                if c.verdict == Verdict::Fail {
                    g.verdict = Verdict::Fail;
                }
            }
            None => groups.push(CauseGroup {
                cause: c.cause.clone(),
                verdict: c.verdict,
                cases: vec![c.id.clone()],
            }),
        }
    }
    groups.sort_by_key(|g| (std::cmp::Reverse(g.cases.len()), g.verdict != Verdict::Fail));
    groups
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `server` or `client`.
    pub mode: String,
    /// What was checked (HOST:PORT, or the client's command).
    pub target: String,
    pub passed: usize,
    pub failed: usize,
    pub deviations: usize,
    /// The cases that did not pass, by first cause: the summary every report starts with.
    pub by_cause: Vec<CauseGroup>,
    pub cases: Vec<CaseResult>,
}

impl Report {
    pub fn new(mode: &str, target: &str, cases: Vec<CaseResult>) -> Report {
        let count = |v: Verdict| cases.iter().filter(|c| c.verdict == v).count();
        Report {
            mode: mode.to_string(),
            target: target.to_string(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            deviations: count(Verdict::Deviation),
            by_cause: by_cause(&cases),
            cases,
        }
    }

    /// 0 only when every case passed.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.passed != self.cases.len())
    }

    /// The summary by cause, one line each, "- " first; nothing when every case passed.
    pub fn cause_lines(&self) -> Vec<String> {
        self.by_cause
            .iter()
            .map(|g| format!("- {}", g.line()))
            .collect()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} cases: {} passed, {} failed, {} deviations",
            self.cases.len(),
            self.passed,
            self.failed,
            self.deviations
        )
    }
}

/// How the terminal table is drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub colour: bool,
    /// Case lines are cut to this many columns (a terminal's width), so one case is one line.
    pub width: Option<usize>,
}

/// One line per case (verdict, section, id, seconds, what it checks), then the detail and
/// evidence of the cases that did not pass, then a summary.
pub fn table(report: &Report, style: Style) -> String {
    let mut out = format!("p2p-tui --check-{} {}\n", report.mode, report.target);
    if !report.by_cause.is_empty() {
        out.push_str("Not passed, by first cause:\n");
        for line in report.cause_lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out.push('\n');
    }
    let id_width = report.cases.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &report.cases {
        let label = c.verdict.label();
        let mut line = format!(
            "{label}  {:<6} {:<id_width$} {:>6.2}s  {}",
            c.section, c.id, c.seconds, c.title
        );
        if let Some(width) = style.width {
            if line.chars().count() > width {
                line = line.chars().take(width.saturating_sub(1)).collect();
                line.push('…');
            }
        }
        if style.colour {
            line = format!(
                "{}{label}\x1b[0m{}",
                c.verdict.colour(),
                &line[label.len()..]
            );
        }
        out.push_str(&line);
        out.push('\n');
        if c.verdict != Verdict::Pass {
            out.push_str(&format!("      checks: {}\n", c.seed));
        }
        for line in &c.detail {
            out.push_str(&format!("      - {line}\n"));
        }
        for line in &c.evidence {
            out.push_str(&format!("        {line}\n"));
        }
        if !c.stderr.is_empty() {
            let (program, tag) = program_of(&report.mode);
            out.push_str(&format!("      the {program}'s last stderr lines:\n"));
            for line in &c.stderr {
                out.push_str(&format!("        {tag} stderr | {line}\n"));
            }
        }
    }
    out.push_str(&report.summary());
    out.push('\n');
    out
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// JUnit XML: one testsuite, its properties the summary by cause (`cause.1` the largest), a
/// testcase per case with the seed's words it checks as its `seed` property; a failure or a deviation is a `<failure>` (its `type` says which), with
/// the evidence as its text and the client's last stderr lines as `<system-err>`.
pub fn junit(report: &Report) -> String {
    let total: f64 = report.cases.iter().map(|c| c.seconds).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites>\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{total:.3}\">\n",
        xml(&format!("p2p-tui --check-{} {}", report.mode, report.target)),
        report.cases.len(),
        report.failed + report.deviations,
    ));
    if !report.by_cause.is_empty() {
        out.push_str("    <properties>\n");
        for (i, group) in report.by_cause.iter().enumerate() {
            out.push_str(&format!(
                "      <property name=\"cause.{}\" value=\"{}\"/>\n",
                i + 1,
                xml(&group.line())
            ));
        }
        out.push_str("    </properties>\n");
    }
    for c in &report.cases {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&format!("seed-{}.{}", seed_number(&report.mode), c.section)),
            xml(&format!("{} ({})", c.id, c.title)),
            c.seconds
        ));
        out.push_str(&format!(
            ">\n      <properties><property name=\"seed\" value=\"{}\"/></properties>\n",
            xml(&c.seed)
        ));
        if c.verdict == Verdict::Pass {
            out.push_str("    </testcase>\n");
            continue;
        }
        let kind = if c.verdict == Verdict::Fail {
            "fail"
        } else {
            "deviation"
        };
        out.push_str(&format!(
            "      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n",
            xml(&c.detail.join("; ")),
            xml(&c.evidence.join("\n"))
        ));
        if !c.stderr.is_empty() {
            out.push_str(&format!(
                "      <system-err>{}</system-err>\n",
                xml(&c.stderr.join("\n"))
            ));
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// The program whose stderr a report shows, and its tag in the exchange.
pub fn program_of(mode: &str) -> (&'static str, &'static str) {
    match mode {
        "sync" => ("synchronizer", super::sync::lab::SYNC),
        "get" => ("client", "client"),
        _ => ("client", ME),
    }
}

/// The seed whose protocol a checker mode checks (a JUnit testcase's class is
/// `seed-NNN.SECTION`).
fn seed_number(mode: &str) -> &'static str {
    match mode {
        "tracker" | "sync" => "002",
        "web" => "000",
        "get" => "004",
        _ => "001",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, verdict: Verdict, detail: &[&str]) -> CaseResult {
        CaseResult {
            id: id.into(),
            section: "IV.7".into(),
            title: "download".into(),
            seed: "seed 001 IV.7".into(),
            verdict,
            cause: detail.first().map(|s| s.to_string()).unwrap_or_default(),
            detail: detail.iter().map(|s| s.to_string()).collect(),
            stderr: vec![],
            exchange: vec![],
            evidence: if verdict == Verdict::Pass {
                vec![]
            } else {
                vec!["c1 < \"330 Ready to send f bytes 3\"".into()]
            },
            seconds: 0.25,
        }
    }

    fn sample() -> Report {
        Report::new(
            "server",
            "127.0.0.1:5000",
            vec![
                result("a", Verdict::Pass, &[]),
                result("b", Verdict::Deviation, &["no \"file\" <word> & more"]),
                result("c", Verdict::Fail, &["closed"]),
            ],
        )
    }

    #[test]
    fn counts_and_exit_status_only_zero_when_all_pass() {
        let report = sample();
        assert_eq!((report.passed, report.failed, report.deviations), (1, 1, 1));
        assert_eq!(report.exit_code(), 1);
        let all_pass = Report::new("server", "x", vec![result("a", Verdict::Pass, &[])]);
        assert_eq!(all_pass.exit_code(), 0);
    }

    #[test]
    fn table_has_one_line_per_case_and_colours_only_on_request() {
        let plain = table(&sample(), Style::default());
        assert!(plain.contains("PASS  IV.7   a   0.25s  download\n"));
        assert!(plain.contains("DEV   IV.7   b"));
        assert!(plain.contains("      - closed"));
        assert!(plain.contains("      checks: seed 001 IV.7\n"));
        assert!(plain.ends_with("3 cases: 1 passed, 1 failed, 1 deviations\n"));
        assert!(!plain.contains('\x1b'));
        let coloured = Style {
            colour: true,
            width: None,
        };
        assert!(table(&sample(), coloured).contains("\x1b[31mFAIL\x1b[0m  IV.7   c"));
        let narrow = Style {
            colour: false,
            width: Some(20),
        };
        assert!(table(&sample(), narrow).contains("PASS  IV.7   a   0.…\n"));
    }

    #[test]
    fn json_names_each_verdict_in_lowercase() {
        let value: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(value["cases"][1]["verdict"], "deviation");
        assert_eq!(value["cases"][2]["verdict"], "fail");
        assert_eq!(value["failed"], 1);
    }

    #[test]
    fn junit_escapes_and_marks_deviations() {
        let xml = junit(&sample());
        assert!(xml.contains("tests=\"3\" failures=\"2\""));
        assert!(xml.contains(
            "<testcase classname=\"seed-001.IV.7\" name=\"a (download)\" time=\"0.250\">\n      <properties><property name=\"seed\" value=\"seed 001 IV.7\"/></properties>\n    </testcase>"
        ));
        assert!(xml.contains(
            "<failure type=\"deviation\" message=\"no &quot;file&quot; &lt;word&gt; &amp; more\">"
        ));
        assert!(xml.contains("c1 &lt; &quot;330 Ready to send f bytes 3&quot;"));
    }

    #[test]
    fn cases_are_grouped_by_first_cause_largest_group_first() {
        let mut cases = vec![
            result("a", Verdict::Fail, &["x"]),
            result("b", Verdict::Fail, &["closes"]),
            result("c", Verdict::Pass, &[]),
            result("d", Verdict::Fail, &["closes"]),
            result("e", Verdict::Deviation, &["dev"]),
        ];
        cases[2].cause.clear();
        let report = Report::new("server", "x", cases);
        let lines = report.cause_lines();
        assert_eq!(
            lines,
            [
                "- closes: 2 cases (b, d)",
                "- x: 1 case (a)",
                "- deviation: dev: 1 case (e)"
            ]
        );
        let text = table(&report, Style::default());
        assert!(text.starts_with(
            "p2p-tui --check-server x\nNot passed, by first cause:\n  - closes: 2 cases (b, d)\n"
        ));
        assert!(
            junit(&report)
                .contains("<property name=\"cause.1\" value=\"closes: 2 cases (b, d)\"/>")
        );
    }

    #[test]
    fn xml_drops_control_characters() {
        assert_eq!(xml("a\u{0}b\u{1b}c\nd"), "abc\nd");
    }
}
