//! The stream commands without consumer groups: XADD, XLEN, XRANGE,
//! XREVRANGE, XDEL, XTRIM, XSETID and XREAD (BLOCK waits as BLPOP does:
//! [`crate::blocking`]), with Redis 7.0's options, errors and order of
//! checks.

use alloc::string::String;
use alloc::vec::Vec;

use crate::blocking::{Block, Op};
use crate::cmd::{int_arg, is};
use crate::db::{Value, tri, typed, typed_mut, wrongtype};
use crate::notify::Classes;
use crate::reply::{NO_SUCH_KEY, Reply, SYNTAX};
use crate::store::Ctx;
use crate::stream::{NodeLimits, Stream, StreamId, Trim};

pub(crate) const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Where the nodes of Redis's storage end, which approximate trimming
/// removes whole: `stream-node-max-entries` and `stream-node-max-bytes`
/// (0: no limit).
fn node_limits(cx: &Ctx<'_>) -> NodeLimits {
    let param = |name, default| {
        cx.config
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    NodeLimits {
        entries: param("stream-node-max-entries", 100),
        bytes: param("stream-node-max-bytes", 4096),
    }
}

fn id_arg(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    StreamId::parse(arg, missing_seq, true).ok_or_else(|| Reply::error(INVALID_ID))
}

/// A strict ID (no `-`, `+`), as XADD, MINID, XDEL and XSETID take.
pub(crate) fn strict_id(arg: &[u8]) -> Result<StreamId, Reply> {
    StreamId::parse(arg, 0, false).ok_or_else(|| Reply::error(INVALID_ID))
}

/// An entry as a reply: `[id, [field, value, …]]`.
pub(crate) fn entry_reply(id: StreamId, fields: &[Vec<u8>]) -> Reply {
    Reply::array(alloc::vec![
        Reply::Bulk(Some(id.to_bytes())),
        Reply::bulks(fields.iter().map(Vec::as_slice)),
    ])
}

/// What XADD and XTRIM parse of the trimming options.
#[derive(Default)]
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    limit: Option<i64>,
}

/// What XADD's ID argument says.
enum NewId {
    /// `*`: from the clock.
    Auto,
    /// `ms-*`: the next sequence number in that millisecond.
    Ms(u64),
    /// `ms-seq` (or `ms`).
    Exact(StreamId),
}

