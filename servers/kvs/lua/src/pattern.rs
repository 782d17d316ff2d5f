//! Lua 5.1 pattern matching over bytes, as `string.find`, `string.match`,
//! `string.gmatch` and `string.gsub` use it.
//!
//! The matcher follows Lua 5.1's backtracking algorithm, so results (and
//! the lazy moment at which a malformed pattern is reported) are the same
//! as in the reference interpreter:
//!
//! * Patterns are C strings in Lua 5.1: a `'\0'` byte in the pattern ends
//!   it, and everything after it is ignored. Subjects are byte slices and
//!   may hold any bytes; `%z` matches a zero byte.
//! * Character classes use the C locale: bytes `>= 0x80` are never letters,
//!   digits, spaces, punctuation or control characters.
//! * Errors are found while matching, not up front, exactly like Lua: a
//!   pattern whose broken part is never reached matches or fails normally.
//!
//! # Limits (not in Lua 5.1, which trusts its scripts)
//!
//! Scripts arrive from untrusted clients, so two limits keep a hostile
//! pattern from crashing or hanging the server. Both report
//! [`PatternError::TooComplex`] ("pattern too complex", Lua 5.2's text):
//!
//! * [`MAX_DEPTH`] (200, Lua 5.2's `MAXCCALLS`): nested matcher calls. Every
//!   capture, `?`, `*`, `+` and `-` item nests one level, so a pattern with
//!   more than about 200 of them fails where 5.1 might have succeeded.
//! * [`DEFAULT_STEPS`] (10 million): units of matcher work (pattern items
//!   tried and subject bytes scanned) per [`find`] or [`match_at`] call.
//!   Callers that loop (gmatch, gsub) should share one [`Budget`] across the
//!   whole loop through [`find_budgeted`] and [`match_at_budgeted`].
//!
//! # Captures
//!
//! [`Match::captures`] holds only the pattern's explicit captures. When a
//! pattern has none it is empty, and Lua's implicit "whole match" capture is
//! the caller's job; [`Match::capture`] implements Lua's lookup rule,
//! including that case.
//!
//! One small divergence: an unclosed capture such as `"(a"` makes a
//! successful match return [`PatternError::UnfinishedCapture`] right away.
//! Lua 5.1 reports it only when the capture is read, so a `gsub` with a
//! plain replacement string that never mentions `%1` succeeds in Lua.

use alloc::vec::Vec;
use core::ops::Range;

#[cfg(test)]
mod tests;

/// Lua 5.1's `LUA_MAXCAPTURES`.
pub const MAX_CAPTURES: usize = 32;

/// Deepest nesting of matcher calls before giving up (Lua 5.2's `MAXCCALLS`).
pub const MAX_DEPTH: usize = 200;

/// Units of work one unbudgeted call may spend before giving up.
pub const DEFAULT_STEPS: u64 = 10_000_000;

/// The bytes that make `string.find` use pattern matching rather than a
/// plain substring search (Lua 5.1's `SPECIALS`).
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// One explicit capture of a successful match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    /// A `( ... )` capture: the captured bytes of the subject.
    Span(Range<usize>),
    /// A `()` position capture: a 0-based byte offset; Lua shows it plus 1.
    Position(usize),
}

/// A successful match: the whole match is `subject[start..end]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    /// Explicit captures in pattern order; empty when the pattern has none.
    pub captures: Vec<Capture>,
}

impl Match {
    /// Capture `index` (0-based, so `%1` is index 0) by Lua's rule: a pattern
    /// without captures offers the whole match as capture 0 only.
    pub fn capture(&self, index: usize) -> Result<Capture, PatternError> {
        match self.captures.get(index) {
            Some(capture) => Ok(capture.clone()),
            None if index == 0 && self.captures.is_empty() => {
                Ok(Capture::Span(self.start..self.end))
            }
            None => Err(PatternError::InvalidCaptureIndex),
        }
    }

    /// How many values Lua returns for this match (at least 1: the whole
    /// match stands in when there are no explicit captures).
    pub fn value_count(&self) -> usize {
        self.captures.len().max(1)
    }
}

