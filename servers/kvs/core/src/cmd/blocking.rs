//! The blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX and BZMPOP. Each does at once what its non-blocking command
//! does on the first of its keys that holds something; when none does, the
//! session waits ([`crate::blocking`]) if it may, and otherwise (inside
//! MULTI, in a session that may not block) answers as if its timeout had
//! passed.

use alloc::vec::Vec;

use crate::blocking::{Block, Op, parse_timeout};
use crate::cmd::{int_arg, lists, lookup, mpop};
use crate::db::{tri, wrongtype};
use crate::reply::Reply;
use crate::store::Ctx;

/// Does `op` on the first of `keys` that holds something (WRONGTYPE when
/// one before it, or it, holds another type), or blocks on them all.
fn serve_or_block(cx: &mut Ctx<'_>, keys: &[&[u8]], op: Op, timeout_ms: u64) -> Reply {
    let now = cx.now;
    for &key in keys {
        match cx.db().get(key, now) {
            None => continue,
            Some(v) if op.wants(key, v) => return serve(cx, &op, key),
            Some(_) => return wrongtype(),
        }
    }
    if !cx.may_block {
        return op.without_waiting();
    }
    let reply = op.timed_out();
    cx.block = Some(Block {
        keys: keys.iter().map(|k| k.to_vec()).collect(),
        op,
        timeout_ms,
    });
    // Not sent: the session is blocked.
    reply
}

/// Does `op` on `key` by its non-blocking command; the blocking command's
/// reply. What the store also runs to serve a blocked session.
pub(crate) fn serve(cx: &mut Ctx<'_>, op: &Op, key: &[u8]) -> Reply {
    if let Op::Read { wanted, count } = op {
        // The stream that got entries, alone, after the first ID given
        // for it (a key named twice waits once, as in Redis).
        let this: Vec<_> = wanted
            .iter()
            .find(|w| w.key == key)
            .cloned()
            .into_iter()
            .collect();
        return match crate::cmd::streams::read(cx, &this, *count) {
            Ok(Some(reply)) => reply,
            Ok(None) => Reply::nil_array(),
            Err(e) => e,
        };
    }
    if let Op::ReadGroup {
        group,
        consumer,
        count,
        noack,
    } = op
    {
        use crate::cmd::groups::{From, serve_group};
        return match serve_group(cx, key, group, consumer, &From::New, *count, *noack) {
            Ok(Some(served)) => Reply::Keyed(alloc::vec![served]),
            // The group went: the waiting consumer learns it.
            Ok(None) => Reply::error(
                "NOGROUP the consumer group this client was blocked on no longer exists",
            ),
            Err(e) => e,
        };
    }
    let args = op.command(key);
    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let Some(command) = lookup(args[0]) else {
        unreachable!("the non-blocking pops are in the table");
    };
    let crate::cmd::Kind::Normal(handler) = command.kind else {
        unreachable!("the non-blocking pops are ordinary commands");
    };
    // Its events are the non-blocking command's (LPOP's `lpop`).
    if let Some((class, event)) = crate::notify::of_command(command.spec.name) {
        cx.db().raise(class, event);
    }
    let done = handler(cx, &args);
    op.reply(key, done)
}

/// `key [key ...] timeout`: the keys and the timeout.
fn keys_then_timeout<'a>(a: &'a [&'a [u8]]) -> Result<(&'a [&'a [u8]], u64), Reply> {
    let timeout = parse_timeout(a[a.len() - 1])?;
    Ok((&a[1..a.len() - 1], timeout))
}

/// BLPOP key [key ...] timeout
pub(crate) fn blpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (keys, timeout) = tri!(keys_then_timeout(a));
    serve_or_block(cx, keys, Op::Pop { left: true }, timeout)
}

/// BRPOP key [key ...] timeout
pub(crate) fn brpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (keys, timeout) = tri!(keys_then_timeout(a));
    serve_or_block(cx, keys, Op::Pop { left: false }, timeout)
}

/// BZPOPMIN key [key ...] timeout
pub(crate) fn bzpopmin(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (keys, timeout) = tri!(keys_then_timeout(a));
    serve_or_block(cx, keys, Op::ZPop { max: false }, timeout)
}

