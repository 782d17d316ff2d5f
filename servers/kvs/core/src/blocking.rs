//! Blocked sessions: the sessions that BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//! BLMPOP, BZPOPMIN, BZPOPMAX or BZMPOP parked because none of their keys
//! held anything, what each waits to do, until when, and the replies of
//! those that stopped waiting.
//!
//! A blocked session waits on keys in one database. Each database keeps,
//! per key, the sessions blocked on it in the order they blocked
//! (`Db::blocked`), and notes a key as ready when a command changes it
//! (`Db::touch`). After every command that is not queued (after EXEC, not
//! after each of its commands) the store serves the ready keys, in the
//! order they became ready: for each key, the sessions blocked on it in
//! order, while the key holds something, each by the non-blocking command
//! that does what it waits to do on that key (BLPOP by `LPOP key`, BLMOVE
//! by `LMOVE`, BZMPOP by `ZMPOP 1 key …`): a session blocked on a list
//! key that now holds a sorted set, or the reverse, is passed over and
//! goes on waiting. What serving pushes (BLMOVE's destination) may make
//! more keys ready, served in turn. This is Redis 7.0's order; the
//! commands that served are what the log records ([`Blocking::served`]).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::db::Value;
use crate::num;
use crate::reply::Reply;

/// What a blocked session waits to do, on whichever of its keys first
/// holds something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// BLPOP (`left`) and BRPOP: answered `[key, element]`.
    Pop { left: bool },
    /// BLMOVE and BRPOPLPUSH: the element moved to `dst`.
    Move {
        dst: Vec<u8>,
        from_left: bool,
        to_left: bool,
    },
    /// BLMPOP: `[key, [element, …]]`.
    MPop { left: bool, count: usize },
    /// BZPOPMIN and BZPOPMAX (`max`): `[key, member, score]`.
    ZPop { max: bool },
    /// BZMPOP: `[key, [[member, score], …]]`.
    ZMPop { max: bool, count: usize },
    /// WAIT for replicas, of which there are none: it waits on no key,
    /// only for its timeout, and answers 0.
    Wait,
    /// XREAD: entries of a stream after an ID, at most `count` (0: all);
    /// answered `[[key, entries]]` from the first stream that gets some.
    Read {
        wanted: Vec<crate::cmd::streams::Wanted>,
        count: usize,
    },
    /// XREADGROUP with `>`: new entries of a stream for `group`, to
    /// `consumer`.
    ReadGroup {
        group: Vec<u8>,
        consumer: Vec<u8>,
        count: usize,
        noack: bool,
    },
}

impl Op {
    /// Whether `value`, what `key` holds, serves it: of the type it pops
    /// from, or (XREAD) a stream with entries after the ID it waits past.
    pub(crate) fn wants(&self, key: &[u8], value: &Value) -> bool {
        match self {
            Op::Read { wanted, .. } => match value {
                // The first ID given for the key (a key named twice
                // waits once, as in Redis).
                Value::Stream(s) => wanted
                    .iter()
                    .find(|w| w.key == key)
                    .is_some_and(|w| s.last_id > w.after),
                _ => false,
            },
            // New entries past the group's last, or the group gone.
            Op::ReadGroup { group, .. } => match value {
                Value::Stream(s) => s.groups.get(group).is_none_or(|g| s.last_id > g.last_id),
                _ => false,
            },
            Op::Pop { .. } | Op::Move { .. } | Op::MPop { .. } => matches!(value, Value::List(_)),
            Op::ZPop { .. } | Op::ZMPop { .. } => matches!(value, Value::ZSet(_)),
            Op::Wait => false,
        }
    }