/// Why a pattern could not be matched; each maps to Lua's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// A `%` with nothing after it.
    EndsWithPercent,
    /// A `[` set that never closes.
    MissingBracket,
    /// `%f` not followed by a `[` set.
    MissingBracketAfterF,
    /// A back-reference (`%0`..`%9`) to a capture that does not exist or is
    /// still open, or a replacement asking for a missing capture.
    InvalidCaptureIndex,
    /// A `)` with no open capture.
    InvalidPatternCapture,
    /// A match ended with a capture still open.
    UnfinishedCapture,
    /// More than [`MAX_CAPTURES`] captures.
    TooManyCaptures,
    /// The depth or step limit was hit (see the module docs).
    TooComplex,
    /// `%b` without its two delimiter bytes.
    MissingArgsForB,
}

impl PatternError {
    /// The message Lua 5.1 raises (5.2's text for [`Self::TooComplex`],
    /// which 5.1 lacks).
    pub fn message(&self) -> &'static str {
        match self {
            Self::EndsWithPercent => "malformed pattern (ends with '%')",
            Self::MissingBracket => "malformed pattern (missing ']')",
            Self::MissingBracketAfterF => "missing '[' after '%f' in pattern",
            Self::InvalidCaptureIndex => "invalid capture index",
            Self::InvalidPatternCapture => "invalid pattern capture",
            Self::UnfinishedCapture => "unfinished capture",
            Self::TooManyCaptures => "too many captures",
            Self::TooComplex => "pattern too complex",
            // Lua 5.1's wording; 5.2 renamed it "missing arguments to '%b'".
            Self::MissingArgsForB => "unbalanced pattern",
        }
    }
}

impl core::fmt::Display for PatternError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// Work allowance shared by a sequence of matcher calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    remaining: u64,
}

impl Budget {
    /// A budget of `steps` units of work.
    pub fn new(steps: u64) -> Self {
        Self { remaining: steps }
    }

    /// Units of work still available.
    #[cfg(test)]
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    fn spend(&mut self, steps: u64) -> Result<(), PatternError> {
        self.remaining = self
            .remaining
            .checked_sub(steps)
            .ok_or(PatternError::TooComplex)?;
        Ok(())
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(DEFAULT_STEPS)
    }
}

/// Splits a leading '^' off: (anchored, rest).
pub fn anchor(p: &[u8]) -> (bool, &[u8]) {
    match p.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, p),
    }
}

/// Whether `string.find` would search for `p` literally: Lua 5.1 looks for
/// special bytes only before the first `'\0'`, but then searches for the
/// whole pattern, zero bytes included.
pub fn is_plain(p: &[u8]) -> bool {
    !c_string(p).iter().any(|b| SPECIALS.contains(b))
}

/// Tries to match the (unanchored-stripped) pattern `p` at exactly `pos` in
/// `s`. A leading `^` here is a literal byte, as in Lua's `gmatch`.
#[cfg(test)]
pub fn match_at(s: &[u8], p: &[u8], pos: usize) -> Result<Option<Match>, PatternError> {
    match_at_budgeted(s, p, pos, &mut Budget::default())
}

/// [`match_at`] drawing on a caller-owned budget.
pub fn match_at_budgeted(
    s: &[u8],
    p: &[u8],
    pos: usize,
    budget: &mut Budget,
) -> Result<Option<Match>, PatternError> {
    if pos > s.len() {
        return Ok(None);
    }
    let mut state = MatchState::new(s, c_string(p), budget);
    match state.do_match(pos, 0)? {
        Some(end) => state.finish(pos, end).map(Some),
        None => Ok(None),
    }
}

/// string.find/match semantics: starting at `init` (0-based, clamped by the
/// caller to `0..=len`), anchored patterns try only `init`, others each
/// position `init..=len`.
pub fn find(s: &[u8], p: &[u8], init: usize) -> Result<Option<Match>, PatternError> {
    find_budgeted(s, p, init, &mut Budget::default())
}

