//! The HTML report: one self-contained file a teacher can hand out (inline CSS, no script, no
//! network). It opens with the summary by cause, then a table of every case, then each case
//! with its verdict, the seed's words it checks, its reasons (cause first), the exchange on the
//! wire and the client's last stderr lines, all escaped. Pure: a report in, a string out.

use super::report::{CaseResult, Report, Verdict};
use crate::core::markup::escape_showing_controls as esc;

const STYLE: &str = "
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1f2328;
  max-width: 60rem; margin: 2rem auto; padding: 0 1rem; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h1 code { font-size: 1.2rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
code, pre { font: 13px/1.4 ui-monospace, 'DejaVu Sans Mono', monospace; }
.totals { color: #57606a; margin-top: 0; }
.verdict { display: inline-block; min-width: 3.2rem; text-align: center; font-weight: 600;
  border-radius: 4px; padding: 0 .35rem; color: #fff; }
.pass .verdict, .verdict.pass { background: #1a7f37; }
.fail .verdict, .verdict.fail { background: #cf222e; }
.deviation .verdict, .verdict.deviation { background: #9a6700; }
#summary li { margin: .45rem 0; }
#summary .count { font-weight: 600; }
.all-passed { color: #1a7f37; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
td.seconds { text-align: right; white-space: nowrap; }
section.case { border: 1px solid #d0d7de; border-left-width: 6px; border-radius: 6px;
  padding: .7rem 1rem; margin: 1rem 0; }
section.case.pass { border-left-color: #1a7f37; }
section.case.fail { border-left-color: #cf222e; }
section.case.deviation { border-left-color: #9a6700; }
blockquote.seed { margin: .3rem 0 .6rem; padding: .3rem .8rem; background: #f6f8fa;
  border-left: 3px solid #8c959f; color: #424a53; }
ul.reasons { margin: .3rem 0; padding-left: 1.3rem; }
ul.reasons li:first-child { font-weight: 600; }
pre { background: #f6f8fa; padding: .5rem .7rem; overflow-x: auto; white-space: pre-wrap;
  word-break: break-all; margin: .3rem 0; }
pre.stderr { background: #fff8f7; }
summary { cursor: pointer; color: #0969da; }
";

/// The report as one HTML page.
pub fn html(report: &Report) -> String {
    let title = format!("p2p-tui --check-{} {}", report.mode, report.target);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    out.push_str(&format!(
        "<h1>p2p-tui --check-{} <code>{}</code></h1>\n<p class=\"totals\">{}</p>\n",
        esc(&report.mode),
        esc(&report.target),
        esc(&report.summary())
    ));
    out.push_str(&summary(report));
    out.push_str(&overview(&report.cases));
    out.push_str("<h2>Cases</h2>\n");
    for case in &report.cases {
        out.push_str(&case_section(
            case,
            super::report::program_of(&report.mode).0,
        ));
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The cases that did not pass, by first cause, each case a link to its section.
fn summary(report: &Report) -> String {
    let mut out = String::from("<section id=\"summary\">\n<h2>Not passed, by first cause</h2>\n");
    if report.by_cause.is_empty() {
        out.push_str("<p class=\"all-passed\">Every case passed.</p>\n</section>\n");
        return out;
    }
    out.push_str("<ul>\n");
    for group in &report.by_cause {
        let n = group.cases.len();
        let links: Vec<String> = group
            .cases
            .iter()
            .map(|id| format!("<a href=\"#case-{0}\">{0}</a>", esc(id)))
            .collect();
        out.push_str(&format!(
            "<li><span class=\"verdict {}\">{}</span> {}: <span class=\"count\">{n} {}</span> ({})</li>\n",
            class(group.verdict),
            label(group.verdict),
            esc(&group.cause),
            if n == 1 { "case" } else { "cases" },
            links.join(", ")
        ));
    }
    out.push_str("</ul>\n</section>\n");
    out
}

/// One row per case: verdict, section, id, seconds, what it checks.
fn overview(cases: &[CaseResult]) -> String {
    let mut out = String::from(
        "<h2>All cases</h2>\n<table>\n<tr><th>Verdict</th><th>Seed</th><th>Case</th><th>What it checks</th><th>Time</th></tr>\n",
    );
    for c in cases {
        out.push_str(&format!(
            "<tr class=\"{class}\"><td><span class=\"verdict\">{label}</span></td><td>{section}</td><td><a href=\"#case-{id}\">{id}</a></td><td>{title}</td><td class=\"seconds\">{seconds:.2} s</td></tr>\n",
            class = class(c.verdict),
            label = label(c.verdict),
            section = esc(&c.section),
            id = esc(&c.id),
            title = esc(&c.title),
            seconds = c.seconds
        ));
    }
    out.push_str("</table>\n");
    out
}

fn case_section(c: &CaseResult, program: &str) -> String {
    let mut out = format!(
        "<section class=\"case {}\" id=\"case-{}\">\n<h3><span class=\"verdict\">{}</span> {} <code>{}</code>: {}</h3>\n<blockquote class=\"seed\">{}</blockquote>\n",
        class(c.verdict),
        esc(&c.id),
        label(c.verdict),
        esc(&c.section),
        esc(&c.id),
        esc(&c.title),
        esc(&c.seed)
    );
    if !c.detail.is_empty() {
        out.push_str("<ul class=\"reasons\">\n");
        for reason in &c.detail {
            out.push_str(&format!("<li>{}</li>\n", esc(reason)));
        }
        out.push_str("</ul>\n");
    }
    if !c.stderr.is_empty() {
        out.push_str(&format!(
            "<p>The {program}'s last stderr lines:</p>\n<pre class=\"stderr\">{}</pre>\n",
            esc(&c.stderr.join("\n"))
        ));
    }
    if !c.exchange.is_empty() {
        // Open where it shows what went wrong; folded for a pass.
        let open = if c.verdict == Verdict::Pass {
            ""
        } else {
            " open"
        };
        out.push_str(&format!(
            "<details{open}>\n<summary>The exchange ({} messages)</summary>\n<pre class=\"wire\">{}</pre>\n</details>\n",
            c.exchange.len(),
            esc(&c.exchange.join("\n"))
        ));
    }
    out.push_str("</section>\n");
    out
}

fn label(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Deviation => "DEV",
    }
}

fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Deviation => "deviation",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, verdict: Verdict, detail: &[&str]) -> CaseResult {
        CaseResult {
            id: id.into(),
            section: "IV.7".into(),
            title: "download <all>".into(),
            seed: "seed 001 II.1: reply \"330 Ready to send file filename bytes xxx\"".into(),
            verdict,
            cause: detail.first().map(|s| s.to_string()).unwrap_or_default(),
            detail: detail.iter().map(|s| s.to_string()).collect(),
            evidence: vec![],
            stderr: if verdict == Verdict::Pass {
                vec![]
            } else {
                vec!["Traceback <here> \u{1b}".into()]
            },
            exchange: vec!["c1 > \"#DOWNLOAD f\"".into()],
            seconds: 0.5,
        }
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_starts_with_the_causes() {
        let report = Report::new(
            "client",
            "python3 client.py <x>",
            vec![
                case("a", Verdict::Pass, &[]),
                case("b", Verdict::Fail, &["exits & dies", "then <nothing>"]),
            ],
        );
        let page = html(&report);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(
            !page.contains("<script") && !page.contains("http://") && !page.contains("https://")
        );
        assert!(!page.contains('\u{1b}'));
        let summary = page.find("id=\"summary\"").unwrap();
        assert!(summary < page.find("id=\"case-a\"").unwrap());
        assert!(page.contains(
            "exits &amp; dies: <span class=\"count\">1 case</span> (<a href=\"#case-b\">b</a>)"
        ));
        assert!(page.contains("<li>then &lt;nothing&gt;</li>"));
        assert!(page.contains("<code>python3 client.py &lt;x&gt;</code>"));
        assert!(page.contains("Traceback &lt;here&gt; \\u{1b}"));
        assert!(page.contains("reply &quot;330 Ready to send file filename bytes xxx&quot;"));
        assert!(page.contains("<details open>"));
    }

    #[test]
    fn a_report_where_everything_passed_says_so() {
        let report = Report::new("server", "h:1", vec![case("a", Verdict::Pass, &[])]);
        assert!(html(&report).contains("<p class=\"all-passed\">Every case passed.</p>"));
    }
}
