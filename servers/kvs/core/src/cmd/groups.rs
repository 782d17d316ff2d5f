//! Consumer groups: XGROUP, XREADGROUP (XREAD's parser and serving are
//! shared), XACK, XPENDING and XCLAIM, with Redis 7.0's replies, errors,
//! order of checks and keyspace events.

use alloc::string::String;
use alloc::vec::Vec;

use crate::blocking::{Block, Op};
use crate::cmd::streams::{entry_reply, interval, strict_id};
use crate::cmd::{int_arg, is};
use crate::db::{Value, tri, typed, typed_mut, wrongtype};
use crate::notify::Classes;
use crate::reply::{Reply, SYNTAX};
use crate::store::Ctx;
use crate::stream::{Group, Stream, StreamId};

fn nogroup_for(group: &[u8], key: &[u8]) -> Reply {
    let mut msg = String::from("NOGROUP No such consumer group '");
    msg.push_str(&String::from_utf8_lossy(group));
    msg.push_str("' for key name '");
    msg.push_str(&String::from_utf8_lossy(key));
    msg.push('\'');
    Reply::Error(msg)
}

/// `-NOGROUP No such key '<key>' or consumer group '<group>'` and what
/// follows it (`tail`).
pub(crate) fn nogroup_key(key: &[u8], group: &[u8], tail: &str) -> Reply {
    let mut msg = String::from("NOGROUP No such key '");
    msg.push_str(&String::from_utf8_lossy(key));
    msg.push_str("' or consumer group '");
    msg.push_str(&String::from_utf8_lossy(group));
    msg.push('\'');
    msg.push_str(tail);
    Reply::Error(msg)
}

fn now_ms(cx: &Ctx<'_>) -> u64 {
    u64::try_from(cx.now).unwrap_or(0)
}

/// `ENTRIESREAD n`: at least 0, or -1 (unknown).
fn entries_read(arg: &[u8]) -> Result<Option<u64>, Reply> {
    match int_arg(arg)? {
        -1 => Ok(None),
        n if n >= 0 => Ok(Some(n as u64)),
        _ => Err(Reply::error(
            "ERR value for ENTRIESREAD must be positive or -1",
        )),
    }
}

