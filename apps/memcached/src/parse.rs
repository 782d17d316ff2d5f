//! A command line decoded once into a [`Command`], with memcached
//! 1.6's rules: tokens split at spaces only, at most 24 of them looked at
//! (the rest of a `get` line is read on), numbers read as C reads them,
//! and the error line memcached answers for each malformed form.

use alloc::vec::Vec;

use kvs_core::mc::Mode;
use kvs_core::mc::cnum::{strtol32, strtoul32, strtoull};

use crate::meta::{self, MetaArith, MetaDelete, MetaGet, MetaSet};

/// The longest key.
pub const KEY_MAX: usize = 250;

/// memcached's tokenizer looks at 23 tokens (its 24th is the rest).
const MAX_TOKENS: usize = 23;

/// What `stats` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsGroup {
    /// `stats`.
    General,
    /// `stats settings`.
    Settings,
    /// `stats items`.
    Items,
    /// `stats slabs`.
    Slabs,
    /// `stats sizes`.
    Sizes,
    /// `stats reset`.
    Reset,
    /// `stats detail on|off`.
    Detail,
    /// `stats detail dump`.
    DetailDump,
}

/// A refused line: memcached's error reply, and what it does besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The reply line, without `\r\n`.
    pub reply: &'static str,
    /// `noreply` was read before the error, so the reply is not sent.
    pub quiet: bool,
    /// Bytes of the data block that follow and are thrown away (its
    /// `\r\n` included).
    pub swallow: usize,
    /// A set that could not be stored drops the key's old item.
    pub discard: Option<Vec<u8>>,
}

/// One decoded command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// get, gets, gat, gats (and the ancient bget).
    Get {
        /// The keys.
        keys: Vec<Vec<u8>>,
        /// gets/gats: show CAS uniques.
        cas: bool,
        /// gat/gats: the new expiry.
        touch: Option<i32>,
        /// A key after these is too long: they are looked up (and
        /// touched), then the reply is only `CLIENT_ERROR`, as memcached
        /// does.
        too_long: bool,
    },
    /// set, add, replace, append, prepend, cas: a data block of `len`
    /// bytes and `\r\n` follows.
    Store {
        /// What it does.
        mode: Mode,
        /// The key.
        key: Vec<u8>,
        /// Client flags.
        flags: u32,
        /// Expiry.
        exptime: i32,
        /// The value's length.
        len: usize,
        /// cas's unique.
        cas: u64,
        /// No reply unless an error.
        noreply: bool,
    },
    /// delete.
    Delete {
        /// The key.
        key: Vec<u8>,
        /// No reply.
        noreply: bool,
    },
    /// incr, decr.
    Arith {
        /// The key.
        key: Vec<u8>,
        /// incr (else decr).
        incr: bool,
        /// By how much.
        delta: u64,
        /// No reply.
        noreply: bool,
    },
    /// touch.
    Touch {
        /// The key.
        key: Vec<u8>,
        /// The new expiry.
        exptime: i32,
        /// No reply.
        noreply: bool,
    },
    /// flush_all.
    FlushAll {
        /// Seconds until it takes effect.
        delay: i32,
        /// No reply.
        noreply: bool,
    },
    /// version.
    Version,
    /// verbosity (accepted and ignored).
    Verbosity {
        /// No reply.
        noreply: bool,
    },
    /// quit: the connection closes.
    Quit,
    /// stats.
    Stats(StatsGroup),
    /// mg.
    MetaGet(MetaGet),
    /// ms: a data block follows.
    MetaSet(MetaSet),
    /// md.
    MetaDelete(MetaDelete),
    /// ma.
    MetaArith(MetaArith),
    /// mn.
    MetaNoop,
    /// me.
    MetaDebug {
        /// The key (decoded when binary).
        key: Vec<u8>,
        /// The key travels in base64.
        binary: bool,
    },
    /// A line memcached refuses.
    Refuse(Refusal),
    /// A line after which memcached closes the connection without a
    /// word (an HTTP request, …).
    Close,
}

/// A refusal with no data block.
pub(crate) fn refuse(reply: &'static str, quiet: bool) -> Command {
    Command::Refuse(Refusal {
        reply,
        quiet,
        swallow: 0,
        discard: None,
    })
}

const ERROR: &str = "ERROR";
const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";