    /// The non-blocking command that does it on `key`.
    pub(crate) fn command(&self, key: &[u8]) -> Vec<Vec<u8>> {
        let side = |left: bool| if left { "LEFT" } else { "RIGHT" };
        let end = |max: bool| if max { "MAX" } else { "MIN" };
        let words =
            |w: &[&'static str]| w.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let mut args: Vec<Vec<u8>> = Vec::with_capacity(6);
        match self {
            Op::Pop { left } => {
                args.push(if *left {
                    b"LPOP".to_vec()
                } else {
                    b"RPOP".to_vec()
                });
                args.push(key.to_vec());
            }
            Op::Move {
                dst,
                from_left,
                to_left,
            } => {
                args.push(b"LMOVE".to_vec());
                args.push(key.to_vec());
                args.push(dst.clone());
                args.extend(words(&[side(*from_left), side(*to_left)]));
            }
            Op::MPop { left, count } => {
                args.extend(words(&["LMPOP", "1"]));
                args.push(key.to_vec());
                args.extend(words(&[side(*left), "COUNT"]));
                args.push(num::int_bytes(*count as i64));
            }
            Op::ZPop { max } => {
                args.push(if *max {
                    b"ZPOPMAX".to_vec()
                } else {
                    b"ZPOPMIN".to_vec()
                });
                args.push(key.to_vec());
            }
            Op::ZMPop { max, count } => {
                args.extend(words(&["ZMPOP", "1"]));
                args.push(key.to_vec());
                args.extend(words(&[end(*max), "COUNT"]));
                args.push(num::int_bytes(*count as i64));
            }
            // Served by nothing ([`Op::wants`] no value), or (XREAD) by a
            // read, which changes nothing.
            Op::Wait | Op::Read { .. } => {}
            // XREADGROUP of new entries in that stream alone.
            Op::ReadGroup {
                group,
                consumer,
                count,
                noack,
            } => {
                args.extend(words(&["XREADGROUP", "GROUP"]));
                args.push(group.clone());
                args.push(consumer.clone());
                if *count > 0 {
                    args.push(b"COUNT".to_vec());
                    args.push(num::int_bytes(*count as i64));
                }
                if *noack {
                    args.push(b"NOACK".to_vec());
                }
                args.push(b"STREAMS".to_vec());
                args.push(key.to_vec());
                args.push(b">".to_vec());
            }
        }
        args
    }

    /// The blocking command's reply, from what its non-blocking command
    /// answered on `key`.
    pub(crate) fn reply(&self, key: &[u8], done: Reply) -> Reply {
        let with_key = |rest: Vec<Reply>| {
            let mut items = Vec::with_capacity(rest.len() + 1);
            items.push(Reply::bulk(key));
            items.extend(rest);
            Reply::array(items)
        };
        match (self, done) {
            (Op::Pop { .. }, done @ Reply::Bulk(Some(_))) => with_key(alloc::vec![done]),
            (Op::ZPop { .. }, Reply::Array(Some(pair))) if pair.len() == 2 => with_key(pair),
            (_, done) => done,
        }
    }

    /// The reply when it stops waiting without being served (its timeout,
    /// CLIENT UNBLOCK … TIMEOUT): a nil array, BLMOVE's and BRPOPLPUSH's
    /// too, as Redis 7.0 answers.
    pub(crate) fn timed_out(&self) -> Reply {
        match self {
            Op::Wait => Reply::Integer(0),
            _ => Reply::nil_array(),
        }
    }

    /// The reply when it may not wait (inside MULTI) and none of its keys
    /// holds anything: a nil bulk string for BLMOVE and BRPOPLPUSH (what
    /// LMOVE answers), a nil array for the others.
    pub(crate) fn without_waiting(&self) -> Reply {
        match self {
            Op::Move { .. } => Reply::nil(),
            Op::Wait => Reply::Integer(0),
            _ => Reply::nil_array(),
        }
    }
}

/// What a blocking command asks for when none of its keys holds anything
/// and the session may wait.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) keys: Vec<Vec<u8>>,
    pub(crate) op: Op,
    /// How long to wait, in milliseconds; 0 is for ever.
    pub(crate) timeout_ms: u64,
}

/// One blocked session.
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) db: usize,
    pub(crate) keys: Vec<Vec<u8>>,
    pub(crate) op: Op,
    /// When it times out (milliseconds since the epoch); never if `None`.
    deadline: Option<u64>,
}

/// The blocked sessions of a store, by session id.
#[derive(Debug, Default)]
pub(crate) struct Blocking {
    waiters: BTreeMap<u64, Waiter>,
    /// (deadline, session) of every waiter with a timeout.
    deadlines: BTreeSet<(u64, u64)>,
    /// The replies of sessions that stopped waiting, in the order they
    /// stopped, until taken ([`crate::Store::take_answered`]).
    pub(crate) answered: Vec<(u64, Reply)>,
    /// The commands that served blocked sessions (database, arguments),
    /// in order, until the log takes them.
    pub(crate) served: Vec<(usize, Vec<Vec<u8>>)>,
}

impl Blocking {
    /// Parks session `id` in database `db`, waiting as `block` says from
    /// `now_ms`; returns the keys to queue it on (each once).
    pub(crate) fn park(&mut self, id: u64, db: usize, block: Block, now_ms: u64) -> &[Vec<u8>] {
        let mut keys = block.keys;
        // Each key once, in the order given.
        let mut seen = BTreeSet::new();
        keys.retain(|k| seen.insert(k.clone()));
        // A deadline past the clock's range never comes, as in Redis.
        let deadline = match block.timeout_ms {
            0 => None,
            ms => now_ms.checked_add(ms).filter(|&d| d <= i64::MAX as u64),
        };
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
        let waiter = Waiter {
            db,
            keys,
            op: block.op,
            deadline,
        };
        self.waiters.insert(id, waiter);
        &self.waiters[&id].keys
    }

    /// Session `id`'s wait, if it is blocked.
    pub(crate) fn get(&self, id: u64) -> Option<&Waiter> {
        self.waiters.get(&id)
    }

    /// Ends session `id`'s wait; its waiter, for the caller to take it off
    /// its keys' queues.
    pub(crate) fn remove(&mut self, id: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&id)?;
        if let Some(d) = w.deadline {
            self.deadlines.remove(&(d, id));
        }
        Some(w)
    }

    /// The first session whose deadline is at or before `now_ms`.
    pub(crate) fn due(&self, now_ms: u64) -> Option<u64> {
        self.deadlines
            .first()
            .filter(|&&(d, _)| d <= now_ms)
            .map(|&(_, id)| id)
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|&(d, _)| d)
    }

    /// How many sessions are blocked.
    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }
}

