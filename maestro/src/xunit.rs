//! The client's xUnit (JUnit XML) report of one test, for CI systems, as Maestro's clients
//! write it: one test case per worker verdict, a failure with its reason.

use std::fmt::Write;

/// One worker's verdict as a test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// `name@host` of the worker.
    pub name: String,
    /// The worker's role (`sender`, `receiver`).
    pub class: String,
    /// `Err`: why it failed (a worker that gave no verdict fails too).
    pub result: Result<(), String>,
}

/// The report of test `suite` that took `seconds`.
pub fn report(suite: &str, cases: &[Case], seconds: f64) -> String {
    let failures = cases.iter().filter(|c| c.result.is_err()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{seconds:.3}\">",
        escape(suite),
        cases.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds:.3}\">",
        escape(suite),
        cases.len()
    );
    for c in cases {
        let head = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{seconds:.3}\"",
            escape(&c.class),
            escape(&c.name)
        );
        match &c.result {
            Ok(()) => {
                let _ = writeln!(x, "{head}/>");
            }
            Err(why) => {
                let _ = writeln!(
                    x,
                    "{head}>\n      <failure message=\"{}\" type=\"TestFailed\">{}</failure>\n    </testcase>",
                    escape(why),
                    escape(why)
                );
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// Text as XML character data or an attribute value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_per_verdict_with_failures_escaped() {
        let cases = [
            Case {
                name: "w1@h".into(),
                class: "sender".into(),
                result: Ok(()),
            },
            Case {
                name: "w2@h".into(),
                class: "receiver".into(),
                result: Err("latency > 5 ms & \"more\"\u{1}".into()),
            },
        ];
        let x = report("fixed-rate", &cases, 2.5);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(x.contains("<testcase classname=\"sender\" name=\"w1@h\" time=\"2.500\"/>"));
        assert!(
            x.contains("message=\"latency &gt; 5 ms &amp; &quot;more&quot; \""),
            "{x}"
        );
        assert!(x.ends_with("</testsuite>\n</testsuites>\n"));
    }
}
