//! The meta commands' lines (`mg`, `ms`, `md`, `ma`, `me`): the key, the
//! flags decoded once, and memcached 1.6's errors for bad ones. The flag
//! tokens are kept in order too, because the reply echoes them in the
//! order they came.

use alloc::vec::Vec;

use kvs_core::mc::cnum::{strtol32, strtoul32, strtoull};
use kvs_core::mc::{self, Mode};

use crate::parse::{Command, KEY_MAX, Refusal, refuse};

/// Flags longer than this many tokens (with the command and key) are
/// refused.
const MAX_OPT_TOKENS: usize = 20;

/// The longest opaque token (`O…`), its letter included.
pub const MAX_OPAQUE: usize = 32;

const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";

/// What every meta command carries: the key, whether it was base64, the
/// flag tokens in order, and `q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The key (decoded when binary).
    pub key: Vec<u8>,
    /// The key came in base64 (`b`): it goes back that way.
    pub binary: bool,
    /// The flag tokens, in order.
    pub tokens: Vec<Vec<u8>>,
    /// `q`: nominal replies are not sent.
    pub quiet: bool,
}

impl Meta {
    /// Whether flag `c` comes before flag `d`.
    pub fn before(&self, c: u8, d: u8) -> bool {
        let at = |f: u8| self.tokens.iter().position(|t| t.first() == Some(&f));
        matches!((at(c), at(d)), (Some(a), Some(b)) if a < b)
    }

    /// Whether flag `c` was given.
    pub fn has(&self, c: u8) -> bool {
        self.tokens.iter().any(|t| t.first() == Some(&c))
    }
}

/// mg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaGet {
    /// Key and flags.
    pub meta: Meta,
    /// What the store does.
    pub req: mc::MetaGet,
}

/// ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaSet {
    /// Key and flags.
    pub meta: Meta,
    /// The data block's length.
    pub len: usize,
    /// What it does (`M`, and `C` turns set and replace into cas).
    pub mode: Mode,
    /// `F`.
    pub flags: u32,
    /// `T`.
    pub exptime: i32,
    /// `C`.
    pub cas: u64,
    /// `I` (with a CAS).
    pub invalidate: bool,
}

/// md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaDelete {
    /// Key and flags.
    pub meta: Meta,
    /// What the store does.
    pub req: mc::Delete,
}

/// ma.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaArith {
    /// Key and flags.
    pub meta: Meta,
    /// What the store does.
    pub req: mc::Arith,
}

/// The flags as memcached's pre-parse reads them.
#[derive(Default)]
struct Flags {
    binary: bool,
    quiet: bool,
    value: bool,
    no_bump: bool,
    invalidate: bool,
    vivify: Option<i32>,
    touch: Option<i32>,
    recache: Option<i32>,
    client_flags: u32,
    cas: Option<u64>,
    mode: Option<u8>,
    delta: u64,
    initial: u64,
}

/// Reads the flag tokens; the first error ends it (`Err` with memcached's
/// words; `None`: the caller's default words).
fn preparse(key: &mut Vec<u8>, tokens: &[&[u8]]) -> Result<Flags, Option<&'static str>> {
    let mut f = Flags {
        delta: 1,
        ..Flags::default()
    };
    let mut seen = [false; 127];
    let mut error: Option<Option<&'static str>> = None;
    let mut fail = |e: Option<&'static str>| error = Some(e);
    for token in tokens {
        let c = token[0];
        if c >= 127 || seen[usize::from(c)] {
            return Err(Some("CLIENT_ERROR duplicate flag"));
        }
        seen[usize::from(c)] = true;
        let arg = &token[1..];
        match c {
            b'b' => match crate::base64::decode(key) {
                Some(k) => {
                    *key = k;
                    f.binary = true;
                }
                None => {
                    f.binary = true;
                    fail(Some("CLIENT_ERROR error decoding key"));
                }
            },
            b'N' | b'T' | b'R' => match strtol32(arg) {
                Some(v) => match c {
                    b'N' => f.vivify = Some(v),
                    b'T' => f.touch = Some(v),
                    _ => f.recache = Some(v),
                },
                None => fail(Some("CLIENT_ERROR bad token in command line format")),
            },
            b'l' | b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'h' => {}
            b'v' => f.value = true,
            b'u' => f.no_bump = true,
            b'q' => f.quiet = true,
            b'F' => match strtoul32(arg) {
                Some(v) => f.client_flags = v,
                None => fail(None),
            },
            b'C' => match strtoull(arg) {
                Some(v) => f.cas = Some(v),
                None => fail(Some("CLIENT_ERROR bad token in command line format")),
            },
            b'M' => {
                if token.len() != 2 {
                    fail(Some("CLIENT_ERROR incorrect length for M token"));
                } else {
                    f.mode = Some(token[1]);
                }
            }
            b'J' => match strtoull(arg) {
                Some(v) => f.initial = v,
                None => fail(Some("CLIENT_ERROR invalid numeric initial value")),
            },
            b'D' => match strtoull(arg) {
                Some(v) => f.delta = v,
                None => fail(Some("CLIENT_ERROR invalid numeric delta value")),
            },
            b'I' => f.invalidate = true,
            _ => return Err(Some("CLIENT_ERROR invalid flag")),
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(f),
    }
}