/// BZPOPMAX key [key ...] timeout
pub(crate) fn bzpopmax(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (keys, timeout) = tri!(keys_then_timeout(a));
    serve_or_block(cx, keys, Op::ZPop { max: true }, timeout)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub(crate) fn blmove(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let from_left = tri!(lists::parse_side(a[3]));
    let to_left = tri!(lists::parse_side(a[4]));
    let timeout = tri!(parse_timeout(a[5]));
    let op = Op::Move {
        dst: a[2].to_vec(),
        from_left,
        to_left,
    };
    serve_or_block(cx, &a[1..2], op, timeout)
}

/// BRPOPLPUSH source destination timeout
pub(crate) fn brpoplpush(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let timeout = tri!(parse_timeout(a[3]));
    let op = Op::Move {
        dst: a[2].to_vec(),
        from_left: false,
        to_left: true,
    };
    serve_or_block(cx, &a[1..2], op, timeout)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the
/// rest is read first, as in Redis, and then the timeout.
pub(crate) fn blmpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let p = tri!(mpop::parse(&a[1..], ["left", "right"]));
    let timeout = tri!(parse_timeout(a[1]));
    let op = Op::MPop {
        left: p.first_end,
        count: p.count,
    };
    serve_or_block(cx, p.keys, op, timeout)
}

/// WAIT numreplicas timeout: Basalt has no replicas, so 0 at once when
/// no replica is asked for (or the session may not wait), else 0 once
/// the timeout (milliseconds; 0 for ever) passes, as Redis without
/// replicas answers.
pub(crate) fn wait(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let replicas = tri!(int_arg(a[1]));
    let timeout = match crate::num::parse_i64(a[2]) {
        None => return Reply::error("ERR timeout is not an integer or out of range"),
        Some(t) if t < 0 => return Reply::error("ERR timeout is negative"),
        Some(t) => t as u64,
    };
    if replicas <= 0 || !cx.may_block {
        return Op::Wait.without_waiting();
    }
    cx.block = Some(Block {
        keys: Vec::new(),
        op: Op::Wait,
        timeout_ms: timeout,
    });
    Op::Wait.timed_out()
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub(crate) fn bzmpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let p = tri!(mpop::parse(&a[1..], ["min", "max"]));
    let timeout = tri!(parse_timeout(a[1]));
    let op = Op::ZMPop {
        max: !p.first_end,
        count: p.count,
    };
    serve_or_block(cx, p.keys, op, timeout)
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::{Reply, WRONGTYPE};
    use crate::{Session, Store};
    use alloc::vec;
    use alloc::vec::Vec;

    /// A store and clients that may block, numbered from 1.
    struct Clients {
        store: Store,
        sessions: Vec<Session>,
        now: u64,
    }

    impl Clients {
        fn new(n: u64) -> Clients {
            let sessions = (1..=n)
                .map(|id| {
                    let mut s = Session::with_id(id);
                    s.set_may_block(true);
                    s
                })
                .collect();
            Clients {
                store: Store::with_seed(7),
                sessions,
                now: 1_000_000,
            }
        }

        /// Runs `line` as client `id`; `None` if it blocked.
        fn run(&mut self, id: usize, line: &str) -> Option<Reply> {
            let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            let s = &mut self.sessions[id - 1];
            let reply = self.store.execute(s, &args, self.now).into_resp2();
            (!self.store.is_blocked(s)).then_some(reply)
        }

        fn answered(&mut self) -> Vec<(u64, Reply)> {
            let answered = self.store.take_answered().into_iter();
            answered.map(|(id, r)| (id, r.into_resp2())).collect()
        }
    }

    fn pair(k: &str, v: &str) -> Reply {
        arr(&[k, v])
    }

    #[test]
    fn serves_at_once_what_is_there() {
        let mut c = Clients::new(1);
        c.run(1, "RPUSH l a b c");
        c.run(1, "ZADD z 1 x 2 y");
        assert_eq!(c.run(1, "BLPOP nope l 0"), Some(pair("l", "a")));
        assert_eq!(c.run(1, "BRPOP l 0"), Some(pair("l", "c")));
        assert_eq!(c.run(1, "BZPOPMAX z 0"), Some(arr(&["z", "y", "2"])));
        assert_eq!(c.run(1, "BZPOPMIN z 0"), Some(arr(&["z", "x", "1"])));
        assert_eq!(c.run(1, "BLMOVE l d LEFT RIGHT 0"), Some(bulk("b")));
        assert_eq!(c.run(1, "BRPOPLPUSH d d2 0"), Some(bulk("b")));
        c.run(1, "RPUSH l 1 2 3");
        assert_eq!(
            c.run(1, "BLMPOP 0 2 nope l RIGHT COUNT 2"),
            Some(Reply::array(vec![bulk("l"), arr(&["3", "2"])]))
        );
        c.run(1, "ZADD z 1 a 2 b");
        assert_eq!(
            c.run(1, "BZMPOP 0 1 z MAX COUNT 5"),
            Some(Reply::array(vec![
                bulk("z"),
                Reply::array(vec![arr(&["b", "2"]), arr(&["a", "1"])]),
            ]))
        );
        c.run(1, "SET s x");
        assert_eq!(c.run(1, "BLPOP nope s l 0"), Some(err(WRONGTYPE)));
        assert_eq!(c.run(1, "BZPOPMIN s 0"), Some(err(WRONGTYPE)));
        c.run(1, "RPUSH q v");
        assert_eq!(
            c.run(1, "BLMOVE q s LEFT LEFT 0"),
            Some(err(WRONGTYPE)),
            "the destination's type is checked first"
        );
    }

    #[test]
    fn errors_in_redis_order() {
        let mut c = Clients::new(1);
        for (line, e) in [
            ("BLPOP k x", "ERR timeout is not a float or out of range"),
            ("BLPOP k -1", "ERR timeout is negative"),
            ("BLMOVE a b UP LEFT x", "ERR syntax error"),
            (
                "BLMOVE a b LEFT LEFT x",
                "ERR timeout is not a float or out of range",
            ),
            ("BLMPOP x 0 a LEFT", "ERR numkeys should be greater than 0"),
            ("BLMPOP 0 1 a UP", "ERR syntax error"),
            (
                "BZMPOP x 1 a MIN COUNT 0",
                "ERR count should be greater than 0",
            ),
            (
                "BZMPOP x 1 a MIN",
                "ERR timeout is not a float or out of range",
            ),
            ("BRPOPLPUSH a b -2", "ERR timeout is negative"),
        ] {
            assert_eq!(c.run(1, line), Some(err(e)), "{line}");
        }
    }

    #[test]
    fn answers_as_timed_out_where_it_may_not_wait() {
        let mut t = T::new();
        assert_eq!(
            t.run("BLPOP k 0"),
            Reply::nil_array(),
            "a session without an id"
        );
        let mut c = Clients::new(1);
        c.run(1, "MULTI");
        for line in ["BLPOP k 0", "BLMOVE k d LEFT LEFT 0", "BZMPOP 0 1 z MIN"] {
            assert_eq!(c.run(1, line), Some(simple("QUEUED")));
        }
        assert_eq!(
            c.run(1, "EXEC"),
            Some(Reply::array(vec![
                Reply::nil_array(),
                Reply::nil(),
                Reply::nil_array()
            ]))
        );
        c.sessions[0].set_may_block(false);
        assert_eq!(c.run(1, "BRPOP k 0"), Some(Reply::nil_array()));
    }

    #[test]
    fn serves_in_the_order_they_blocked() {
        let mut c = Clients::new(4);
        for id in 1..=3 {
            assert_eq!(c.run(id, "BLPOP q 0"), None);
        }
        assert_eq!(c.store.blocked_sessions(), 3);
        assert_eq!(c.run(4, "RPUSH q a b"), Some(int(2)));
        assert_eq!(
            c.answered(),
            [(1, pair("q", "a")), (2, pair("q", "b"))],
            "two elements for three clients"
        );
        assert_eq!(c.run(4, "EXISTS q"), Some(int(0)));
        assert_eq!(c.run(4, "LPUSH q c"), Some(int(1)));
        assert_eq!(c.answered(), [(3, pair("q", "c"))]);
        assert_eq!(c.store.blocked_sessions(), 0);
    }

    #[test]
    fn a_transaction_serves_after_exec_from_the_first_key_ready() {
        let mut c = Clients::new(2);
        assert_eq!(c.run(1, "BLPOP a b 0"), None);
        c.run(2, "MULTI");
        c.run(2, "LPUSH b x");
        c.run(2, "LPUSH a y");
        assert!(c.answered().is_empty(), "nothing before EXEC");
        assert_eq!(c.run(2, "EXEC"), Some(Reply::array(vec![int(1), int(1)])));
        assert_eq!(c.answered(), [(1, pair("b", "x"))]);
        assert_eq!(c.run(2, "LRANGE a 0 -1"), Some(arr(&["y"])));
    }

    #[test]
    fn passes_over_a_wait_for_another_type() {
        let mut c = Clients::new(3);
        assert_eq!(c.run(1, "BZPOPMIN m 0"), None);
        assert_eq!(c.run(2, "BLPOP m 0"), None);
        c.run(3, "RPUSH m 1");
        assert_eq!(c.answered(), [(2, pair("m", "1"))]);
        c.run(3, "SET m s");
        c.run(3, "DEL m");
        assert!(c.answered().is_empty());
        c.run(3, "ZADD m 5 z");
        assert_eq!(c.answered(), [(1, arr(&["m", "z", "5"]))]);
    }

    #[test]
    fn xreadgroup_waits_end_when_the_stream_or_group_goes() {
        let mut c = Clients::new(4);
        c.run(4, "XGROUP CREATE x g $ MKSTREAM");
        c.run(4, "XGROUP CREATE y g $ MKSTREAM");
        for (id, key) in [(1, "x"), (2, "x"), (3, "y")] {
            let wait = alloc::format!("XREADGROUP GROUP g c{id} BLOCK 0 STREAMS {key} >");
            assert_eq!(c.run(id, &wait), None);
        }
        let gone = err("UNBLOCKED the stream key no longer exists");
        c.run(4, "DEL x");
        assert_eq!(c.answered(), [(1, gone.clone()), (2, gone)]);
        c.run(4, "XGROUP DESTROY y g");
        assert_eq!(
            c.answered(),
            [(
                3,
                err("NOGROUP the consumer group this client was blocked on no longer exists")
            )]
        );
        c.run(4, "XGROUP CREATE y g $");
        assert_eq!(c.run(3, "XREADGROUP GROUP g c BLOCK 0 STREAMS y >"), None);
        c.run(4, "DEL y");
        c.run(4, "SET y s");
        assert_eq!(
            c.answered(),
            [(3, err("UNBLOCKED the stream key no longer exists"))]
        );
    }

    #[test]
    fn blmove_onto_another_type_fails_and_moves_nothing() {
        let mut c = Clients::new(3);
        c.run(3, "SET s x");
        assert_eq!(c.run(1, "BLMOVE q s LEFT LEFT 0"), None);
        assert_eq!(c.run(2, "BLPOP q 0"), None);
        c.run(3, "RPUSH q a");
        assert_eq!(c.answered(), [(1, err(WRONGTYPE)), (2, pair("q", "a"))]);
    }

    #[test]
    fn what_serving_pushes_serves_in_turn() {
        let mut c = Clients::new(3);
        assert_eq!(c.run(1, "BLMOVE a b RIGHT LEFT 0"), None);
        assert_eq!(c.run(2, "BRPOPLPUSH b c 0"), None);
        c.run(3, "LPUSH a v");
        assert_eq!(c.answered(), [(1, bulk("v")), (2, bulk("v"))]);
        assert_eq!(c.run(3, "LRANGE c 0 -1"), Some(arr(&["v"])));
        assert_eq!(c.run(3, "EXISTS a b"), Some(int(0)));
    }

    #[test]
    fn timeouts_unblock_and_release() {
        let mut c = Clients::new(4);
        assert_eq!(c.run(1, "BLPOP k 1.5"), None);
        assert_eq!(c.run(2, "BLMOVE k d LEFT LEFT 0.2"), None);
        assert_eq!(c.run(3, "BZPOPMIN z 0"), None);
        assert_eq!(c.store.next_block_deadline(), Some(c.now + 200));
        assert_eq!(c.store.expire_blocked(c.now + 199), 0);
        assert_eq!(c.store.expire_blocked(c.now + 200), 1);
        assert_eq!(c.answered(), [(2, Reply::nil_array())], "BLMOVE's too");
        assert_eq!(c.store.expire_blocked(c.now + 1500), 1);
        assert_eq!(c.answered(), [(1, Reply::nil_array())]);
        assert_eq!(c.store.next_block_deadline(), None);
        assert!(c.store.unblock(3, true));
        assert!(!c.store.unblock(3, true), "no longer blocked");
        assert_eq!(
            c.answered(),
            [(3, err("UNBLOCKED client unblocked via CLIENT UNBLOCK"))]
        );
        assert_eq!(c.run(3, "BZPOPMIN z 0"), None);
        assert!(c.store.unblock(3, false));
        assert_eq!(c.answered(), [(3, Reply::nil_array())]);
        // A client that goes away stops waiting, and takes nothing.
        assert_eq!(c.run(4, "BLPOP k 0"), None);
        let mut gone = core::mem::take(&mut c.sessions[3]);
        c.store.release(&mut gone);
        c.run(1, "RPUSH k v");
        assert!(c.answered().is_empty());
        assert_eq!(c.run(1, "LLEN k"), Some(int(1)));
    }

    #[test]
    fn wait_answers_0_with_no_replicas() {
        let mut c = Clients::new(2);
        assert_eq!(c.run(1, "WAIT 0 0"), Some(int(0)));
        assert_eq!(c.run(1, "WAIT -5 100"), Some(int(0)));
        for (line, e) in [
            ("WAIT x 0", "ERR value is not an integer or out of range"),
            ("WAIT 1 x", "ERR timeout is not an integer or out of range"),
            ("WAIT 0 -1", "ERR timeout is negative"),
        ] {
            assert_eq!(c.run(1, line), Some(err(e)), "{line}");
        }
        assert_eq!(c.run(1, "WAIT 1 250"), None, "waits for its timeout");
        c.run(2, "RPUSH k v");
        assert!(c.answered().is_empty(), "no key serves it");
        assert_eq!(c.store.expire_blocked(c.now + 250), 1);
        assert_eq!(c.answered(), [(1, int(0))]);
        assert_eq!(c.run(1, "WAIT 1 0"), None, "for ever");
        assert!(c.store.unblock(1, false));
        assert_eq!(c.answered(), [(1, int(0))]);
        c.run(1, "MULTI");
        c.run(1, "WAIT 1 0");
        assert_eq!(c.run(1, "EXEC"), Some(Reply::array(vec![int(0)])));
        assert!(crate::may_block(b"wait") && crate::may_block(b"bzmpop"));
    }

    #[test]
    fn swapdb_and_select_wake_the_right_database() {
        let mut c = Clients::new(2);
        assert_eq!(c.run(1, "BLPOP k 0"), None);
        c.run(2, "SELECT 1");
        c.run(2, "RPUSH k v");
        assert!(c.answered().is_empty(), "another database's k");
        c.run(2, "SWAPDB 0 1");
        assert_eq!(c.answered(), [(1, pair("k", "v"))]);
    }

    #[test]
    fn the_log_replays_what_serving_did() {
        let mut c = Clients::new(3);
        let mut writer = crate::AofWriter::new();
        let mut run = |c: &mut Clients, id: usize, line: &str| {
            let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            let s = &mut c.sessions[id - 1];
            writer.execute(&mut c.store, s, &args, c.now, None);
        };
        run(&mut c, 1, "BLMOVE a b LEFT RIGHT 0");
        run(&mut c, 2, "BZMPOP 0 1 z MAX COUNT 2");
        run(&mut c, 3, "RPUSH a 1 2 3");
        run(&mut c, 3, "ZADD z 1 x 2 y 3 w");
        assert_eq!(c.answered().len(), 2);
        let log = writer.take();
        let mut replayed = Store::with_seed(7);
        crate::replay(&log, &mut replayed, 0);
        let mut s = Session::new();
        for line in ["LRANGE a 0 -1", "LRANGE b 0 -1", "ZRANGE z 0 -1 WITHSCORES"] {
            let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            assert_eq!(
                replayed.execute(&mut s, &args, c.now),
                c.store.execute(&mut Session::new(), &args, c.now),
                "{line}"
            );
        }
    }
}