fn unknown_sub(sub: &[u8]) -> Reply {
    let mut msg = String::from("ERR unknown subcommand or wrong number of arguments for '");
    msg.push_str(&String::from_utf8_lossy(sub));
    msg.push_str("'. Try XGROUP HELP.");
    Reply::Error(msg)
}

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP
pub(crate) fn xgroup(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let sub = a[1];
    if a.len() == 2 && is(sub, "help") {
        return Reply::array(
            HELP.iter()
                .map(|l| Reply::Simple(String::from(*l).into()))
                .collect(),
        );
    }
    let known = [
        "create",
        "setid",
        "destroy",
        "createconsumer",
        "delconsumer",
    ];
    if !known.iter().any(|k| is(sub, k)) {
        let mut msg = String::from("ERR unknown subcommand '");
        msg.push_str(&String::from_utf8_lossy(sub));
        msg.push_str("'. Try XGROUP HELP.");
        return Reply::Error(msg);
    }
    if a.len() < 4 {
        return unknown_sub(sub);
    }
    let (key, name) = (a[2], a[3]);
    let mut mkstream = false;
    let mut read: Option<u64> = None;
    if is(sub, "create") && a.len() >= 5 {
        let mut i = 5;
        while i < a.len() {
            if is(a[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if is(a[i], "entriesread") && i + 1 < a.len() {
                read = tri!(entries_read(a[i + 1]));
                i += 2;
            } else {
                return unknown_sub(sub);
            }
        }
    }
    let (now, ms) = (cx.now, now_ms(cx));
    let db = cx.db();
    let exists = match db.get(key, now) {
        None => false,
        Some(Value::Stream(_)) => true,
        Some(_) => return wrongtype(),
    };
    if !mkstream {
        if !exists {
            return Reply::error(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            );
        }
        let has_group =
            matches!(db.peek(key), Some(Value::Stream(s)) if s.groups.contains_key(name));
        if !has_group
            && ["setid", "createconsumer", "delconsumer"]
                .iter()
                .any(|k| is(sub, k))
        {
            return nogroup_for(name, key);
        }
    }
    if is(sub, "create") && (5..=8).contains(&a.len()) {
        let last = match db.peek(key) {
            Some(Value::Stream(s)) => s.last_id,
            _ => StreamId::MIN,
        };
        let id = if a[4] == b"$" {
            last
        } else {
            tri!(strict_id(a[4]))
        };
        let Value::Stream(s) = db.get_or_create(key, now, |_| Value::Stream(Stream::default()))
        else {
            return wrongtype();
        };
        if s.groups.contains_key(name) {
            return Reply::error("BUSYGROUP Consumer Group name already exists");
        }
        s.groups.insert(
            name.to_vec(),
            Group {
                last_id: id,
                entries_read: read,
                ..Group::default()
            },
        );
        db.touch(key);
        db.note(Classes::STREAM, "xgroup-create", key);
        return Reply::ok();
    }
    let Some(Value::Stream(s)) = db.peek_mut(key) else {
        return unknown_sub(sub);
    };
    if is(sub, "setid") && (a.len() == 5 || a.len() == 7) {
        let id = if a[4] == b"$" {
            s.last_id
        } else {
            match StreamId::parse(a[4], 0, true) {
                Some(id) => id,
                None => return Reply::error(crate::cmd::streams::INVALID_ID),
            }
        };
        let mut read = None;
        if a.len() == 7 {
            if !is(a[5], "entriesread") {
                return unknown_sub(sub);
            }
            read = tri!(entries_read(a[6]));
        }
        let Some(g) = s.groups.get_mut(name) else {
            return nogroup_for(name, key);
        };
        g.last_id = id;
        g.entries_read = read;
        db.touch(key);
        db.note(Classes::STREAM, "xgroup-setid", key);
        Reply::ok()
    } else if is(sub, "destroy") && a.len() == 4 {
        if s.groups.remove(name).is_none() {
            return Reply::Integer(0);
        }
        db.touch(key);
        db.note(Classes::STREAM, "xgroup-destroy", key);
        Reply::Integer(1)
    } else if is(sub, "createconsumer") && a.len() == 5 {
        let Some(g) = s.groups.get_mut(name) else {
            return nogroup_for(name, key);
        };
        let (_, made) = g.consumer(a[4], ms);
        if made {
            db.touch(key);
            db.note(Classes::STREAM, "xgroup-createconsumer", key);
        }
        Reply::Integer(i64::from(made))
    } else if is(sub, "delconsumer") && a.len() == 5 {
        let Some(g) = s.groups.get_mut(name) else {
            return nogroup_for(name, key);
        };
        let Some(c) = g.consumers.remove(a[4]) else {
            return Reply::Integer(0);
        };
        for id in &c.pending {
            g.pending.remove(id);
        }
        db.touch(key);
        db.note(Classes::STREAM, "xgroup-delconsumer", key);
        Reply::Integer(c.pending.len() as i64)
    } else {
        unknown_sub(sub)
    }
}

const HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
];

/// XACK key group id [id ...]
pub(crate) fn xack(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    let Some(s) = tri!(typed_mut!(db, a[1], now, Stream)) else {
        return Reply::Integer(0);
    };
    let Some(g) = s.groups.get_mut(a[2]) else {
        return Reply::Integer(0);
    };
    let ids: Vec<StreamId> = tri!(a[3..].iter().map(|x| strict_id(x)).collect());
    let acked = ids.into_iter().filter(|&id| g.ack(id)).count();
    if acked > 0 {
        db.touch(a[1]);
    }
    Reply::Integer(acked as i64)
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub(crate) fn xpending(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if a.len() != 3 && !(6..=9).contains(&a.len()) {
        return Reply::error(SYNTAX);
    }
    let mut range = None;
    let mut min_idle = 0;
    if a.len() >= 6 {
        let mut at = 3;
        if is(a[3], "idle") {
            min_idle = tri!(int_arg(a[4]));
            if a.len() < 8 {
                return Reply::error(SYNTAX);
            }
            at += 2;
        }
        let count = tri!(int_arg(a[at + 2])).max(0) as usize;
        let lo = tri!(interval(a[at], 0, true));
        let hi = tri!(interval(a[at + 1], u64::MAX, false));
        range = Some((lo, hi, count, a.get(at + 3).copied()));
    }
    let (now, ms) = (cx.now, now_ms(cx));
    let db = cx.db();
    let Some(s) = tri!(typed!(db, a[1], now, Stream)) else {
        return nogroup_key(a[1], a[2], "");
    };
    let Some(g) = s.groups.get(a[2]) else {
        return nogroup_key(a[1], a[2], "");
    };
    let Some((lo, hi, count, consumer)) = range else {
        let (Some((first, _)), Some((last, _))) =
            (g.pending.first_key_value(), g.pending.last_key_value())
        else {
            return Reply::array(alloc::vec![
                Reply::Integer(0),
                Reply::nil(),
                Reply::nil(),
                Reply::nil_array(),
            ]);
        };
        let holders: Vec<Reply> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(name, c)| {
                Reply::array(alloc::vec![
                    Reply::bulk(name),
                    Reply::Bulk(Some(crate::num::int_bytes(c.pending.len() as i64))),
                ])
            })
            .collect();
        return Reply::array(alloc::vec![
            Reply::Integer(g.pending.len() as i64),
            Reply::Bulk(Some(first.to_bytes())),
            Reply::Bulk(Some(last.to_bytes())),
            Reply::array(holders),
        ]);
    };
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) if lo <= hi => c.pending.range(lo..=hi).copied().collect(),
            Some(_) => Vec::new(),
            None => return Reply::array(Vec::new()),
        },
        None if lo <= hi => g.pending.range(lo..=hi).map(|(id, _)| *id).collect(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= count {
            break;
        }
        let Some(p) = g.pending.get(&id) else {
            continue;
        };
        let idle = ms.saturating_sub(p.delivered_ms) as i64;
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        out.push(Reply::array(alloc::vec![
            Reply::Bulk(Some(id.to_bytes())),
            Reply::bulk(&p.consumer),
            Reply::Integer(idle),
            Reply::Integer(p.deliveries as i64),
        ]));
    }
    Reply::array(out)
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME
/// ms-unix-time] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub(crate) fn xclaim(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (now, ms, budget) = (cx.now, now_ms(cx) as i64, cx.reply);
    let db = cx.db();
    let key = a[1];
    let found = match db.get(key, now) {
        Some(Value::Stream(s)) => s.groups.contains_key(a[2]),
        Some(_) => return wrongtype(),
        None => false,
    };
    if !found {
        return nogroup_key(key, a[2], "");
    }
    let min_idle = match crate::num::parse_i64(a[4]) {
        Some(n) => n.max(0),
        None => return Reply::error("ERR Invalid min-idle-time argument for XCLAIM"),
    };
    // The IDs run up to the first argument that is none: the options.
    let mut j = 5;
    let mut ids = Vec::new();
    while let Some(id) = a.get(j).and_then(|x| StreamId::parse(x, 0, false)) {
        ids.push(id);
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let mut last = StreamId::MIN;
    let option = |arg: &[u8], what: &str| -> Result<i64, Reply> {
        crate::num::parse_i64(arg).ok_or_else(|| {
            let mut m = String::from("ERR Invalid ");
            m.push_str(what);
            m.push_str(" option argument for XCLAIM");
            Reply::Error(m)
        })
    };
    while j < a.len() {
        let more = j + 1 < a.len();
        let opt = a[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more {
            j += 1;
            delivery = Some(ms.saturating_sub(tri!(option(a[j], "IDLE"))));
        } else if is(opt, "time") && more {
            j += 1;
            delivery = Some(tri!(option(a[j], "TIME")));
        } else if is(opt, "retrycount") && more {
            j += 1;
            retry = Some(tri!(option(a[j], "RETRYCOUNT")));
        } else if is(opt, "lastid") && more {
            j += 1;
            last = tri!(strict_id(a[j]));
        } else {
            let mut m = String::from("ERR Unrecognized XCLAIM option '");
            m.push_str(&String::from_utf8_lossy(opt));
            m.push('\'');
            return Reply::Error(m);
        }
        j += 1;
    }
    // A bogus delivery time is now, not an error (clients' clocks drift).
    let delivered = match delivery {
        Some(t) if (0..=ms).contains(&t) => t as u64,
        _ => ms as u64,
    };
    let Some(Value::Stream(s)) = db.peek_mut(key) else {
        return wrongtype();
    };
    let Some(g) = s.groups.get_mut(a[2]) else {
        return nogroup_key(key, a[2], "");
    };
    let mut changed = false;
    if last > g.last_id {
        g.last_id = last;
        changed = true;
    }
    let mut claimed = Vec::new();
    let mut made_consumer = false;
    for id in ids {
        let Some(entry) = s.get(id).cloned() else {
            // An entry no longer there leaves the pending list.
            changed |= s.groups.get_mut(a[2]).is_some_and(|g| g.ack(id));
            continue;
        };
        let Some(g) = s.groups.get_mut(a[2]) else {
            break;
        };
        let (old, deliveries) = match g.pending.get(&id) {
            Some(p) => (Some(p.consumer.clone()), p.deliveries),
            None if force => (None, 1),
            None => continue,
        };
        if old.is_some() && min_idle > 0 && ms - (g.pending[&id].delivered_ms as i64) < min_idle {
            continue;
        }
        if !g.consumers.contains_key(a[3]) {
            made_consumer = true;
        }
        g.consumer(a[3], ms as u64);
        let deliveries = match retry {
            Some(n) => n.max(0) as u64,
            None if justid => deliveries,
            None => deliveries + 1,
        };
        g.assign(id, a[3], delivered, deliveries);
        changed = true;
        claimed.push(if justid {
            Reply::Bulk(Some(id.to_bytes()))
        } else {
            tri!(budget.take_all(entry.iter().map(Vec::as_slice)));
            entry_reply(id, &entry)
        });
    }
    if changed {
        db.touch(key);
    }
    if made_consumer {
        db.note(Classes::STREAM, "xgroup-createconsumer", key);
    }
    Reply::array(claimed)
}

/// What XREADGROUP serves from one stream: new entries (`>`), or the
/// consumer's pending ones after an ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum From {
    New,
    History(StreamId),
}