fn owned(tokens: &[&[u8]]) -> Vec<Vec<u8>> {
    tokens.iter().map(|t| t.to_vec()).collect()
}

/// Whether an opaque token is too long.
fn opaque_too_long(tokens: &[&[u8]]) -> bool {
    tokens.iter().any(|t| t[0] == b'O' && t.len() > MAX_OPAQUE)
}

/// The checks every meta line starts with, in memcached's order: a key,
/// not too long, and not too many tokens (`too_many` is the command's own
/// wording). `least` is how many tokens the line needs before its flags.
fn head(tokens: &[&[u8]], least: usize, too_many: &'static str) -> Result<(), Command> {
    if tokens.len() < 2 {
        return Err(refuse("ERROR", false));
    }
    if tokens[1].len() > KEY_MAX || tokens.len() < least {
        return Err(refuse(BAD_FORMAT, false));
    }
    if tokens.len() + 1 > MAX_OPT_TOKENS {
        return Err(refuse(too_many, false));
    }
    Ok(())
}

/// mg's line.
pub fn parse_get(tokens: &[&[u8]]) -> Command {
    if let Err(refusal) = head(tokens, 2, "CLIENT_ERROR options flags are too long") {
        return refusal;
    }
    let mut key = tokens[1].to_vec();
    let flags = &tokens[2..];
    let mut f = match preparse(&mut key, flags) {
        Ok(f) => f,
        Err(e) => return refuse(e.unwrap_or(BAD_FORMAT), false),
    };
    // memcached finds a long opaque token while it writes the reply: what
    // the flags before it did is done, what comes after is not.
    let bad_opaque = flags
        .iter()
        .position(|t| t[0] == b'O' && t.len() > MAX_OPAQUE);
    if let Some(at) = bad_opaque {
        let before = |c: u8| flags[..at].iter().any(|t| t[0] == c);
        if !before(b'T') {
            f.touch = None;
        }
        if !before(b'R') {
            f.recache = None;
        }
        // With these flags memcached bumps the item after the reply is
        // written, which the error skips.
        if flags.iter().any(|t| b"hlTNR".contains(&t[0])) {
            f.no_bump = true;
        }
    }
    let meta = Meta {
        key,
        binary: f.binary,
        tokens: owned(flags),
        quiet: f.quiet,
    };
    let recache_after_touch = meta.before(b'T', b'R');
    let vivify_after_touch = meta.before(b'T', b'N');
    Command::MetaGet(MetaGet {
        meta,
        req: mc::MetaGet {
            value: f.value,
            no_bump: f.no_bump,
            touch: f.touch,
            vivify: f.vivify,
            recache: f.recache,
            recache_after_touch,
            vivify_after_touch,
            fails: bad_opaque.is_some(),
        },
    })
}

