//! JUnit XML for a `policy test` run: one `<testsuite>` per test file, one `<testcase>` per
//! case, a `<failure>` per failed case and an `<error>` case for a file that could not run.

use std::fmt::Write;

use super::Run;

/// Renders `run` as a JUnit XML document.
pub(crate) fn render(run: &Run) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = run.passed().saturating_add(run.failed());
    let _ = writeln!(
        xml,
        "<testsuites name=\"trust-edge policy test\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        total.saturating_add(run.errored()),
        run.failed(),
        run.errored()
    );
    for file in &run.files {
        let failures = file.cases.iter().filter(|c| !c.passed()).count();
        let errors = usize::from(!file.errors.is_empty());
        let name = escape(&file.file);
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">",
            file.cases.len().saturating_add(errors)
        );
        if !file.errors.is_empty() {
            let lines: Vec<String> = file.errors.iter().map(ToString::to_string).collect();
            let first = lines.first().map(String::as_str).unwrap_or_default();
            let _ = writeln!(
                xml,
                "    <testcase name=\"(load)\" classname=\"{name}\">\n      <error message=\"{}\">{}</error>\n    </testcase>",
                escape(first),
                escape(&lines.join("\n"))
            );
        }
        for case in &file.cases {
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{name}\" file=\"{name}\" line=\"{}\"",
                escape(&case.name),
                case.line
            );
            if case.passed() {
                xml.push_str("/>\n");
                continue;
            }
            let first = case
                .failures
                .first()
                .map(String::as_str)
                .unwrap_or_default();
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"{}\" type=\"policy\">{}</failure>\n    </testcase>",
                escape(first),
                escape(&case.failures.join("\n"))
            );
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot hold at all
/// (most control characters) become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