/// The tokens of a line as memcached's tokenizer finds them: split at
/// spaces, at most [`MAX_TOKENS`]; and the rest, if it stopped early.
fn tokenize(line: &[u8]) -> (Vec<&[u8]>, Option<&[u8]>) {
    let mut tokens = Vec::new();
    let mut rest = line;
    loop {
        let start = rest.iter().position(|&b| b != b' ');
        let Some(start) = start else {
            return (tokens, None);
        };
        rest = &rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        tokens.push(&rest[..end]);
        rest = &rest[end..];
        if tokens.len() == MAX_TOKENS {
            // memcached steps past the space that ended the last token.
            let rest = rest.get(1..).unwrap_or(&[]);
            return (tokens, (!rest.is_empty()).then_some(rest));
        }
    }
}

/// Decodes one command line (without its `\n`, and its `\r` when the
/// line had more than that).
pub fn parse(line: &[u8]) -> Command {
    // The line is a C string to memcached: it ends at a NUL.
    let line = line.split(|&b| b == 0).next().unwrap_or(&[]);
    let (tokens, rest) = tokenize(line);
    // memcached counts a final empty token.
    let ntokens = tokens.len() + 1;
    let Some(&name) = tokens.first() else {
        return refuse(ERROR, false);
    };
    if name.len() < 2 {
        return refuse(ERROR, false);
    }
    let noreply = tokens.len() >= 2 && tokens[tokens.len() - 1] == b"noreply";
    if name[0] == b'm' && name.len() == 2 {
        return match name[1] {
            b'g' => meta::parse_get(&tokens),
            b's' => meta::parse_set(&tokens),
            b'd' => meta::parse_delete(&tokens),
            b'a' => meta::parse_arith(&tokens),
            b'n' => Command::MetaNoop,
            b'e' => meta::parse_debug(&tokens),
            _ => refuse(ERROR, false),
        };
    }
    match name {
        b"get" | b"gets" | b"gat" | b"gats" | b"bget" => get(name, &tokens, rest),
        b"set" | b"add" | b"replace" | b"append" | b"prepend" => {
            if ntokens != 6 && ntokens != 7 {
                return refuse(ERROR, false);
            }
            let mode = match name {
                b"set" => Mode::Set,
                b"add" => Mode::Add,
                b"replace" => Mode::Replace,
                b"append" => Mode::Append,
                _ => Mode::Prepend,
            };
            store(mode, &tokens, noreply)
        }
        b"cas" => {
            if ntokens != 7 && ntokens != 8 {
                return refuse(ERROR, false);
            }
            store(Mode::Cas, &tokens, noreply)
        }
        b"incr" | b"decr" => {
            if ntokens != 4 && ntokens != 5 {
                return refuse(ERROR, false);
            }
            if tokens[1].len() > KEY_MAX {
                return refuse(BAD_FORMAT, noreply);
            }
            let Some(delta) = strtoull(tokens[2]) else {
                return refuse("CLIENT_ERROR invalid numeric delta argument", noreply);
            };
            Command::Arith {
                key: tokens[1].to_vec(),
                incr: name == b"incr",
                delta,
                noreply,
            }
        }
        b"delete" => {
            if !(3..=5).contains(&ntokens) {
                return refuse(ERROR, false);
            }
            if ntokens > 3 {
                let hold_is_zero = tokens[2] == b"0";
                let valid = (ntokens == 4 && (hold_is_zero || noreply))
                    || (ntokens == 5 && hold_is_zero && noreply);
                if !valid {
                    return refuse(
                        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
                        noreply,
                    );
                }
            }
            if tokens[1].len() > KEY_MAX {
                return refuse(BAD_FORMAT, noreply);
            }
            Command::Delete {
                key: tokens[1].to_vec(),
                noreply,
            }
        }
        b"touch" => {
            if ntokens != 4 && ntokens != 5 {
                return refuse(ERROR, false);
            }
            if tokens[1].len() > KEY_MAX {
                return refuse(BAD_FORMAT, noreply);
            }
            let Some(exptime) = strtol32(tokens[2]) else {
                return refuse("CLIENT_ERROR invalid exptime argument", noreply);
            };
            Command::Touch {
                key: tokens[1].to_vec(),
                exptime,
                noreply,
            }
        }
        b"flush_all" => {
            if !(2..=4).contains(&ntokens) {
                return refuse(ERROR, false);
            }
            let mut delay = 0;
            if ntokens != if noreply { 3 } else { 2 } {
                match strtol32(tokens[1]) {
                    Some(d) => delay = d,
                    None => return refuse("CLIENT_ERROR invalid exptime argument", noreply),
                }
            }
            Command::FlushAll { delay, noreply }
        }
        b"version" => Command::Version,
        b"quit" => Command::Quit,
        b"verbosity" => {
            if ntokens != 3 && ntokens != 4 {
                return refuse(ERROR, false);
            }
            if strtoul32(tokens[1]).is_none() {
                return refuse(BAD_FORMAT, noreply);
            }
            Command::Verbosity { noreply }
        }
        b"stats" => stats(&tokens),
        b"shutdown" => refuse("ERROR: shutdown not enabled", false),
        _ => {
            if tokens[tokens.len() - 1].starts_with(b"HTTP/") {
                Command::Close
            } else {
                refuse(ERROR, false)
            }
        }
    }
}

