//! The command families, how the store finds one in the command table
//! ([`table`]), and the helpers the families share.

use alloc::vec::Vec;

use crate::command::{self, COMMANDS, Flag, Spec};
use crate::db::Db;
use crate::dict::Dict;
use crate::hash::Rng;
use crate::memory::ReplyBudget;
use crate::num;
use crate::reply::{DB_INDEX_OUT_OF_RANGE, NOT_FLOAT, NOT_INTEGER, Reply, SYNTAX};
use crate::store::{Ctx, DATABASES};
use core::hash::Hash;

pub(crate) mod bits;
pub(crate) mod blocking;
pub(crate) mod dump;
pub(crate) mod expire;
pub(crate) mod geo;
pub(crate) mod groups;
pub(crate) mod hashes;
pub(crate) mod hll;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod mpop;
pub(crate) mod object;
pub(crate) mod scan;
pub(crate) mod server;
pub(crate) mod sets;
pub(crate) mod sort;
pub(crate) mod streams;
pub(crate) mod strings;
pub(crate) mod table;
pub(crate) mod xinfo;
pub(crate) mod zsetops;
pub(crate) mod zsets;

#[cfg(test)]
pub(crate) mod testutil;

/// A command handler: the context and the whole argument vector.
pub(crate) type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> Reply;

/// What running a command means.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// An ordinary command, queued inside MULTI.
    Normal(Handler),
    /// An ordinary command that may change the store's parameters (CONFIG
    /// SET): the store applies them after it ran.
    Configure(Handler),
    /// An ordinary command whose row has no `write` flag that may still
    /// change data: PFCOUNT (Redis flags it read-only) stores the
    /// cardinality it computed in the HLL; XGROUP is a container whose
    /// subcommands write. It counts as a write.
    Caches(Handler),
    Multi,
    Exec,
    Discard,
    Watch,
    /// Queued inside MULTI like an ordinary command.
    Unwatch,
    /// An ordinary command that may make its session wait (BLPOP and its
    /// kin, WAIT): [`may_block`].
    Waits(Handler),
    /// EVAL and its kin: a script that runs commands through the store.
    Eval(crate::script::Eval),
    /// SCRIPT: the store's script cache.
    Script,
    /// FCALL and FCALL_RO: a function of a loaded library.
    Fcall {
        read_only: bool,
    },
    /// FUNCTION: the function libraries.
    Function,
}

/// A command the store runs: its row, and what running it means.
#[derive(Clone, Copy)]
pub(crate) struct Command {
    pub(crate) spec: &'static Spec,
    pub(crate) kind: Kind,
}

impl Command {
    /// It may change data (what a full disk refuses). EXEC counts: its
    /// queue may, though Redis does not flag it `write`; so does PFCOUNT
    /// ([`Kind::Caches`]).
    pub(crate) fn writes(&self) -> bool {
        self.spec.has(Flag::Write)
            || matches!(self.kind, Kind::Exec | Kind::Caches(_))
            || matches!(self.kind, Kind::Eval(how) if !how.read_only())
            || matches!(self.kind, Kind::Fcall { read_only: false })
    }

    /// It may grow the data (Redis's `denyoom`: refused when out of
    /// memory).
    pub(crate) fn denyoom(&self) -> bool {
        self.spec.has(Flag::Denyoom)
    }
}

/// Whether the command `name` may change data (EXEC counts: its queue
/// may; so does PFCOUNT, which caches what it computed in the value);
/// false for read-only, transaction-control and unknown commands.
///
/// ```
/// assert!(kvs_core::writes(b"set"));
/// assert!(kvs_core::writes(b"EXEC"));
/// assert!(!kvs_core::writes(b"GET"));
/// assert!(!kvs_core::writes(b"nope"));
/// ```
pub fn writes(name: &[u8]) -> bool {
    lookup(name).is_some_and(|c| c.writes())
}

/// Whether the command `name` may make its session wait (BLPOP, BRPOP,
/// BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, WAIT): a front
/// end sends nothing after it until its reply is known.
///
/// ```
/// assert!(kvs_core::may_block(b"blpop"));
/// assert!(kvs_core::may_block(b"WAIT"));
/// assert!(!kvs_core::may_block(b"LPOP"));
/// ```
pub fn may_block(name: &[u8]) -> bool {
    lookup(name).is_some_and(|c| matches!(c.kind, Kind::Waits(_)))
}

/// Finds a command the store runs by name, case-insensitively.
pub(crate) fn lookup(name: &[u8]) -> Option<Command> {
    let spec = command::find(COMMANDS, name)?;
    Some(Command {
        spec,
        kind: spec.run?.0,
    })
}

/// Case-insensitive comparison of an argument with an option word.
pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub(crate) fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    num::parse_i64(arg).ok_or_else(|| Reply::error(NOT_INTEGER))
}

/// Parses an argument that must fit Redis's `int` (`ERR value is out of
/// range, value must between -2147483648 and 2147483647` when it does
/// not).
pub(crate) fn int32_arg(arg: &[u8]) -> Result<i32, Reply> {
    i32::try_from(int_arg(arg)?).map_err(|_| {
        Reply::error("ERR value is out of range, value must between -2147483648 and 2147483647")
    })
}