/// Parses a blocking command's timeout, seconds as Redis takes them (a
/// long double; fractions allowed), into milliseconds, 0 meaning for
/// ever. Redis multiplies by 1000 and rounds up, so that any positive
/// timeout waits at least a millisecond, and a value whose milliseconds
/// do not fit a 64-bit integer turns negative on x86: both are kept.
/// (The product is a double here: within a few units of 2^63
/// milliseconds, about 292 million years, it may round the other way.)
pub(crate) fn parse_timeout(arg: &[u8]) -> Result<u64, Reply> {
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    const NEGATIVE: &str = "ERR timeout is negative";
    let seconds = match num::parse_f64(arg) {
        Some(v) => v,
        // A long double holds what underflows or overflows a double: a
        // tiny positive timeout is a millisecond, a tiny negative one
        // rounds up to 0, and a huge one is out of range.
        None => match beyond_double(arg) {
            Some(0.0) => return Ok(u64::from(!arg.starts_with(b"-"))),
            Some(_) => return Err(Reply::error(NEGATIVE)),
            None => match hex_seconds(arg) {
                Some(v) => v,
                None => return Err(Reply::error(NOT_FLOAT)),
            },
        },
    };
    let ms = libm::ceil(seconds * 1000.0);
    // x86's conversion of a value out of range is the most negative one.
    if !(0.0..TWO_TO_63).contains(&ms) {
        return Err(Reply::error(NEGATIVE));
    }
    Ok(ms as u64)
}

/// What a double makes of a well-formed decimal number it cannot hold
/// ([`num::parse_f64`] refuses those): 0 where it underflows though its
/// digits are not all zero, an infinity where it overflows.
fn beyond_double(arg: &[u8]) -> Option<f64> {
    num::parse_decimal_unbounded(arg).filter(|v| *v == 0.0 || v.is_infinite())
}

/// A hexadecimal integer (`0x10`), which `strtold` takes as seconds.
/// (Hexadecimal fractions and exponents are refused.)
fn hex_seconds(arg: &[u8]) -> Option<f64> {
    let (negative, rest) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, arg),
    };
    let digits = rest
        .strip_prefix(b"0x")
        .or_else(|| rest.strip_prefix(b"0X"))?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut v = 0.0f64;
    for &d in digits {
        v = v * 16.0 + f64::from((d as char).to_digit(16)?);
    }
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis_reads_them() {
        let ok = |s: &str| parse_timeout(s.as_bytes()).unwrap();
        let err = |s: &str| match parse_timeout(s.as_bytes()) {
            Err(Reply::Error(e)) => e,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("-0"), 0);
        assert_eq!(ok("1"), 1000);
        assert_eq!(ok("+1"), 1000);
        assert_eq!(ok(".5"), 500);
        assert_eq!(ok("5."), 5000);
        assert_eq!(ok("1e3"), 1_000_000);
        assert_eq!(ok("0.0001"), 1, "rounded up to a millisecond");
        assert_eq!(ok("-0.0001"), 0, "rounded up to 0: for ever");
        assert_eq!(ok("1e-400"), 1);
        assert_eq!(ok("-1e-400"), 0);
        assert_eq!(ok("0x10"), 16_000);
        assert_eq!(ok("9223372036854"), 9_223_372_036_854_000);
        for bad in ["", " 1", "1 ", "x", "1_0", "1e", "nan", "0x", "0x1g"] {
            assert_eq!(
                err(bad),
                "ERR timeout is not a float or out of range",
                "{bad:?}"
            );
        }
        for negative in ["-1", "inf", "-inf", "1e400", "9223372036854775807"] {
            assert_eq!(err(negative), "ERR timeout is negative", "{negative}");
        }
    }

    #[test]
    fn commands_and_replies() {
        let op = Op::Pop { left: true };
        assert_eq!(op.command(b"k"), [b"LPOP".to_vec(), b"k".to_vec()]);
        assert_eq!(
            op.reply(b"k", Reply::bulk(b"v")),
            Reply::array(alloc::vec![Reply::bulk(b"k"), Reply::bulk(b"v")])
        );
        let op = Op::ZMPop {
            max: true,
            count: 3,
        };
        let words: Vec<&[u8]> = alloc::vec![b"ZMPOP", b"1", b"z", b"MAX", b"COUNT", b"3"];
        assert_eq!(op.command(b"z"), words);
        assert_eq!(op.timed_out(), Reply::nil_array());
        let op = Op::Move {
            dst: b"d".to_vec(),
            from_left: false,
            to_left: true,
        };
        let words: Vec<&[u8]> = alloc::vec![b"LMOVE", b"s", b"d", b"RIGHT", b"LEFT"];
        assert_eq!(op.command(b"s"), words);
        assert_eq!(op.without_waiting(), Reply::nil());
        assert_eq!(op.timed_out(), Reply::nil_array());
    }
}
