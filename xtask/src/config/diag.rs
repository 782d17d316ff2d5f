//! Errors in a config tree, each tied to a place in a file and printed as
//! `file:line:col: message`, then the line itself and a caret under the
//! offending text.

use std::fmt::Write;
use std::ops::Range;
use std::path::PathBuf;

/// One file of the tree: its path as shown to the user, and its text.
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// A place: a file (index into the tree's sources) and a byte range in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: usize,
    pub span: Range<usize>,
}

impl Loc {
    /// The start of file `file`.
    pub fn start_of(file: usize) -> Self {
        Self { file, span: 0..0 }
    }
}

/// A value and where it was written.
#[derive(Clone, Debug)]
pub struct At<T> {
    pub value: T,
    pub loc: Loc,
}

/// One error.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub loc: Loc,
    pub message: String,
}

/// The errors found in a tree, with the files they point into.
#[derive(Default)]
pub struct Report {
    pub sources: Vec<Source>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Records an error at `loc`.
    pub fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            loc: loc.clone(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Puts the errors in file order, then position order, and drops exact
    /// repeats.
    pub fn sort(&mut self) {
        self.diagnostics.sort_by(|a, b| {
            (a.loc.file, a.loc.span.start, a.loc.span.end).cmp(&(
                b.loc.file,
                b.loc.span.start,
                b.loc.span.end,
            ))
        });
        self.diagnostics
            .dedup_by(|a, b| a.loc == b.loc && a.message == b.message);
    }

    /// 1-based line and column (in characters) of byte `offset` in `file`.
    pub fn line_col(&self, loc: &Loc) -> (usize, usize) {
        let text = &self.sources[loc.file].text;
        let offset = floor_char_boundary(text, loc.span.start.min(text.len()));
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = text[..offset].matches('\n').count() + 1;
        (line, text[line_start..offset].chars().count() + 1)
    }

    /// `path:line:col: message` for each error (the first line of what
    /// [`render`](Self::render) prints).
    pub fn headlines(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .map(|d| {
                let (line, col) = self.line_col(&d.loc);
                format!(
                    "{}:{line}:{col}: {}",
                    self.sources[d.loc.file].path.display(),
                    d.message
                )
            })
            .collect()
    }

    /// Every error with its line and a caret under the offending text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (d, headline) in self.diagnostics.iter().zip(self.headlines()) {
            let text = &self.sources[d.loc.file].text;
            let start = floor_char_boundary(text, d.loc.span.start.min(text.len()));
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            let line = text[line_start..line_end].trim_end_matches('\r');
            let end = floor_char_boundary(text, d.loc.span.end.clamp(start, line_end));
            // Keep tabs in the padding so the caret lines up under them.
            let pad: String = text[line_start..start]
                .chars()
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let width = text[start..end].chars().count().max(1);
            let _ = writeln!(out, "{headline}");
            let _ = writeln!(out, "    {line}");
            let _ = writeln!(out, "    {pad}{}", "^".repeat(width));
        }
        out
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}
