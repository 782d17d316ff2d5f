//! Lua 5.1's lexical grammar: source bytes to tokens, each with its line.
//!
//! Errors carry Lua's texts (`unfinished string`, `malformed number`, …)
//! and the token they were found near, so that the parser can report
//! them as `chunk:line: message near 'token'`, as `luac` does.

use alloc::rc::Rc;
use alloc::vec::Vec;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Name(Rc<[u8]>),
    Str(Rc<[u8]>),
    Num(f64),
    /// A reserved word or a symbol, as written (`and`, `==`, `...`).
    Sym(&'static str),
    /// A byte that starts no token; the parser rejects it.
    Stray(u8),
    Eof,
}

const RESERVED: [&str; 21] = [
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local",
    "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

const SYMBOLS: [&str; 26] = [
    "...", "..", ".", ",", "==", ">=", "<=", "~=", "+", "-", "*", "/", "%", "^", "#", "<", ">",
    "=", "(", ")", "{", "}", "[", "]", ";", ":",
];

/// A lexical error: Lua's message, and the text it was found near.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub line: u32,
    pub message: &'static str,
    pub near: Vec<u8>,
}

/// The scanner over one chunk.
pub struct Lexer<'s> {
    src: &'s [u8],
    pos: usize,
    pub line: u32,
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s [u8]) -> Lexer<'s> {
        // A first line starting with '#' is not skipped: Lua skips it in
        // files only, and scripts are strings.
        Lexer {
            src,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    fn error(&self, message: &'static str, start: usize) -> LexError {
        LexError {
            line: self.line,
            message,
            near: self.src[start..self.pos.min(self.src.len())].to_vec(),
        }
    }

    /// Skips a newline sequence (`\n`, `\r`, `\n\r` or `\r\n`), counting it
    /// as one line.
    fn newline(&mut self) {
        let first = self.src[self.pos];
        self.pos += 1;
        if let Some(c) = self.peek(0)
            && (c == b'\n' || c == b'\r')
            && c != first
        {
            self.pos += 1;
        }
        self.line += 1;
    }

    /// The next token, the line it is on and its text in the source.
    pub fn next(&mut self) -> Result<(Token, u32, &'s [u8]), LexError> {
        loop {
            let Some(c) = self.peek(0) else {
                return Ok((Token::Eof, self.line, b"<eof>"));
            };
            match c {
                b'\n' | b'\r' => self.newline(),
                b' ' | b'\t' | 0x0b | 0x0c => self.pos += 1,
                b'-' if self.peek(1) == Some(b'-') => self.comment()?,
                _ => break,
            }
        }
        let line = self.line;
        let start = self.pos;
        let c = self.src[self.pos];
        let token = if c.is_ascii_alphabetic() || c == b'_' {
            while self
                .peek(0)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.pos += 1;
            }
            let word = &self.src[start..self.pos];
            match RESERVED.iter().find(|r| r.as_bytes() == word) {
                Some(r) => Token::Sym(r),
                None => Token::Name(Rc::from(word)),
            }
        } else if c.is_ascii_digit()
            || (c == b'.' && self.peek(1).is_some_and(|d| d.is_ascii_digit()))
        {
            self.number()?
        } else if c == b'"' || c == b'\'' {
            self.string(c)?
        } else if c == b'[' && self.long_bracket_level().is_some() {
            let level = self.long_bracket_level().unwrap_or(0);
            Token::Str(Rc::from(self.long_string(level, "unfinished long string")?))
        } else {
            let rest = &self.src[self.pos..];
            match SYMBOLS.iter().find(|s| rest.starts_with(s.as_bytes())) {
                Some(s) => {
                    self.pos += s.len();
                    Token::Sym(s)
                }
                None => {
                    self.pos += 1;
                    Token::Stray(c)
                }
            }
        };
        Ok((token, line, &self.src[start..self.pos]))
    }

    /// `[` followed by `=`* and `[`: the number of `=`.
    fn long_bracket_level(&self) -> Option<usize> {
        let mut n = 1;
        while self.peek(n) == Some(b'=') {
            n += 1;
        }
        (self.peek(n) == Some(b'[')).then_some(n - 1)
    }

    fn comment(&mut self) -> Result<(), LexError> {
        self.pos += 2;
        if self.peek(0) == Some(b'[')
            && let Some(level) = self.long_bracket_level()
        {
            self.long_string(level, "unfinished long comment")?;
            return Ok(());
        }
        while self.peek(0).is_some_and(|c| c != b'\n' && c != b'\r') {
            self.pos += 1;
        }
        Ok(())
    }

    /// A long string or comment at `[` of level `level`; its first newline
    /// is skipped.
    fn long_string(&mut self, level: usize, unfinished: &'static str) -> Result<Vec<u8>, LexError> {
        let start = self.pos;
        self.pos += level + 2;
        if matches!(self.peek(0), Some(b'\n' | b'\r')) {
            self.newline();
        }
        let mut out = Vec::new();
        loop {
            match self.peek(0) {
                None => return Err(self.error(unfinished, start).at_eof()),
                Some(b']') => {
                    let mut n = 1;
                    while self.peek(n) == Some(b'=') {
                        n += 1;
                    }
                    if n - 1 == level && self.peek(n) == Some(b']') {
                        self.pos += n + 1;
                        return Ok(out);
                    }
                    out.push(b']');
                    self.pos += 1;
                }
                Some(b'\n' | b'\r') => {
                    out.push(b'\n');
                    self.newline();
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Token, LexError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.error("unfinished string", start).at_eof());
            };
            match c {
                b'\n' | b'\r' => return Err(self.error("unfinished string", start)),
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek(0) else {
                        continue;
                    };
                    let byte = match e {
                        b'a' => 7,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 11,
                        b'\n' | b'\r' => {
                            out.push(b'\n');
                            self.newline();
                            continue;
                        }
                        b'0'..=b'9' => {
                            let mut value = 0u32;
                            let mut digits = 0;
                            while digits < 3 && self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                                value = value * 10 + u32::from(self.src[self.pos] - b'0');
                                self.pos += 1;
                                digits += 1;
                            }
                            if value > 255 {
                                return Err(self.error("escape sequence too large", start));
                            }
                            out.push(value as u8);
                            continue;
                        }
                        other => other,
                    };
                    out.push(byte);
                    self.pos += 1;
                }
                c if c == quote => {
                    self.pos += 1;
                    return Ok(Token::Str(Rc::from(out)));
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A numeral as Lua 5.1 reads one: digits, `.`, an exponent with its
    /// sign, and any alphanumeric tail (so `3x` is one malformed token);
    /// the text must then convert as `tonumber` converts.
    fn number(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        while let Some(c) = self.peek(0) {
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' {
                self.pos += 1;
                if (c == b'e' || c == b'E') && matches!(self.peek(0), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
        match crate::number::parse(&self.src[start..self.pos]) {
            Some(n) => Ok(Token::Num(n)),
            None => Err(self.error("malformed number", start)),
        }
    }
}

impl LexError {
    /// An error at the end of the chunk is reported `near '<eof>'`.
    fn at_eof(mut self) -> LexError {
        self.near = b"<eof>".to_vec();
        self
    }
}