/// A database index argument of MOVE and COPY: an `int` ([`int32_arg`])
/// naming a database (`ERR DB index is out of range`).
pub(crate) fn db_arg(arg: &[u8]) -> Result<usize, Reply> {
    usize::try_from(int32_arg(arg)?)
        .ok()
        .filter(|&i| i < DATABASES)
        .ok_or_else(|| Reply::error(DB_INDEX_OUT_OF_RANGE))
}

/// The databases `i` and `j` (different) of `dbs`, both mutable.
pub(crate) fn two_dbs(dbs: &mut [Db], i: usize, j: usize) -> (&mut Db, &mut Db) {
    assert_ne!(i, j, "two different databases");
    if i < j {
        let (lo, hi) = dbs.split_at_mut(j);
        (&mut lo[i], &mut hi[0])
    } else {
        let (lo, hi) = dbs.split_at_mut(i);
        (&mut hi[0], &mut lo[j])
    }
}

/// Parses a float argument (`ERR value is not a valid float`).
pub(crate) fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    num::parse_f64(arg).ok_or_else(|| Reply::error(NOT_FLOAT))
}

/// Resolves a Redis `start`/`end` index pair against a length: negative
/// indexes count from the end; `None` when the range is empty.
pub(crate) fn index_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut end = if end < 0 {
        end.saturating_add(len)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// The count argument of ZRANDMEMBER and HRANDFIELD (`a[2]`, with `word`,
/// WITHSCORES or WITHVALUES, optionally after it): `None` without one,
/// else the count and whether `word` was given. Redis's checks, in its
/// order: the count's range, the syntax, then half that range with `word`.
pub(crate) fn rand_count(a: &[&[u8]], word: &str) -> Result<Option<(i64, bool)>, Reply> {
    if a.len() < 3 {
        return Ok(None);
    }
    let c = int_arg(a[2])?;
    if c == i64::MIN {
        return Err(Reply::Error(alloc::format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    if a.len() > 4 || (a.len() == 4 && !is(a[3], word)) {
        return Err(Reply::error(SYNTAX));
    }
    let with = a.len() == 4;
    if with && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
        return Err(Reply::error("ERR value is out of range"));
    }
    Ok(Some((c, with)))
}

/// Picks for ZRANDMEMBER and HRANDFIELD with a count from `all`:
/// distinct entries (at most all, in `all`'s order when all) for a count
/// not negative, `-count` independent draws otherwise, in O(|count|)
/// expected time. Their number, `per` reply elements each, is taken from
/// `budget` first (the caller takes their bytes).
pub(crate) fn rand_pick<'a, K: Hash + Eq, V>(
    all: &'a Dict<K, V>,
    count: i64,
    per: usize,
    budget: &ReplyBudget,
    rng: &mut Rng,
) -> Result<Vec<(&'a K, &'a V)>, Reply> {
    let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    if count >= 0 {
        budget.take(0, n.min(all.len()).saturating_mul(per))?;
        return Ok(all.sample(n, rng));
    }
    budget.take(0, n.saturating_mul(per))?;
    Ok((0..n).filter_map(|_| all.random(rng)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in COMMANDS.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
        for c in COMMANDS {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(
                lookup(c.name.as_bytes()).is_some(),
                "{}: found and run",
                c.name
            );
            for w in c.subcommands.windows(2) {
                assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
            }
            for sub in c.subcommands {
                assert!(sub.name.starts_with(c.name), "{}", sub.name);
                assert_eq!(sub.name.as_bytes()[c.name.len()], b'|');
                assert!(sub.run.is_none(), "{}: run by its container", sub.name);
            }
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nope").is_none());
        assert!(lookup(&[b'a'; 40]).is_none());
    }

    #[test]
    fn flags_drive_the_store() {
        let flags = |name: &str| {
            let c = lookup(name.as_bytes()).unwrap();
            (c.writes(), c.denyoom())
        };
        assert_eq!(flags("set"), (true, true));
        assert_eq!(flags("del"), (true, false));
        assert_eq!(flags("get"), (false, false));
        assert_eq!(flags("exec"), (true, false));
        assert_eq!(flags("pfcount"), (true, false));
        assert_eq!(flags("multi"), (false, false));
        let config = lookup(b"config").unwrap();
        assert!(matches!(config.kind, Kind::Configure(_)));
        assert_eq!(config.spec.subcommand(b"SET").map(|s| s.arity), Some(-4));
    }

    #[test]
    fn ranges() {
        assert_eq!(index_range(0, -1, 3), Some((0, 2)));
        assert_eq!(index_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(index_range(2, 1, 3), None);
        assert_eq!(index_range(3, 5, 3), None);
        assert_eq!(index_range(0, -1, 0), None);
        assert_eq!(index_range(-1, -1, 3), Some((2, 2)));
        assert_eq!(index_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }
}