/// Parses XADD's (`xadd`) or XTRIM's options from `a[2..]`: the trimming
/// and, for XADD, NOMKSTREAM and the ID; where the fields start.
fn parse_options(a: &[&[u8]], xadd: bool) -> Result<(TrimArgs, bool, Option<NewId>, usize), Reply> {
    let mut t = TrimArgs::default();
    let mut nomk = false;
    let mut i = 2;
    let mut id = None;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = a[i];
        if xadd && opt == b"*" {
            id = Some(NewId::Auto);
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if t.how.is_some() {
                return Err(Reply::error(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            t.approx = false;
            if more >= 2 && (a[i + 1] == b"~" || a[i + 1] == b"=") {
                t.approx = a[i + 1] == b"~";
                i += 1;
            }
            let value = a[i + 1];
            t.how = Some(if is(opt, "maxlen") {
                let n = int_arg(value)?;
                if n < 0 {
                    return Err(Reply::error("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(usize::try_from(n).unwrap_or(usize::MAX))
            } else {
                Trim::MinId(strict_id(value)?)
            });
            i += 2;
            continue;
        } else if is(opt, "limit") && more > 0 {
            let n = int_arg(a[i + 1])?;
            if n < 0 {
                return Err(Reply::error("ERR The LIMIT argument must be >= 0."));
            }
            t.limit = Some(n);
            i += 2;
            continue;
        } else if xadd && is(opt, "nomkstream") {
            nomk = true;
        } else if xadd {
            id = Some(parse_new_id(opt)?);
            break;
        } else {
            return Err(Reply::error(SYNTAX));
        }
        i += 1;
    }
    if t.limit.is_some_and(|l| l != 0) && t.how.is_none() {
        return Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && t.how.is_none() {
        return Err(Reply::error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if t.limit.is_some() && !t.approx {
        return Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    Ok((t, nomk, id, i))
}

fn parse_new_id(arg: &[u8]) -> Result<NewId, Reply> {
    if let Some(ms) = arg.strip_suffix(b"-*") {
        let ms = crate::num::parse_cursor(ms).ok_or_else(|| Reply::error(INVALID_ID))?;
        return Ok(NewId::Ms(ms));
    }
    Ok(NewId::Exact(strict_id(arg)?))
}

/// Trims `s` as `t` says, with nodes of at most `node_max` entries; how
/// many went.
fn trim(s: &mut Stream, t: &TrimArgs, node_max: usize) -> usize {
    let Some(how) = t.how else {
        return 0;
    };
    // Approximate trimming without LIMIT stops at 100 nodes' worth (at
    // most 10,000 entries).
    let limit = match t.limit {
        Some(l) => usize::try_from(l).unwrap_or(usize::MAX),
        None if t.approx => match node_max.saturating_mul(100) {
            0 => 10_000,
            n => n.min(10_000),
        },
        None => 0,
    };
    s.trim(how, t.approx, limit)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]]
/// *|id field value [field value ...]
pub(crate) fn xadd(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (t, nomk, id, at) = tri!(parse_options(a, true));
    let fields = &a[(at + 1).min(a.len())..];
    if id.is_none() || fields.len() < 2 || fields.len() % 2 == 1 {
        return Reply::arity("xadd");
    }
    let id = id.expect("checked");
    if matches!(id, NewId::Exact(StreamId::MIN)) {
        return Reply::error("ERR The ID specified in XADD must be greater than 0-0");
    }
    let now = cx.now;
    let room = cx.room;
    let limits = node_limits(cx);
    let db = cx.db();
    let key = a[1];
    match db.get(key, now) {
        None if nomk => return Reply::nil(),
        None => {}
        Some(Value::Stream(_)) => {}
        Some(_) => return wrongtype(),
    }
    let bytes: usize = fields.iter().map(|f| f.len() + 16).sum();
    if !room.fits(bytes + 64) {
        return Reply::error(crate::memory::OOM);
    }
    let Value::Stream(s) = db.get_or_create(key, now, |_| Value::Stream(Stream::default())) else {
        return wrongtype();
    };
    if s.last_id == StreamId::MAX {
        return Reply::error(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        );
    }
    let last = s.last_id;
    let new = match id {
        NewId::Auto => {
            let ms = u64::try_from(now).unwrap_or(0);
            if ms > last.ms {
                Some(StreamId { ms, seq: 0 })
            } else {
                last.next()
            }
        }
        NewId::Ms(ms) if ms == last.ms => last.seq.checked_add(1).map(|seq| StreamId { ms, seq }),
        NewId::Ms(ms) => (ms > last.ms).then_some(StreamId { ms, seq: 0 }),
        NewId::Exact(id) => (id > last).then_some(id),
    };
    let Some(new) = new else {
        return Reply::error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
    };
    s.append(new, fields.iter().map(|f| f.to_vec()).collect(), limits);
    let trimmed = trim(s, &t, limits.entries);
    db.touch(key);
    if trimmed > 0 {
        db.note(Classes::STREAM, "xtrim", key);
    }
    Reply::Bulk(Some(new.to_bytes()))
}

/// XLEN key
pub(crate) fn xlen(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    Reply::Integer(tri!(typed!(db, a[1], now, Stream)).map_or(0, |s| s.len() as i64))
}

/// A range's bound (XRANGE, XPENDING): an ID, `ms` with `missing` as
/// its sequence number, `-`, `+`, or `(id`, exclusive (the next ID for a
/// `start`, the previous for an end).
pub(crate) fn interval(arg: &[u8], missing: u64, start: bool) -> Result<StreamId, Reply> {
    match arg.strip_prefix(b"(") {
        Some(rest) => {
            let id = strict_id(rest).map(|id| {
                if rest.contains(&b'-') || missing == 0 {
                    id
                } else {
                    StreamId { seq: missing, ..id }
                }
            })?;
            let moved = if start { id.next() } else { id.prev() };
            moved.ok_or_else(|| {
                Reply::error(if start {
                    "ERR invalid start ID for the interval"
                } else {
                    "ERR invalid end ID for the interval"
                })
            })
        }
        None => id_arg(arg, missing),
    }
}

fn range_generic(cx: &mut Ctx<'_>, a: &[&[u8]], rev: bool) -> Reply {
    let (lo_arg, hi_arg) = if rev { (a[3], a[2]) } else { (a[2], a[3]) };
    let lo = tri!(interval(lo_arg, 0, true));
    let hi = tri!(interval(hi_arg, u64::MAX, false));
    let mut count: Option<i64> = None;
    let mut i = 4;
    while i < a.len() {
        if is(a[i], "count") && i + 1 < a.len() {
            count = Some(tri!(int_arg(a[i + 1])));
            i += 2;
        } else {
            return Reply::error(SYNTAX);
        }
    }
    let (now, budget) = (cx.now, cx.reply);
    let db = cx.db();
    let Some(s) = tri!(typed!(db, a[1], now, Stream)) else {
        return Reply::array(Vec::new());
    };
    // After the key is found: a COUNT of 0 or less is a nil array.
    let count = match count {
        Some(c) if c <= 0 => return Reply::nil_array(),
        Some(c) => usize::try_from(c).unwrap_or(usize::MAX),
        None => 0,
    };
    let found = s.range(lo, hi, rev, count);
    tri!(budget.take_all(found.iter().flat_map(|(_, f)| f.iter().map(Vec::as_slice))));
    Reply::array(found.iter().map(|(id, f)| entry_reply(*id, f)).collect())
}

/// XRANGE key start end [COUNT count]
pub(crate) fn xrange(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    range_generic(cx, a, false)
}

/// XREVRANGE key end start [COUNT count]
pub(crate) fn xrevrange(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    range_generic(cx, a, true)
}

/// XDEL key id [id ...]
pub(crate) fn xdel(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    // The key first, then the IDs, all of them before any goes.
    let Some(s) = tri!(typed_mut!(db, a[1], now, Stream)) else {
        return Reply::Integer(0);
    };
    let ids: Vec<StreamId> = tri!(a[2..].iter().map(|x| strict_id(x)).collect());
    let deleted = ids.into_iter().filter(|&id| s.delete(id)).count();
    if deleted > 0 {
        db.touch(a[1]);
    }
    Reply::Integer(deleted as i64)
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub(crate) fn xtrim(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (t, ..) = tri!(parse_options(a, false));
    let now = cx.now;
    let limits = node_limits(cx);
    let db = cx.db();
    let Some(s) = tri!(typed_mut!(db, a[1], now, Stream)) else {
        return Reply::Integer(0);
    };
    let trimmed = trim(s, &t, limits.entries);
    if trimmed > 0 {
        db.touch(a[1]);
    }
    Reply::Integer(trimmed as i64)
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID
/// max-deleted-id]
pub(crate) fn xsetid(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let id = tri!(strict_id(a[2]));
    let mut added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < a.len() {
        if is(a[i], "entriesadded") && i + 1 < a.len() {
            let n = tri!(int_arg(a[i + 1]));
            if n < 0 {
                return Reply::error("ERR entries_added must be positive");
            }
            added = Some(n as u64);
        } else if is(a[i], "maxdeletedid") && i + 1 < a.len() {
            let m = tri!(strict_id(a[i + 1]));
            if id < m {
                return Reply::error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            max_deleted = Some(m);
        } else {
            return Reply::error(SYNTAX);
        }
        i += 2;
    }
    let now = cx.now;
    let db = cx.db();
    let Some(s) = tri!(typed_mut!(db, a[1], now, Stream)) else {
        return Reply::error(NO_SUCH_KEY);
    };
    if s.last_entry().is_some_and(|last| id < last) {
        return Reply::error(
            "ERR The ID specified in XSETID is smaller than the target stream top item",
        );
    }
    if added.is_some_and(|n| n < s.len() as u64) {
        return Reply::error(
            "ERR The entries_added specified in XSETID is smaller than the target stream length",
        );
    }
    s.last_id = id;
    if let Some(n) = added {
        s.entries_added = n;
    }
    // A MAXDELETEDID of 0-0 leaves the stream's as it is (Redis reads
    // 0-0 as not given).
    if let Some(m) = max_deleted.filter(|m| *m != StreamId::MIN) {
        s.max_deleted = m;
    }
    db.touch(a[1]);
    Reply::ok()
}

/// What XREAD asks of one stream: entries after `after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub(crate) key: Vec<u8>,
    pub(crate) after: StreamId,
}

/// The entries of the streams `wanted` names after their IDs, at most
/// `count` each (0: all): `[[key, entries], …]` for the streams that have
/// some; `None` when none has.
pub(crate) fn read(
    cx: &mut Ctx<'_>,
    wanted: &[Wanted],
    count: usize,
) -> Result<Option<Reply>, Reply> {
    let (now, budget) = (cx.now, cx.reply);
    let db = cx.db();
    let mut out = Vec::new();
    for w in wanted {
        let Some(s) = typed!(db, &w.key, now, Stream)? else {
            continue;
        };
        let Some(from) = w.after.next() else {
            continue;
        };
        let found = s.range(from, StreamId::MAX, false, count);
        if found.is_empty() {
            continue;
        }
        budget.take_all(found.iter().flat_map(|(_, f)| f.iter().map(Vec::as_slice)))?;
        out.push((
            Reply::bulk(&w.key),
            Reply::array(found.iter().map(|(id, f)| entry_reply(*id, f)).collect()),
        ));
    }
    Ok((!out.is_empty()).then_some(Reply::Keyed(out)))
}

/// What XREAD and XREADGROUP parse before the streams.
pub(crate) struct ReadArgs<'a> {
    pub(crate) count: usize,
    pub(crate) block: Option<u64>,
    pub(crate) noack: bool,
    pub(crate) group: Option<(&'a [u8], &'a [u8])>,
    pub(crate) keys: &'a [&'a [u8]],
    pub(crate) ids: &'a [&'a [u8]],
}

/// Parses XREAD's or (`group`) XREADGROUP's options and streams, with
/// Redis's errors in its order.
pub(crate) fn parse_read<'a>(a: &'a [&'a [u8]], group: bool) -> Result<ReadArgs<'a>, Reply> {
    let name = if group { "XREADGROUP" } else { "XREAD" };
    let only = |opt: &str| {
        let mut m = String::from("ERR The ");
        m.push_str(opt);
        m.push_str(" option is only supported by XREADGROUP. You called XREAD instead.");
        Reply::Error(m)
    };
    let mut r = ReadArgs {
        count: 0,
        block: None,
        noack: false,
        group: None,
        keys: &[],
        ids: &[],
    };
    let mut i = 1;
    let mut streams_at = None;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = a[i];
        if is(opt, "block") && more > 0 {
            let ms = crate::num::parse_i64(a[i + 1])
                .ok_or_else(|| Reply::error("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Reply::error("ERR timeout is negative"));
            }
            r.block = Some(ms as u64);
            i += 2;
        } else if is(opt, "count") && more > 0 {
            let c = int_arg(a[i + 1])?;
            r.count = usize::try_from(c.max(0)).unwrap_or(usize::MAX);
            i += 2;
        } else if is(opt, "streams") && more > 0 {
            streams_at = Some(i + 1);
            break;
        } else if is(opt, "group") && more >= 2 {
            if !group {
                return Err(only("GROUP"));
            }
            r.group = Some((a[i + 1], a[i + 2]));
            i += 3;
        } else if is(opt, "noack") {
            if !group {
                return Err(only("NOACK"));
            }
            r.noack = true;
            i += 1;
        } else {
            return Err(Reply::error(SYNTAX));
        }
    }
    let Some(at) = streams_at else {
        return Err(Reply::error(SYNTAX));
    };
    let rest = &a[at..];
    if rest.len() % 2 == 1 {
        let mut m = String::from("ERR Unbalanced ");
        m.push_str(name);
        m.push_str(" list of streams: for each stream key an ID or '");
        m.push(if group { '>' } else { '$' });
        m.push_str("' must be specified.");
        return Err(Reply::Error(m));
    }
    (r.keys, r.ids) = rest.split_at(rest.len() / 2);
    Ok(r)
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id
/// [id ...]
pub(crate) fn xread(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let args = tri!(parse_read(a, false));
    let (count, block, keys, ids) = (args.count, args.block, args.keys, args.ids);
    let now = cx.now;
    // Each key's type, then its ID, in order, before anything is read.
    let mut wanted = Vec::with_capacity(keys.len());
    for (key, id) in keys.iter().zip(ids) {
        let db = cx.db();
        let last = tri!(typed!(db, key, now, Stream)).map(|s| s.last_id);
        let after = if *id == b"$" {
            last.unwrap_or(StreamId::MIN)
        } else {
            tri!(strict_id(id))
        };
        wanted.push(Wanted {
            key: key.to_vec(),
            after,
        });
    }
    if let Some(found) = tri!(read(cx, &wanted, count)) {
        return found;
    }
    let Some(timeout_ms) = block else {
        return Reply::nil_array();
    };
    if !cx.may_block {
        return Reply::nil_array();
    }
    cx.block = Some(Block {
        keys: wanted.iter().map(|w| w.key.clone()).collect(),
        op: Op::Read { wanted, count },
        timeout_ms,
    });
    Reply::nil_array()
}
