//! `imgaudit rules` and `imgaudit explain RULE`: the rule catalogue at the
//! terminal, like `cargo deny list` and `rustc --explain`.
//!
//! The list comes from [`Code`] (ids, default severities, one-line
//! descriptions: the same data SARIF's rule metadata uses); an explanation is
//! the rule's `### id` section of `docs/rules.md`, compiled in, so the
//! terminal and the web page can never say different things. A guard test
//! checks every rule has its section.

use std::fmt::Write as _;

use strum::IntoEnumIterator;

use crate::checks::Code;

/// `docs/rules.md`, whose `### rule-id` sections are the explanations.
const RULES_MD: &str = include_str!("../../docs/rules.md");

/// Every rule, one per line: id, default severity, description.
pub(crate) fn list() -> String {
    let width = Code::iter().map(|c| c.as_str().len()).max().unwrap_or(0);
    let mut out = String::new();
    for code in Code::iter() {
        let _ = writeln!(
            out,
            "{:<width$}  {:<7}  {}",
            code.as_str(),
            code.default_severity().to_string(),
            code.description()
        );
    }
    out.push_str(
        "\n`imgaudit explain RULE` says why a rule breaks at run time and how to fix it;\n\
         `[rules]` in imgaudit.toml or `--rule RULE=LEVEL` changes a severity.\n",
    );
    out
}

/// The docs section of `rule`, or a one-line error naming the closest rule.
pub(crate) fn explain(rule: &str) -> anyhow::Result<String> {
    let code = crate::config::parse_code(rule).map_err(|suggestion| match suggestion {
        Some(code) => anyhow::anyhow!(
            "unknown rule `{rule}`, did you mean `{code}`? (`imgaudit rules` lists them)"
        ),
        None => anyhow::anyhow!("unknown rule `{rule}` (`imgaudit rules` lists them)"),
    })?;
    section(code).ok_or_else(|| anyhow::anyhow!("no documentation for rule `{code}`"))
}

/// The `### code` section of `docs/rules.md`, heading included, up to the
/// next heading of the same or a higher level.
fn section(code: Code) -> Option<String> {
    let heading = format!("### {}", code.as_str());
    let mut lines = RULES_MD.lines().skip_while(|l| l.trim_end() != heading);
    let first = lines.next()?;
    let mut out = String::from(first);
    out.push('\n');
    for line in lines {
        if line.starts_with("## ") || line.starts_with("### ") {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    Some(format!("{}\n", out.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_listed_and_explained() {
        let list = list();
        for code in Code::iter() {
            assert!(list.contains(code.as_str()), "{code} not listed");
            let text = section(code).unwrap_or_else(|| panic!("{code}: no docs section"));
            assert!(text.starts_with(&format!("### {code}\n")), "{text}");
            assert!(text.contains("**Default severity:**"), "{code}: {text}");
            // One section only: never the next rule's heading.
            assert_eq!(text.matches("\n### ").count(), 0, "{code}");
        }
    }

    #[test]
    fn unknown_rules_get_a_suggestion() {
        let e = explain("shim-mising").unwrap_err().to_string();
        assert!(e.contains("did you mean `shim-missing`"), "{e}");
    }
}
