//! A Dockerfile step as the image history records it (`created_by`), made
//! readable in one line.
//!
//! This module owns the one rendering of a step that every output uses: the
//! location line and notes of the text report, the messages of the checks
//! (`layer 3 (`RUN …`)`) and the layer tables of `imgaudit size`. Before it,
//! three shorteners gave three renderings of the same step in one run. It
//! does not decide *which* layer is meant; callers pass the `created_by`.

/// The widest a `created_by` gets after shortening, in characters.
pub const WIDTH: usize = 60;

/// Make a history `created_by` readable: the Dockerfile instruction without the
/// shell wrapper docker records, whitespace collapsed, control characters
/// escaped, cut to [`WIDTH`] characters with an ellipsis.
///
/// The shapes handled, as docker and BuildKit write them:
/// `/bin/sh -c #(nop)  COPY file:… in /app ` (classic builder, non-RUN),
/// `/bin/sh -c pip install …` (classic RUN),
/// `RUN /bin/sh -c pip install … # buildkit` and
/// `RUN |2 A=1 B=2 /bin/sh -c …` (BuildKit RUN with build args).
///
/// ```
/// assert_eq!(imgaudit::step::shorten("RUN /bin/sh -c pip install . # buildkit"), "RUN pip install .");
/// ```
pub fn shorten(created_by: &str) -> String {
    let mut text = created_by.trim();
    text = text.strip_suffix("# buildkit").unwrap_or(text).trim_end();
    let owned;
    if let Some(rest) = text.strip_prefix("/bin/sh -c #(nop)") {
        text = rest.trim_start();
    } else if let Some(rest) = text.strip_prefix("/bin/sh -c ") {
        owned = format!("RUN {}", rest.trim_start());
        text = &owned;
    } else if let Some(rest) = text.strip_prefix("RUN ") {
        let mut rest = rest.trim_start();
        // `|N k=v …`: BuildKit lists N build args before the command.
        if let Some(count) = rest
            .strip_prefix('|')
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            let mut words = rest.splitn(count + 2, ' ');
            rest = words.nth(count + 1).unwrap_or("");
        }
        let rest = rest.strip_prefix("/bin/sh -c ").unwrap_or(rest);
        owned = format!("RUN {}", rest.trim_start());
        text = &owned;
    }
    let collapsed: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .flat_map(|c| {
            // A history entry is input: never let it put escape sequences
            // on a terminal or break a one-line label.
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if collapsed.chars().count() <= WIDTH {
        return collapsed;
    }
    let mut cut: String = collapsed.chars().take(WIDTH - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn created_by_is_shortened() {
        let cases = [
            // Classic builder, non-RUN instruction.
            (
                "/bin/sh -c #(nop)  COPY file:4c3b in /app ",
                "COPY file:4c3b in /app",
            ),
            (
                "/bin/sh -c #(nop)  CMD [\"python\" \"-m\" \"app\"]",
                "CMD [\"python\" \"-m\" \"app\"]",
            ),
            // Classic builder RUN.
            (
                "/bin/sh -c apt-get update &&     apt-get install -y python3",
                "RUN apt-get update && apt-get install -y python3",
            ),
            // BuildKit RUN.
            (
                "RUN /bin/sh -c pip install . # buildkit",
                "RUN pip install .",
            ),
            // BuildKit RUN with build args.
            (
                "RUN |2 PY=3.12 X=1 /bin/sh -c pip install x # buildkit",
                "RUN pip install x",
            ),
            // Already short and clean.
            ("COPY /src /app # buildkit", "COPY /src /app"),
            // Too long: cut at 60 characters with an ellipsis.
            (
                "RUN /bin/sh -c pip install aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee",
                "RUN pip install aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd…",
            ),
            // Multi-line RUN steps (heredocs, `\` continuations) become one line.
            (
                "RUN /bin/sh -c set -e\n\tpip install x \\\n  y",
                "RUN set -e pip install x \\ y",
            ),
            // Control characters are escaped, not passed through.
            ("RUN echo \u{1b}[31m", "RUN echo \\u{1b}[31m"),
            // Multi-byte characters are cut on a character boundary.
            (&"é".repeat(80), &format!("{}…", "é".repeat(59))),
        ];
        for (input, expected) in cases {
            assert_eq!(shorten(input), expected, "for {input:?}");
        }
    }
}
