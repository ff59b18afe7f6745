//! A markdown document that fits in one pull-request comment: parts are added in order
//! of importance, a long part row by row while rows fit, and what did not fit is named
//! in a note where the summary ends.

use std::fmt::Write;

/// The longest comment GitHub accepts, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// Room kept for the note on what was left out.
const NOTE_ROOM: usize = 1_500;

/// At most this fraction of a document, `1/n`: `Share(2)` is half.
#[derive(Debug, Clone, Copy)]
pub struct Share(pub usize);

/// All the room left.
pub const ALL: Share = Share(1);

/// A document bounded to `limit` characters.
pub struct Document {
    text: String,
    chars: usize,
    limit: usize,
    /// Where the note on what was left out goes (a byte offset into `text`).
    note_at: Option<usize>,
    left_out: Vec<String>,
}

impl Document {
    pub fn new(limit: usize) -> Self {
        Self {
            text: String::new(),
            chars: 0,
            limit: limit.saturating_sub(NOTE_ROOM),
            note_at: None,
            left_out: Vec::new(),
        }
    }

    fn fits(&self, text: &str) -> bool {
        self.chars + text.chars().count() <= self.limit
    }

    fn push(&mut self, text: &str) {
        self.chars += text.chars().count();
        self.text.push_str(text);
    }

    /// Adds `text` if it fits; else names `what` as left out.
    pub fn whole(&mut self, what: &str, text: &str) {
        if self.fits(text) {
            self.push(text);
        } else {
            self.leave_out(what);
        }
    }

    /// Names `what` as left out.
    pub fn leave_out(&mut self, what: &str) {
        self.left_out.push(what.to_string());
    }

    /// Adds `head`, as many of `rows` as fit in `share` of the document (a
    /// [`Share`]), and `tail`; names the rows left out as "N of M `what`". Nothing is
    /// added unless `head` and `tail` fit with one row.
    pub fn rows(&mut self, what: &str, head: &str, rows: &[String], tail: &str, share: Share) {
        let first = rows.first().map_or("", String::as_str);
        if !self.fits(&format!("{head}{first}{tail}")) {
            if !rows.is_empty() {
                self.left_out.push(format!("{} {what}", rows.len()));
            }
            return;
        }
        let end = self.limit.min(self.chars + self.limit / share.0);
        self.push(head);
        let room = end.saturating_sub(tail.chars().count());
        let mut shown = 0;
        for row in rows {
            let length = row.chars().count();
            if self.chars + length > room {
                break;
            }
            self.push(row);
            shown += 1;
        }
        self.push(tail);
        if shown < rows.len() {
            self.left_out
                .push(format!("{} of {} {what}", rows.len() - shown, rows.len()));
        }
    }

    /// Marks where the note on what was left out goes.
    pub fn note_here(&mut self) {
        self.note_at = Some(self.text.len());
    }

    /// The document, with a note naming what was left out and `full`, where the whole
    /// plan is, when anything was.
    pub fn finish(mut self, full: &str) -> String {
        if self.left_out.is_empty() {
            return self.text;
        }
        let mut note = String::new();
        let _ = writeln!(
            note,
            "> [!NOTE]\n> Shortened to fit one pull-request comment: left out {}. {full}\n",
            self.left_out.join("; ")
        );
        let at = self.note_at.unwrap_or(self.text.len());
        self.text.insert_str(at, &note);
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_that_do_not_fit_are_counted_and_named() {
        let rows: Vec<String> = (0..1000).map(|i| format!("row {i:04}\n")).collect();
        let mut doc = Document::new(NOTE_ROOM + 100);
        doc.note_here();
        doc.rows("rows", "head\n", &rows, "tail\n", ALL);
        let text = doc.finish("See elsewhere.");
        assert!(text.starts_with("> [!NOTE]\n> Shortened to fit one pull-request comment: left out 990 of 1000 rows. See elsewhere."), "{text}");
        assert!(text.ends_with("row 0009\ntail\n"), "{text}");
        assert!(text.chars().count() <= NOTE_ROOM + 100);
    }

    #[test]
    fn a_document_that_fits_has_no_note() {
        let mut doc = Document::new(COMMENT_LIMIT);
        doc.whole("the graph", "graph\n");
        assert_eq!(doc.finish("unused"), "graph\n");
    }
}