/// Serves XREADGROUP's `group`/`consumer` from stream `key` as `from`
/// says, at most `count` entries (0: all); `None` when `>` finds nothing
/// new (nothing changed then). The key and its entries.
pub(crate) fn serve_group(
    cx: &mut Ctx<'_>,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    from: &From,
    count: usize,
    noack: bool,
) -> Result<Option<(Reply, Reply)>, Reply> {
    let (now, ms, budget) = (cx.now, now_ms(cx), cx.reply);
    let db = cx.db();
    let Some(s) = typed_mut!(db, key, now, Stream)? else {
        return Ok(None);
    };
    let Some(g) = s.groups.get(group) else {
        return Ok(None);
    };
    let take = if count == 0 { usize::MAX } else { count };
    let picked: Vec<StreamId> = match from {
        From::New => {
            let Some(after) = g.last_id.next() else {
                return Ok(None);
            };
            let ids: Vec<StreamId> = s
                .range(after, StreamId::MAX, false, 0)
                .into_iter()
                .take(take)
                .map(|(id, _)| id)
                .collect();
            if ids.is_empty() {
                return Ok(None);
            }
            ids
        }
        From::History(after) => match (g.consumers.get(consumer), after.next()) {
            (Some(c), Some(start)) => c.pending.range(start..).take(take).copied().collect(),
            _ => Vec::new(),
        },
    };
    let mut out = Vec::with_capacity(picked.len());
    for &id in &picked {
        match s.get(id) {
            Some(fields) => {
                budget.take_all(fields.iter().map(Vec::as_slice))?;
                out.push(entry_reply(id, fields));
            }
            None => out.push(Reply::array(alloc::vec![
                Reply::Bulk(Some(id.to_bytes())),
                Reply::nil_array(),
            ])),
        }
    }
    // The group's count of entries read after each new entry it
    // delivers (history reads deliver none).
    let mut read = s.groups.get(group).and_then(|g| g.entries_read);
    let reads: Vec<Option<u64>> = match from {
        From::New => picked
            .iter()
            .map(|&id| {
                read = s.read_after(read, id);
                read
            })
            .collect(),
        From::History(_) => Vec::new(),
    };
    let Some(g) = s.groups.get_mut(group) else {
        return Ok(None);
    };
    let made = !g.consumers.contains_key(consumer);
    g.consumer(consumer, ms);
    match from {
        From::New => {
            for (&id, &read) in picked.iter().zip(&reads) {
                g.last_id = id;
                g.entries_read = read;
                if !noack {
                    g.assign(id, consumer, ms, 1);
                }
            }
        }
        From::History(_) => {
            for &id in &picked {
                if s.get(id).is_none() {
                    continue;
                }
                if let Some(p) = s.groups.get_mut(group).and_then(|g| g.pending.get_mut(&id)) {
                    p.delivered_ms = ms;
                    p.deliveries += 1;
                }
            }
        }
    }
    db.touch(key);
    if made {
        db.note(Classes::STREAM, "xgroup-createconsumer", key);
    }
    Ok(Some((Reply::bulk(key), Reply::array(out))))
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds]
/// [NOACK] STREAMS key [key ...] id [id ...]
pub(crate) fn xreadgroup(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let args = tri!(crate::cmd::streams::parse_read(a, true));
    let Some((group, consumer)) = args.group else {
        return Reply::error("ERR Missing GROUP option for XREADGROUP");
    };
    let now = cx.now;
    let mut wanted = Vec::with_capacity(args.keys.len());
    for (key, id) in args.keys.iter().zip(args.ids) {
        let db = cx.db();
        let has = tri!(typed!(db, key, now, Stream)).is_some_and(|s| s.groups.contains_key(group));
        if !has {
            return nogroup_key(key, group, " in XREADGROUP with GROUP option");
        }
        let from = match *id {
            b">" => From::New,
            b"$" => {
                return Reply::error(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                );
            }
            // Redis marks `>` as the largest ID, so that ID given as such
            // reads new entries too.
            id => match tri!(strict_id(id)) {
                StreamId::MAX => From::New,
                id => From::History(id),
            },
        };
        wanted.push((key.to_vec(), from));
    }
    let mut served = Vec::new();
    for (key, from) in &wanted {
        if let Some(r) = tri!(serve_group(
            cx, key, group, consumer, from, args.count, args.noack
        )) {
            served.push(r);
        }
    }
    if !served.is_empty() {
        return Reply::Keyed(served);
    }
    let Some(timeout_ms) = args.block else {
        return Reply::nil_array();
    };
    if !cx.may_block {
        return Reply::nil_array();
    }
    cx.block = Some(Block {
        keys: wanted.iter().map(|(k, _)| k.clone()).collect(),
        op: Op::ReadGroup {
            group: group.to_vec(),
            consumer: consumer.to_vec(),
            count: args.count,
            noack: args.noack,
        },
        timeout_ms,
    });
    Reply::nil_array()
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count]
/// [JUSTID]: XCLAIM of the pending entries from `start` on, at most
/// COUNT (100) of them in at most ten times as many looked at; answers
/// the next start (0-0 at the end), what was claimed, and the IDs of
/// pending entries no longer in the stream (taken off the list).
pub(crate) fn xautoclaim(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let min_idle = match crate::num::parse_i64(a[4]) {
        Some(n) => n.max(0),
        None => return Reply::error("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    };
    let start = tri!(interval(a[5], 0, true));
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        if is(a[j], "count") && j + 1 < a.len() {
            count = match crate::num::parse_i64(a[j + 1]) {
                Some(n) if (1..=i64::MAX / 16).contains(&n) => n,
                _ => return Reply::error("ERR COUNT must be > 0"),
            };
            j += 1;
        } else if is(a[j], "justid") {
            justid = true;
        } else {
            return Reply::error(SYNTAX);
        }
        j += 1;
    }
    let (now, ms, budget) = (cx.now, now_ms(cx), cx.reply);
    let db = cx.db();
    let key = a[1];
    let Some(s) = tri!(typed_mut!(db, key, now, Stream)) else {
        return nogroup_key(key, a[2], "");
    };
    let Some(g) = s.groups.get(a[2]) else {
        return nogroup_key(key, a[2], "");
    };
    let ids: Vec<StreamId> = g.pending.range(start..).map(|(id, _)| *id).collect();
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let (mut next, mut claimed, mut gone) = (0, Vec::new(), Vec::new());
    let mut made = false;
    let mut changed = false;
    while attempts > 0 && left > 0 && next < ids.len() {
        attempts -= 1;
        let id = ids[next];
        next += 1;
        let entry = s.get(id).cloned();
        let Some(g) = s.groups.get_mut(a[2]) else {
            break;
        };
        let Some(entry) = entry else {
            g.ack(id);
            gone.push(Reply::Bulk(Some(id.to_bytes())));
            changed = true;
            left -= 1;
            continue;
        };
        let Some(p) = g.pending.get(&id) else {
            continue;
        };
        if min_idle > 0 && (ms.saturating_sub(p.delivered_ms) as i64) < min_idle {
            continue;
        }
        let deliveries = p.deliveries + u64::from(!justid);
        made |= !g.consumers.contains_key(a[3]);
        g.consumer(a[3], ms);
        g.assign(id, a[3], ms, deliveries);
        changed = true;
        claimed.push(if justid {
            Reply::Bulk(Some(id.to_bytes()))
        } else {
            tri!(budget.take_all(entry.iter().map(Vec::as_slice)));
            entry_reply(id, &entry)
        });
        left -= 1;
    }
    let cursor = ids.get(next).copied().unwrap_or(StreamId::MIN);
    if changed {
        db.touch(key);
    }
    if made {
        db.note(Classes::STREAM, "xgroup-createconsumer", key);
    }
    Reply::array(alloc::vec![
        Reply::Bulk(Some(cursor.to_bytes())),
        Reply::array(claimed),
        Reply::array(gone),
    ])
}
