//! What a diagnostic shows of a file: the text, with every line longer than
//! [`LONGEST_LINE`] bytes cut to a window around the first label on it (`…` where text
//! is left out), and the labels moved to match. miette cannot draw a label past column
//! 65,535, and no one reads a line that long.

use std::ops::Range;

use crate::error::Span;

/// The most of one line a diagnostic shows, in bytes.
pub const LONGEST_LINE: usize = 300;

/// Marks where a cut line leaves text out.
const ELLIPSIS: &str = "…";

/// A file's text as a diagnostic shows it.
#[derive(Debug)]
pub struct Excerpt {
    pub text: String,
    /// Every line of the original text, in order.
    lines: Vec<Line>,
}

/// One line of the original text and where it is shown.
#[derive(Debug)]
struct Line {
    /// Where the line starts in the original text.
    start: usize,
    /// Where its content ends (before the newline) in the original text.
    end: usize,
    /// The part of the content that is shown.
    window: Range<usize>,
    /// Where the window starts in the excerpt.
    shown_at: usize,
    /// Whether an ellipsis follows the window.
    cut_after: bool,
}

impl Excerpt {
    /// `text`, each long line cut around the first of `anchors` (offsets) on it, or
    /// around its start.
    pub fn new(text: &str, anchors: &[usize]) -> Self {
        let mut shown = String::new();
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let content = line.strip_suffix('\n').unwrap_or(line);
            let end = start + content.len();
            let window = window(text, start..end, anchors);
            if window.start > start {
                shown.push_str(ELLIPSIS);
            }
            let shown_at = shown.len();
            shown.push_str(&text[window.clone()]);
            let cut_after = window.end < end;
            if cut_after {
                shown.push_str(ELLIPSIS);
            }
            shown.push_str(&line[content.len()..]);
            lines.push(Line {
                start,
                end,
                window,
                shown_at,
                cut_after,
            });
            start += line.len();
        }
        Self { text: shown, lines }
    }

    /// Where `offset` of the original text is shown: offsets left out are moved to the
    /// nearest edge of what is shown of their line.
    fn offset(&self, offset: usize) -> usize {
        let index = self.lines.partition_point(|l| l.start <= offset);
        let Some(line) = index.checked_sub(1).and_then(|i| self.lines.get(i)) else {
            return 0;
        };
        let shown_end = line.shown_at + line.window.len();
        if offset <= line.window.end {
            line.shown_at + offset.saturating_sub(line.window.start)
        } else if offset <= line.end {
            shown_end
        } else {
            let ellipsis = if line.cut_after { ELLIPSIS.len() } else { 0 };
            shown_end + ellipsis + (offset - line.end)
        }
    }

    /// Where `span` of the original text is shown.
    pub fn span(&self, span: &Span) -> Span {
        let start = self.offset(span.start);
        start..self.offset(span.end).max(start)
    }
}

/// The shown part of the line `line` of `text`: all of it when short, else
/// [`LONGEST_LINE`] bytes around the first anchor on it (or from its start).
fn window(text: &str, line: Range<usize>, anchors: &[usize]) -> Range<usize> {
    if line.len() <= LONGEST_LINE {
        return line;
    }
    let anchor = anchors
        .iter()
        .copied()
        .filter(|a| line.contains(a))
        .min()
        .unwrap_or(line.start);
    let start = boundary(
        text,
        anchor.saturating_sub(LONGEST_LINE / 2).max(line.start),
    );
    let end = boundary(text, (start + LONGEST_LINE).min(line.end));
    start..end
}

/// The last character boundary of `text` at or before `at`.
fn boundary(text: &str, at: usize) -> usize {
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_shown_as_they_are() {
        let text = "a = 1\nb = 2\n";
        let excerpt = Excerpt::new(text, &[6]);
        assert_eq!(excerpt.text, text);
        assert_eq!(excerpt.span(&(6..11)), 6..11);
        assert_eq!(excerpt.offset(text.len()), text.len());
    }

    #[test]
    fn a_long_line_is_cut_around_its_label_and_the_label_moves_with_it() {
        let long = format!("x = [{}BAD]", "1, ".repeat(30_000));
        let text = format!("a = 1\n{long}\nb = 2\n");
        let bad = text.find("BAD").unwrap();
        let excerpt = Excerpt::new(&text, &[bad]);

        let longest = excerpt.text.lines().map(str::len).max().unwrap();
        assert!(longest <= LONGEST_LINE + 2 * ELLIPSIS.len(), "{longest}");
        let shown = excerpt.span(&(bad..bad + 3));
        assert_eq!(&excerpt.text[shown], "BAD");
        assert!(excerpt.text.starts_with("a = 1\n…"));
        assert!(excerpt.text.ends_with("BAD]\nb = 2\n"));
        let after = text.find("b = 2").unwrap();
        assert_eq!(&excerpt.text[excerpt.span(&(after..after + 5))], "b = 2");
        assert_eq!(excerpt.offset(text.len()), excerpt.text.len());
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let text = "é".repeat(1_000);
        let excerpt = Excerpt::new(&text, &[1_000]);
        let shown = excerpt.span(&(1_000..1_002));
        assert_eq!(&excerpt.text[shown], "é");
    }
}
