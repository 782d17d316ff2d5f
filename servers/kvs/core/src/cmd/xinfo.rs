//! XINFO STREAM [FULL [COUNT n]] | GROUPS | CONSUMERS | HELP: what a
//! stream, its consumer groups and their consumers hold, with Redis
//! 7.0's fields in its order (`entries-read` and `lag` as 7.0 keeps and
//! estimates them).

use alloc::string::String;

use crate::cmd::object::subcommand;
use crate::cmd::streams::entry_reply;
use crate::cmd::{int_arg, is};
use crate::db::{Value, tri, wrongtype};
use crate::reply::{NO_SUCH_KEY, Reply};
use crate::store::Ctx;
use crate::stream::{Group, Stream, StreamId};

const HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

/// FULL's entries and pending entries unless COUNT says otherwise.
const FULL_COUNT: usize = 10;

/// `-ERR unknown subcommand or wrong number of arguments for '<sub>'.
/// Try XINFO HELP.`
fn syntax(sub: &[u8]) -> Reply {
    let mut msg = String::from("ERR unknown subcommand or wrong number of arguments for '");
    msg.push_str(&String::from_utf8_lossy(sub));
    msg.push_str("'. Try XINFO HELP.");
    Reply::Error(msg)
}

fn id(id: StreamId) -> Reply {
    Reply::Bulk(Some(id.to_bytes()))
}

fn field(name: &str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk(name.as_bytes()), value)
}

fn map<const N: usize>(fields: [(Reply, Reply); N]) -> Reply {
    Reply::Map(fields.into())
}

/// XINFO CONSUMERS|GROUPS|STREAM|HELP
pub(crate) fn xinfo(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let sub = tri!(subcommand("xinfo", a));
    if sub.name == "xinfo|help" {
        return Reply::array(HELP.iter().map(|l| Reply::simple(l)).collect());
    }
    let (now, ms) = (cx.now, u64::try_from(cx.now).unwrap_or(0));
    let s = match cx.db().get(a[2], now) {
        None => return Reply::error(NO_SUCH_KEY),
        Some(Value::Stream(s)) => s,
        Some(_) => return wrongtype(),
    };
    match sub.name {
        "xinfo|consumers" => consumers(s, a[2], a[3], ms),
        "xinfo|groups" => groups(s),
        _ => stream(s, a),
    }
}

fn consumers(s: &Stream, key: &[u8], name: &[u8], ms: u64) -> Reply {
    let Some(g) = s.groups.get(name) else {
        let mut msg = String::from("NOGROUP No such consumer group '");
        msg.push_str(&String::from_utf8_lossy(name));
        msg.push_str("' for key name '");
        msg.push_str(&String::from_utf8_lossy(key));
        msg.push('\'');
        return Reply::Error(msg);
    };
    Reply::array(
        g.consumers
            .iter()
            .map(|(name, c)| {
                map([
                    field("name", Reply::bulk(name)),
                    field("pending", Reply::Integer(c.pending.len() as i64)),
                    field("idle", Reply::Integer(ms.saturating_sub(c.seen_ms) as i64)),
                ])
            })
            .collect(),
    )
}

/// A group's count of entries read, nil when unknown.
fn entries_read(g: &Group) -> Reply {
    g.entries_read
        .map_or_else(Reply::nil, |n| Reply::Integer(n as i64))
}

/// A group's lag, nil when it cannot be told.
fn lag(s: &Stream, g: &Group) -> Reply {
    s.lag(g).map_or_else(Reply::nil, Reply::Integer)
}

fn groups(s: &Stream) -> Reply {
    Reply::array(
        s.groups
            .iter()
            .map(|(name, g)| {
                map([
                    field("name", Reply::bulk(name)),
                    field("consumers", Reply::Integer(g.consumers.len() as i64)),
                    field("pending", Reply::Integer(g.pending.len() as i64)),
                    field("last-delivered-id", id(g.last_id)),
                    field("entries-read", entries_read(g)),
                    field("lag", lag(s, g)),
                ])
            })
            .collect(),
    )
}

/// XINFO STREAM key [FULL [COUNT n]]
fn stream(s: &Stream, a: &[&[u8]]) -> Reply {
    let full = match a.len() {
        3 => None,
        4 if is(a[3], "full") => Some(FULL_COUNT),
        6 if is(a[3], "full") && is(a[4], "count") => {
            // A negative COUNT is the default, 0 is everything.
            let n = tri!(int_arg(a[5]));
            Some(usize::try_from(n).unwrap_or(FULL_COUNT))
        }
        _ => return syntax(a[1]),
    };
    let mut out = alloc::vec![
        field("length", Reply::Integer(s.len() as i64)),
        field("radix-tree-keys", Reply::Integer(s.rax_keys() as i64)),
        field("radix-tree-nodes", Reply::Integer(s.rax_nodes() as i64)),
        field("last-generated-id", id(s.last_id)),
        field("max-deleted-entry-id", id(s.max_deleted)),
        field("entries-added", Reply::Integer(s.entries_added as i64)),
        field("recorded-first-entry-id", id(s.first_id())),
    ];
    let Some(count) = full else {
        let edge = |rev: bool| {
            s.range(StreamId::MIN, StreamId::MAX, rev, 1)
                .first()
                .map_or_else(Reply::nil, |(id, f)| entry_reply(*id, f))
        };
        out.push(field("groups", Reply::Integer(s.groups.len() as i64)));
        out.push(field("first-entry", edge(false)));
        out.push(field("last-entry", edge(true)));
        return Reply::Map(out);
    };
    let take = if count == 0 { usize::MAX } else { count };
    let entries = s
        .range(StreamId::MIN, StreamId::MAX, false, count)
        .into_iter()
        .map(|(id, f)| entry_reply(id, f))
        .collect();
    out.push(field("entries", Reply::array(entries)));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pending = g
                .pending
                .iter()
                .take(take)
                .map(|(pid, p)| {
                    Reply::array(alloc::vec![
                        id(*pid),
                        Reply::bulk(&p.consumer),
                        Reply::Integer(p.delivered_ms as i64),
                        Reply::Integer(p.deliveries as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let pending = c
                        .pending
                        .iter()
                        .take(take)
                        .filter_map(|pid| g.pending.get(pid).map(|p| (pid, p)))
                        .map(|(pid, p)| {
                            Reply::array(alloc::vec![
                                id(*pid),
                                Reply::Integer(p.delivered_ms as i64),
                                Reply::Integer(p.deliveries as i64),
                            ])
                        })
                        .collect();
                    map([
                        field("name", Reply::bulk(cname)),
                        field("seen-time", Reply::Integer(c.seen_ms as i64)),
                        field("pel-count", Reply::Integer(c.pending.len() as i64)),
                        field("pending", Reply::array(pending)),
                    ])
                })
                .collect();
            map([
                field("name", Reply::bulk(name)),
                field("last-delivered-id", id(g.last_id)),
                field("entries-read", entries_read(g)),
                field("lag", lag(s, g)),
                field("pel-count", Reply::Integer(g.pending.len() as i64)),
                field("pending", Reply::array(pending)),
                field("consumers", Reply::array(consumers)),
            ])
        })
        .collect();
    out.push(field("groups", Reply::array(groups)));
    Reply::Map(out)
}