/// get and its kin: every key of the line (past the tokenizer's 23).
fn get(name: &[u8], tokens: &[&[u8]], rest: Option<&[u8]>) -> Command {
    if tokens.len() < 2 {
        return refuse(ERROR, false);
    }
    let touch = matches!(name, b"gat" | b"gats");
    let mut first = 1;
    let exptime = if touch {
        first = 2;
        match strtol32(tokens[1]) {
            Some(e) => Some(e),
            None => return refuse("CLIENT_ERROR invalid exptime argument", false),
        }
    } else {
        None
    };
    let mut keys: Vec<Vec<u8>> = tokens[first..].iter().map(|k| k.to_vec()).collect();
    if let Some(rest) = rest {
        keys.extend(
            rest.split(|&b| b == b' ')
                .filter(|k| !k.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let too_long = match keys.iter().position(|k| k.len() > KEY_MAX) {
        Some(at) => {
            keys.truncate(at);
            true
        }
        None => false,
    };
    Command::Get {
        keys,
        cas: matches!(name, b"gets" | b"gats"),
        touch: exptime,
        too_long,
    }
}

/// The storage commands' line.
fn store(mode: Mode, tokens: &[&[u8]], noreply: bool) -> Command {
    let key = tokens[1];
    if key.len() > KEY_MAX {
        return refuse(BAD_FORMAT, noreply);
    }
    let (Some(flags), Some(exptime), Some(len)) = (
        strtoul32(tokens[2]),
        strtol32(tokens[3]),
        strtol32(tokens[4]),
    ) else {
        return refuse(BAD_FORMAT, noreply);
    };
    let mut cas = 0;
    if mode == Mode::Cas {
        match strtoull(tokens[5]) {
            Some(c) => cas = c,
            None => return refuse(BAD_FORMAT, noreply),
        }
    }
    if !(0..=i32::MAX - 2).contains(&len) {
        return refuse(BAD_FORMAT, noreply);
    }
    Command::Store {
        mode,
        key: key.to_vec(),
        flags,
        exptime,
        len: len as usize,
        cas,
        noreply,
    }
}

/// `stats` and its groups.
fn stats(tokens: &[&[u8]]) -> Command {
    let Some(&group) = tokens.get(1) else {
        return Command::Stats(StatsGroup::General);
    };
    let group = match group {
        b"reset" => StatsGroup::Reset,
        b"settings" => StatsGroup::Settings,
        b"items" => StatsGroup::Items,
        b"slabs" => StatsGroup::Slabs,
        b"sizes" => StatsGroup::Sizes,
        b"detail" => match tokens.get(2).copied() {
            Some(b"on" | b"off") => StatsGroup::Detail,
            Some(b"dump") => StatsGroup::DetailDump,
            _ => return refuse("CLIENT_ERROR usage: stats detail on|off|dump", false),
        },
        b"cachedump" => return refuse("CLIENT_ERROR stats cachedump not allowed", false),
        _ => return refuse(ERROR, false),
    };
    Command::Stats(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_stops_at_23() {
        let line: Vec<u8> = (0..30)
            .flat_map(|i| alloc::format!("k{i} ").into_bytes())
            .collect();
        let (tokens, rest) = tokenize(&line);
        assert_eq!(tokens.len(), 23);
        assert_eq!(
            rest.unwrap()
                .split(|&b| b == b' ')
                .filter(|t| !t.is_empty())
                .count(),
            7
        );
        assert_eq!(tokenize(b"  a  b ").0, [&b"a"[..], b"b"]);
    }
}