/// [`find`] drawing on a caller-owned budget.
pub fn find_budgeted(
    s: &[u8],
    p: &[u8],
    init: usize,
    budget: &mut Budget,
) -> Result<Option<Match>, PatternError> {
    let (anchored, rest) = anchor(c_string(p));
    let last = if anchored { init } else { s.len() };
    for pos in init..=last {
        if let Some(found) = match_at_budgeted(s, rest, pos, budget)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The pattern as Lua 5.1 sees it: up to the first zero byte.
fn c_string(p: &[u8]) -> &[u8] {
    match p.iter().position(|&b| b == 0) {
        Some(nul) => &p[..nul],
        None => p,
    }
}

/// What is known about one capture while matching.
#[derive(Debug, Clone, Copy)]
enum CaptureLen {
    /// Opened by `(`, not yet closed by `)`.
    Unfinished,
    /// A `()` position capture.
    Position,
    /// A closed capture of this many bytes.
    Closed(usize),
}

/// The matcher's working state for one attempt at one position.
struct MatchState<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    /// Open and closed captures, in order of their `(`.
    captures: Vec<(usize, CaptureLen)>,
    depth: usize,
    budget: &'a mut Budget,
}

impl<'a> MatchState<'a> {
    fn new(src: &'a [u8], pat: &'a [u8], budget: &'a mut Budget) -> Self {
        Self {
            src,
            pat,
            captures: Vec::new(),
            depth: 0,
            budget,
        }
    }

    /// Turns the captures of a successful match into the public form.
    fn finish(&self, start: usize, end: usize) -> Result<Match, PatternError> {
        let captures = self
            .captures
            .iter()
            .map(|&(init, len)| match len {
                CaptureLen::Unfinished => Err(PatternError::UnfinishedCapture),
                CaptureLen::Position => Ok(Capture::Position(init)),
                CaptureLen::Closed(n) => Ok(Capture::Span(init..init + n)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Match {
            start,
            end,
            captures,
        })
    }

    /// Matches pattern `p..` against subject `s..`, returning where the
    /// match ends. Each call nests one level, bounded by [`MAX_DEPTH`].
    fn do_match(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatternError> {
        if self.depth >= MAX_DEPTH {
            return Err(PatternError::TooComplex);
        }
        self.depth += 1;
        let result = self.match_items(s, p);
        self.depth -= 1;
        result
    }

    /// The body of [`Self::do_match`]: items that cannot backtrack are
    /// consumed in this loop, the rest recurse.
    fn match_items(&mut self, mut s: usize, mut p: usize) -> Result<Option<usize>, PatternError> {
        loop {
            self.budget.spend(1)?;
            let Some(&item) = self.pat.get(p) else {
                return Ok(Some(s));
            };
            match item {
                b'(' if self.pat.get(p + 1) == Some(&b')') => {
                    return self.start_capture(s, p + 2, CaptureLen::Position);
                }
                b'(' => return self.start_capture(s, p + 1, CaptureLen::Unfinished),
                b')' => return self.end_capture(s, p + 1),
                // '$' anchors only as the pattern's last byte.
                b'$' if p + 1 == self.pat.len() => {
                    return Ok((s == self.src.len()).then_some(s));
                }
                b'%' => match self.pat.get(p + 1) {
                    Some(b'b') => match self.match_balance(s, p + 2)? {
                        Some(next) => {
                            s = next;
                            p += 4;
                            continue;
                        }
                        None => return Ok(None),
                    },
                    Some(b'f') => {
                        p += 2;
                        if !self.frontier(s, p)? {
                            return Ok(None);
                        }
                        p = self.class_end(p)?;
                        continue;
                    }
                    Some(&digit) if digit.is_ascii_digit() => {
                        match self.match_back_reference(s, digit)? {
                            Some(next) => {
                                s = next;
                                p += 2;
                                continue;
                            }
                            None => return Ok(None),
                        }
                    }
                    // Any other escape is a single-byte class like '%a'.
                    _ => {}
                },
                _ => {}
            }
            match self.single_item(s, p)? {
                Step::Done(result) => return Ok(result),
                Step::Continue(next_s, next_p) => {
                    s = next_s;
                    p = next_p;
                }
            }
        }
    }

    /// Matches one single-byte class at `p` with its optional quantifier.
    fn single_item(&mut self, s: usize, p: usize) -> Result<Step, PatternError> {
        let ep = self.class_end(p)?;
        let matched = self.single_match_at(s, p, ep);
        let result = match self.pat.get(ep) {
            Some(b'?') => {
                if matched && let Some(end) = self.do_match(s + 1, ep + 1)? {
                    return Ok(Step::Done(Some(end)));
                }
                return Ok(Step::Continue(s, ep + 1));
            }
            Some(b'*') => self.max_expand(s, p, ep)?,
            Some(b'+') if matched => self.max_expand(s + 1, p, ep)?,
            Some(b'+') => None,
            Some(b'-') => self.min_expand(s, p, ep)?,
            _ if matched => return Ok(Step::Continue(s + 1, ep)),
            _ => None,
        };
        Ok(Step::Done(result))
    }

    /// Greedy repetition: take as many bytes as the class allows, then give
    /// them back one at a time until the rest of the pattern matches.
    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, PatternError> {
        let mut count = 0;
        while self.single_match_at(s + count, p, ep) {
            count += 1;
        }
        self.budget.spend(count as u64)?;
        loop {
            if let Some(end) = self.do_match(s + count, ep + 1)? {
                return Ok(Some(end));
            }
            if count == 0 {
                return Ok(None);
            }
            count -= 1;
        }
    }

    /// Lazy repetition: try the rest of the pattern first, and take one more
    /// byte only when it fails.
    fn min_expand(
        &mut self,
        mut s: usize,
        p: usize,
        ep: usize,
    ) -> Result<Option<usize>, PatternError> {
        loop {
            if let Some(end) = self.do_match(s, ep + 1)? {
                return Ok(Some(end));
            }
            if !self.single_match_at(s, p, ep) {
                return Ok(None);
            }
            s += 1;
        }
    }

    fn start_capture(
        &mut self,
        s: usize,
        p: usize,
        len: CaptureLen,
    ) -> Result<Option<usize>, PatternError> {
        if self.captures.len() >= MAX_CAPTURES {
            return Err(PatternError::TooManyCaptures);
        }
        self.captures.push((s, len));
        let result = self.do_match(s, p)?;
        if result.is_none() {
            // Backtracking past the '(' forgets the capture again.
            self.captures.pop();
        }
        Ok(result)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatternError> {
        let index = self.capture_to_close()?;
        let start = self.captures[index].0;
        self.captures[index].1 = CaptureLen::Closed(s - start);
        let result = self.do_match(s, p)?;
        if result.is_none() {
            self.captures[index].1 = CaptureLen::Unfinished;
        }
        Ok(result)
    }

    /// The innermost capture still open, which a ')' closes.
    fn capture_to_close(&self) -> Result<usize, PatternError> {
        self.captures
            .iter()
            .rposition(|(_, len)| matches!(len, CaptureLen::Unfinished))
            .ok_or(PatternError::InvalidPatternCapture)
    }

    /// `%1`..`%9`: the subject must repeat a closed capture's bytes here.
    fn match_back_reference(&mut self, s: usize, digit: u8) -> Result<Option<usize>, PatternError> {
        let index = usize::from(digit - b'0')
            .checked_sub(1)
            .ok_or(PatternError::InvalidCaptureIndex)?;
        let &(start, len) = self
            .captures
            .get(index)
            .ok_or(PatternError::InvalidCaptureIndex)?;
        let len = match len {
            CaptureLen::Unfinished => return Err(PatternError::InvalidCaptureIndex),
            // Lua compares a position capture's negative length as a huge
            // unsigned one, so referring back to it never matches.
            CaptureLen::Position => return Ok(None),
            CaptureLen::Closed(n) => n,
        };
        self.budget.spend(len as u64)?;
        let captured = &self.src[start..start + len];
        Ok(self
            .src
            .get(s..s + len)
            .filter(|here| *here == captured)
            .map(|_| s + len))
    }

    /// `%bxy`: a run from `x` to its balancing `y`, nested pairs included.
    fn match_balance(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatternError> {
        let (Some(&open), Some(&close)) = (self.pat.get(p), self.pat.get(p + 1)) else {
            return Err(PatternError::MissingArgsForB);
        };
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1usize;
        for (offset, &byte) in self.src[s + 1..].iter().enumerate() {
            // The closer is checked first, so "%bxx" closes on the next 'x'.
            if byte == close {
                depth -= 1;
                if depth == 0 {
                    self.budget.spend(offset as u64)?;
                    return Ok(Some(s + 1 + offset + 1));
                }
            } else if byte == open {
                depth += 1;
            }
        }
        self.budget.spend((self.src.len() - s) as u64)?;
        Ok(None)
    }

    /// `%f[set]` at `p` (pointing at the '['): the byte before `s` is not in
    /// the set and the byte at `s` is; the subject's ends count as '\0'.
    fn frontier(&self, s: usize, p: usize) -> Result<bool, PatternError> {
        if self.pat.get(p) != Some(&b'[') {
            return Err(PatternError::MissingBracketAfterF);
        }
        let ep = self.class_end(p)?;
        let previous = s.checked_sub(1).map_or(0, |i| self.src[i]);
        let current = self.src.get(s).copied().unwrap_or(0);
        Ok(!self.bracket_class(previous, p, ep - 1) && self.bracket_class(current, p, ep - 1))
    }

    /// Index just past the single-byte class starting at `p`.
    fn class_end(&self, p: usize) -> Result<usize, PatternError> {
        match self.pat.get(p) {
            Some(b'%') if p + 1 < self.pat.len() => Ok(p + 2),
            Some(b'%') => Err(PatternError::EndsWithPercent),
            Some(b'[') => self.bracket_end(p + 1),
            _ => Ok(p + 1),
        }
    }

    /// Index just past the ']' closing a set whose body starts at `p`. The
    /// first body byte (after an optional '^') is always a member, so "[]]"
    /// is the set of ']'.
    fn bracket_end(&self, mut p: usize) -> Result<usize, PatternError> {
        if self.pat.get(p) == Some(&b'^') {
            p += 1;
        }
        loop {
            let byte = *self.pat.get(p).ok_or(PatternError::MissingBracket)?;
            p += 1;
            // An escape swallows the next byte, so "%]" does not close.
            if byte == b'%' && p < self.pat.len() {
                p += 1;
            }
            if self.pat.get(p) == Some(&b']') {
                return Ok(p + 1);
            }
        }
    }

    /// Whether subject byte `s` exists and matches the class `pat[p..ep]`.
    fn single_match_at(&self, s: usize, p: usize, ep: usize) -> bool {
        self.src
            .get(s)
            .is_some_and(|&c| self.single_match(c, p, ep))
    }

    fn single_match(&self, c: u8, p: usize, ep: usize) -> bool {
        match self.pat[p] {
            b'.' => true,
            b'%' => class_matches(c, self.pat[p + 1]),
            b'[' => self.bracket_class(c, p, ep - 1),
            literal => literal == c,
        }
    }

    /// Whether `c` is in the set `pat[p..=ec]`, where `p` is the '[' and
    /// `ec` the closing ']'.
    fn bracket_class(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut member = true;
        if self.pat[p + 1] == b'^' {
            member = false;
            p += 1;
        }
        p += 1;
        while p < ec {
            let byte = self.pat[p];
            if byte == b'%' {
                p += 1;
                if class_matches(c, self.pat[p]) {
                    return member;
                }
            } else if self.pat[p + 1] == b'-' && p + 2 < ec {
                if byte <= c && c <= self.pat[p + 2] {
                    return member;
                }
                p += 2;
            } else if byte == c {
                return member;
            }
            p += 1;
        }
        !member
    }
}

/// What matching one single-byte item decided.
enum Step {
    /// The attempt at this level is over with this result.
    Done(Option<usize>),
    /// Keep matching at these subject and pattern positions.
    Continue(usize, usize),
}

/// Whether `c` is in the class named by the escape `%class`. Upper-case
/// letters complement their class; any other byte stands for itself.
fn class_matches(c: u8, class: u8) -> bool {
    let member = match class.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        // C's isspace also counts '\v', which Rust's check leaves out.
        b's' => c.is_ascii_whitespace() || c == 0x0b,
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        b'z' => c == 0,
        _ => return class == c,
    };
    if class.is_ascii_uppercase() {
        !member
    } else {
        member
    }
}
