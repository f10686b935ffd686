//! Escaping text for HTML and XML, one rule for both: `& < > " '` become entities (`&#39;` for the
//! apostrophe, which HTML 4 and XML both read), in element content and attribute values alike.
//! The three callers differ only in what they do with control characters.

use std::fmt::Write;

/// Escapes text for HTML or XML; control characters pass as they are (the web server's pages).
pub fn escape(text: &str) -> String {
    escape_with(text, |c, out| out.push(c))
}

/// [`escape`], with control characters other than tab and newline written as visible `\u{..}`
/// text: a report a person reads shows what arrived rather than hiding it.
pub fn escape_showing_controls(text: &str) -> String {
    escape_with(text, |c, out| match c {
        '\n' | '\t' => out.push(c),
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    })
}

/// [`escape`] for an XML 1.0 document (the JUnit report): characters below U+0020 other than tab
/// and newline, and U+FFFE and U+FFFF, are left out, since XML 1.0 forbids them even written as
/// references and a parser would refuse the whole file.
pub fn escape_for_xml(text: &str) -> String {
    escape_with(text, |c, out| match c {
        '\n' | '\t' => out.push(c),
        c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
        c => out.push(c),
    })
}

/// The markup characters as entities; every other character goes to `other`.
fn escape_with(text: &str, other: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => other(c, &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_entities_in_all_three() {
        let expected = "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;";
        assert_eq!(escape("<a href='x'>&\"</a>"), expected);
        assert_eq!(escape_showing_controls("<a href='x'>&\"</a>"), expected);
        assert_eq!(escape_for_xml("<a href='x'>&\"</a>"), expected);
    }

    #[test]
    fn control_characters_kept_shown_or_dropped() {
        let text = "a\tb\nc\rd\u{1}e\u{7f}f\u{fffe}g";
        assert_eq!(escape(text), text);
        assert_eq!(
            escape_showing_controls(text),
            "a\tb\nc\\u{d}d\\u{1}e\\u{7f}f\u{fffe}g"
        );
        assert_eq!(escape_for_xml(text), "a\tb\ncde\u{7f}fg");
    }
}