/// ms's line.
pub fn parse_set(tokens: &[&[u8]]) -> Command {
    if let Err(refusal) = head(tokens, 3, "CLIENT_ERROR options flags too long") {
        return refusal;
    }
    let len = match strtol32(tokens[2]) {
        Some(n) if (0..=i32::MAX - 2).contains(&n) => n as usize,
        _ => return refuse(BAD_FORMAT, false),
    };
    let swallow = |reply: &'static str| {
        Command::Refuse(Refusal {
            reply,
            quiet: false,
            swallow: len + 2,
            discard: None,
        })
    };
    let mut key = tokens[1].to_vec();
    let flags = &tokens[3..];
    let f = match preparse(&mut key, flags) {
        Ok(f) => f,
        Err(e) => return swallow(e.unwrap_or(BAD_FORMAT)),
    };
    if opaque_too_long(flags) {
        return swallow("CLIENT_ERROR opaque token too long");
    }
    let mut mode = match f.mode {
        None | Some(b'S') => Mode::Set,
        Some(b'E') => Mode::Add,
        Some(b'A') => Mode::Append,
        Some(b'P') => Mode::Prepend,
        Some(b'R') => Mode::Replace,
        Some(_) => return swallow("CLIENT_ERROR invalid mode for ms M token"),
    };
    if f.cas.is_some() && matches!(mode, Mode::Set | Mode::Replace) {
        mode = Mode::Cas;
    }
    Command::MetaSet(MetaSet {
        meta: Meta {
            key,
            binary: f.binary,
            tokens: owned(flags),
            quiet: f.quiet,
        },
        len,
        mode,
        flags: f.client_flags,
        exptime: f.touch.unwrap_or(0),
        cas: f.cas.unwrap_or(0),
        invalidate: f.invalidate && mode == Mode::Cas,
    })
}

/// md's line.
pub fn parse_delete(tokens: &[&[u8]]) -> Command {
    if let Err(refusal) = head(tokens, 2, "CLIENT_ERROR options flags too long") {
        return refusal;
    }
    let mut key = tokens[1].to_vec();
    let flags = &tokens[2..];
    let Ok(f) = preparse(&mut key, flags) else {
        return refuse("CLIENT_ERROR invalid or duplicate flag", false);
    };
    if opaque_too_long(flags) {
        return refuse("CLIENT_ERROR opaque token too long", false);
    }
    Command::MetaDelete(MetaDelete {
        meta: Meta {
            key,
            binary: f.binary,
            tokens: owned(flags),
            quiet: f.quiet,
        },
        req: mc::Delete {
            cas: f.cas.unwrap_or(0),
            invalidate: f.invalidate,
            touch: f.touch,
        },
    })
}

/// ma's line.
pub fn parse_arith(tokens: &[&[u8]]) -> Command {
    if let Err(refusal) = head(tokens, 2, "CLIENT_ERROR options flags too long") {
        return refusal;
    }
    let mut key = tokens[1].to_vec();
    let flags = &tokens[2..];
    let Ok(f) = preparse(&mut key, flags) else {
        return refuse("CLIENT_ERROR invalid or duplicate flag", false);
    };
    let incr = match f.mode {
        None | Some(b'I' | b'+') => true,
        Some(b'D' | b'-') => false,
        Some(_) => return refuse("CLIENT_ERROR invalid mode for ma M token", false),
    };
    let meta = Meta {
        key,
        binary: f.binary,
        tokens: owned(flags),
        quiet: f.quiet,
    };
    let vivify_after_touch = meta.before(b'T', b'N');
    Command::MetaArith(MetaArith {
        meta,
        req: mc::Arith {
            incr,
            delta: f.delta,
            cas: f.cas.unwrap_or(0),
            vivify: f.vivify.map(|ttl| (ttl, f.initial)),
            touch: f.touch,
            vivify_after_touch,
        },
    })
}

/// me's line.
pub fn parse_debug(tokens: &[&[u8]]) -> Command {
    if tokens.len() < 2 || tokens[1].len() > KEY_MAX {
        return refuse(BAD_FORMAT, false);
    }
    let mut key = tokens[1].to_vec();
    let binary = tokens.get(2).is_some_and(|t| *t == b"b");
    if binary {
        match crate::base64::decode(&key) {
            Some(k) => key = k,
            None => return refuse(BAD_FORMAT, false),
        }
    }
    Command::MetaDebug { key, binary }
}
