//! Scripts through the store, with Redis 7.0.15's replies (taken from the
//! server; `tests/scripting_diff.rs` compares with a live one).

extern crate std;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::Protocol;
use crate::cmd::testutil::*;
use crate::reply::Reply;

/// `EVAL script 0 args…`, encoded in `protocol`.
fn eval_in(t: &mut T, protocol: Protocol, script: &str, keys: &[&str], args: &[&str]) -> String {
    let numkeys = alloc::format!("{}", keys.len());
    let mut argv: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), numkeys.as_bytes()];
    argv.extend(keys.iter().map(|k| k.as_bytes()));
    argv.extend(args.iter().map(|a| a.as_bytes()));
    t.s.set_protocol(protocol);
    let mut out = Vec::new();
    t.store
        .execute(&mut t.s, &argv, t.now)
        .encode(protocol, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn eval(t: &mut T, script: &str) -> String {
    eval_in(t, Protocol::Resp2, script, &[], &[])
}

/// The ` script: <sha>, on @user_script:<line>.` a raised error ends with.
fn suffix(script: &str, line: u32) -> String {
    let sha = super::sha1_hex(script.as_bytes());
    alloc::format!(
        " script: {}, on @user_script:{line}.",
        String::from_utf8_lossy(&sha)
    )
}

#[test]
fn values_leave_a_script_as_redis_converts_them() {
    let mut t = T::new();
    assert_eq!(eval(&mut t, "return 3.99"), ":3\r\n");
    assert_eq!(eval(&mut t, "return -3.5"), ":-3\r\n");
    assert_eq!(eval(&mut t, "return 1e20"), ":-9223372036854775808\r\n");
    assert_eq!(eval(&mut t, "return 'a\\r\\nb'"), "$4\r\na\r\nb\r\n");
    assert_eq!(eval(&mut t, "return nil"), "$-1\r\n");
    assert_eq!(eval(&mut t, "return true"), ":1\r\n");
    assert_eq!(eval(&mut t, "return false"), "$-1\r\n");
    assert_eq!(eval(&mut t, "return {1,2,nil,4}"), "*2\r\n:1\r\n:2\r\n");
    assert_eq!(eval(&mut t, "return {err='x'}"), "-x\r\n");
    assert_eq!(eval(&mut t, "return {ok='fine'}"), "+fine\r\n");
    assert_eq!(
        eval(&mut t, "return redis.error_reply('my error')"),
        "-my error\r\n"
    );
    assert_eq!(eval(&mut t, "return redis.error_reply('x')"), "-ERR x\r\n");
    assert_eq!(
        eval(&mut t, "return redis.status_reply()"),
        "-ERR wrong number or type of arguments\r\n"
    );
    assert_eq!(
        eval(&mut t, "return {double=0.1}"),
        "$19\r\n0.10000000000000001\r\n"
    );
    assert_eq!(
        eval_in(&mut t, Protocol::Resp3, "return {double=3.5}", &[], &[]),
        ",3.5\r\n"
    );
    assert_eq!(
        eval_in(
            &mut t,
            Protocol::Resp3,
            "redis.setresp(3) return {true, false}",
            &[],
            &[]
        ),
        "*2\r\n#t\r\n#f\r\n"
    );
    assert_eq!(eval(&mut t, "redis.setresp(3) return false"), ":0\r\n");
    assert_eq!(
        eval_in(
            &mut t,
            Protocol::Resp3,
            "return {verbatim_string={format='markdown',string='x'}}",
            &[],
            &[]
        ),
        "=5\r\nmar:x\r\n"
    );
    assert_eq!(
        eval(&mut t, "return {map={a=1}}"),
        "*2\r\n$1\r\na\r\n:1\r\n"
    );
    // A table that holds itself nests until the conversion stops.
    assert!(
        eval(&mut t, "local t = {} t[1] = t return t").contains("-ERR reached lua stack limit")
    );
}

#[test]
fn keys_args_and_commands() {
    let mut t = T::new();
    assert_eq!(
        eval_in(
            &mut t,
            Protocol::Resp2,
            "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])",
            &["k"],
            &["v"]
        ),
        "$1\r\nv\r\n"
    );
    assert_eq!(t.run("GET k"), bulk("v"));
    assert_eq!(
        eval(&mut t, "return redis.call('set', 'n', 3.99)"),
        "+OK\r\n"
    );
    assert_eq!(t.run("GET n"), bulk("3.9900000000000002"));
    assert_eq!(eval(&mut t, "return redis.call('get', 'nope')"), "$-1\r\n");
    assert_eq!(
        eval(&mut t, "return type(redis.call('get', 'nope'))"),
        "$7\r\nboolean\r\n"
    );
    t.run("HSET h f v");
    assert_eq!(
        eval(
            &mut t,
            "redis.setresp(3) local r = redis.call('hgetall', 'h') return r.map.f"
        ),
        "$1\r\nv\r\n"
    );
    // SELECT in a script is the script's own.
    assert_eq!(
        eval(
            &mut t,
            "redis.call('select', '1') redis.call('set', 'd', '1') return 1"
        ),
        ":1\r\n"
    );
    assert_eq!(t.s.db(), 0);
    assert_eq!(t.run("GET d"), nil());
}

#[test]
fn errors_say_where_they_were_raised() {
    let mut t = T::new();
    let s = "error('x')";
    assert_eq!(
        eval(&mut t, s),
        alloc::format!("-ERR user_script:1: x{}\r\n", suffix(s, 1))
    );
    let s = "local function f()\n  error('lvl2', 2)\nend\nf()";
    assert_eq!(
        eval(&mut t, s),
        alloc::format!("-ERR user_script:4: lvl2{}\r\n", suffix(s, 2))
    );
    let s = "error({err='MY x'})";
    assert_eq!(eval(&mut t, s), alloc::format!("-MY x{}\r\n", suffix(s, 1)));
    let s = "error()";
    assert_eq!(
        eval(&mut t, s),
        alloc::format!("-ERR nil{}\r\n", suffix(s, 1))
    );
    t.run("SET s abc");
    let s = "return redis.call('incr','s')";
    assert_eq!(
        eval(&mut t, s),
        alloc::format!(
            "-ERR value is not an integer or out of range{}\r\n",
            suffix(s, 1)
        )
    );
    assert_eq!(
        eval(&mut t, "return redis.pcall('incr','s')"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            "local ok, e = pcall(redis.call, 'incr', 's') return e"
        ),
        "$43\r\nERR value is not an integer or out of range\r\n"
    );
    let s = "return g + 1";
    assert_eq!(
        eval(&mut t, s),
        alloc::format!(
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'g'{}\r\n",
            suffix(s, 1)
        )
    );
    let s = "x = 1";
    assert_eq!(
        eval(&mut t, s),
        alloc::format!(
            "-ERR user_script:1: Attempt to modify a readonly table{}\r\n",
            suffix(s, 1)
        )
    );
    let s = "rawset(_G, 'x', 1)";
    assert_eq!(
        eval(&mut t, s),
        alloc::format!(
            "-ERR Attempt to modify a readonly table{}\r\n",
            suffix(s, 1)
        )
    );
    assert_eq!(
        eval(&mut t, "return +"),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'\r\n"
    );
}

#[test]
fn commands_a_script_may_not_run() {
    let mut t = T::new();
    let cases = [
        (
            "redis.call('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "redis.call('object', 'nosuch', 'k')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "redis.call('get')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "redis.call('multi')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "redis.call('blpop', 'l', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "redis.call()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "redis.call('set', 'k', true)",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "redis.call('xread', 'BLOCK', 0, 'STREAMS', 's', '$')",
            "ERR xread command is not allowed with BLOCK option from scripts",
        ),
    ];
    for (s, text) in cases {
        assert_eq!(
            eval(&mut t, s),
            alloc::format!("-{text}{}\r\n", suffix(s, 1)),
            "{s}"
        );
    }
    let mut argv: Vec<&[u8]> = vec![b"EVAL_RO", b"return redis.call('set','k','v')", b"0"];
    assert_eq!(
        t.argv(&argv),
        err(&alloc::format!(
            "ERR Write commands are not allowed from read-only scripts.{}",
            suffix("return redis.call('set','k','v')", 1)
        ))
    );
    argv[1] = b"#!lua\nreturn 1";
    assert_eq!(
        t.argv(&argv),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    argv[1] = b"#!lua flags=no-writes\nreturn 1";
    assert_eq!(t.argv(&argv), int(1));
}

#[test]
fn the_script_cache() {
    let mut t = T::new();
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    assert_eq!(
        t.run(&alloc::format!("EVALSHA {sha} 0")),
        err(super::NOSCRIPT)
    );
    assert_eq!(t.argv(&[b"SCRIPT", b"LOAD", b"return 1"]), bulk(sha));
    assert_eq!(
        t.run(&alloc::format!("EVALSHA {} 0", sha.to_uppercase())),
        int(1)
    );
    assert_eq!(
        t.run(&alloc::format!("SCRIPT EXISTS {sha} nope")),
        Reply::array(vec![int(1), int(0)])
    );
    assert_eq!(t.run("EVALSHA fff 0"), err(super::NOSCRIPT));
    assert_eq!(
        t.run("EVAL x -1"),
        err("ERR Number of keys can't be negative")
    );
    assert_eq!(
        t.run("EVAL x 2 a"),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        t.run("EVAL x +1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("SCRIPT FLUSH bad"),
        err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    );
    assert_eq!(t.run("SCRIPT FLUSH ASYNC"), ok());
    assert_eq!(
        t.run(&alloc::format!("SCRIPT EXISTS {sha}")),
        Reply::array(vec![int(0)])
    );
    assert_eq!(
        t.run("SCRIPT KILL"),
        err("NOTBUSY No scripts in execution right now.")
    );
    assert_eq!(
        t.argv(&[b"EVAL", b"#!python\nreturn 1", b"0"]),
        err("ERR Unexpected engine in script shebang: #!python")
    );
    assert_eq!(
        t.argv(&[b"EVAL", b"#!lua", b"0"]),
        err("ERR Invalid script shebang")
    );
    assert_eq!(
        t.argv(&[b"EVAL", b"#!lua flags=bogus\nreturn 1", b"0"]),
        err("ERR Unexpected flag in script shebang: bogus")
    );
}

#[test]
fn a_script_inside_multi_runs_at_exec_and_keeps_its_writes_on_error() {
    let mut t = T::new();
    t.run("MULTI");
    assert_eq!(
        t.argv(&[b"EVAL", b"redis.call('set','w','1') error('boom')", b"0"]),
        simple("QUEUED")
    );
    let Reply::Array(Some(replies)) = t.run("EXEC") else {
        panic!("EXEC's array")
    };
    assert!(matches!(&replies[0], Reply::Error(e) if e.starts_with("ERR user_script:1: boom")));
    assert_eq!(t.run("GET w"), bulk("1"));
}

#[test]
fn math_random_is_redis_s_generator() {
    let mut t = T::new();
    // A fresh server's first values, and those after randomseed(42), from
    // Redis 7.0.15.
    assert_eq!(
        eval(
            &mut t,
            "local t = {} for i = 1, 5 do t[i] = math.random(100) end return t"
        ),
        "*5\r\n:40\r\n:85\r\n:36\r\n:45\r\n:32\r\n"
    );
    assert_eq!(
        eval(&mut t, "math.randomseed(42) return tostring(math.random())"),
        "$16\r\n0.74452500033403\r\n"
    );
}

#[test]
fn a_script_past_busy_reply_threshold_is_stopped() {
    use core::sync::atomic::{AtomicU64, Ordering};
    // A clock that moves a millisecond each time it is read.
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    fn tick() -> u64 {
        CLOCK.fetch_add(1, Ordering::Relaxed)
    }
    let mut t = T::new();
    t.store.set_script_clock(tick, 1);
    assert_eq!(t.run("CONFIG SET lua-time-limit 20"), ok());
    let s = "redis.call('set', 'w', '1') while true do end";
    let r = eval(&mut t, s);
    assert!(
        r.starts_with("-ERR Script stopped: it ran past busy-reply-threshold"),
        "without a watch: {r}"
    );
    // pcall cannot keep it going.
    let r = eval(
        &mut t,
        "while true do pcall(function() while true do end end) end",
    );
    assert!(r.starts_with("-ERR Script stopped"), "{r}");
    // What it wrote before stays, as after any error.
    assert_eq!(t.run("GET w"), bulk("1"));
    assert_eq!(eval(&mut t, "return 1"), ":1\r\n");
}

/// What a test's watch was told.
#[derive(Clone, Default)]
struct Seen(std::sync::Arc<std::sync::Mutex<Vec<crate::Overtime>>>);

impl Seen {
    fn borrow(&self) -> std::sync::MutexGuard<'_, Vec<crate::Overtime>> {
        self.0.lock().unwrap()
    }

    fn borrow_mut(&self) -> std::sync::MutexGuard<'_, Vec<crate::Overtime>> {
        self.0.lock().unwrap()
    }
}

/// A watch that records what it was told and answers as `verdict` says
/// (`Kill` from the `kill_after`th call on).
fn watched(t: &mut T, kill_after: usize) -> Seen {
    use core::sync::atomic::{AtomicU64, Ordering};
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    fn tick() -> u64 {
        CLOCK.fetch_add(1, Ordering::Relaxed)
    }
    let seen = Seen::default();
    let log = seen.clone();
    t.store.set_script_clock(tick, 1);
    t.store
        .set_script_watch(crate::Watch(alloc::boxed::Box::new(
            move |o: &crate::Overtime| {
                let mut log = log.0.lock().unwrap();
                log.push(*o);
                if log.len() >= kill_after {
                    crate::Verdict::Kill
                } else {
                    crate::Verdict::Run
                }
            },
        )));
    assert_eq!(t.run("CONFIG SET busy-reply-threshold 20"), ok());
    seen
}

#[test]
fn a_watched_script_runs_on_past_the_threshold_until_killed() {
    let mut t = T::new();
    let seen = watched(&mut t, 50);
    let r = eval(&mut t, "local n = 0 while true do n = n + 1 end");
    assert!(
        r.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{r}"
    );
    assert!(r.ends_with(", on @user_script:1.\r\n"), "{r}");
    {
        let seen = seen.borrow();
        assert_eq!(seen.len(), 50, "asked between steps until it said kill");
        assert!(seen.iter().all(|o| !o.function && !o.wrote));
        assert!(
            seen[0].elapsed_ms >= 20,
            "only past the threshold: {:?}",
            seen[0]
        );
        assert!(seen.windows(2).all(|w| w[0].elapsed_ms <= w[1].elapsed_ms));
    }
    // pcall cannot catch a kill.
    let r = eval(
        &mut t,
        "while true do pcall(function() while true do end end) end",
    );
    assert!(r.starts_with("-ERR Script killed by user"), "{r}");
}

#[test]
fn a_script_that_wrote_is_not_killed() {
    let mut t = T::new();
    let seen = watched(&mut t, 1);
    // A write command that changes nothing still counts, as in Redis;
    // one refused before it ran does not.
    let s = "redis.pcall('set', 'k') local n = 0 while n < 200000 do n = n + 1 end return n";
    assert!(
        eval(&mut t, s).starts_with("-ERR Script killed"),
        "refused write"
    );
    seen.borrow_mut().clear();
    let s = "redis.call('del', 'none') local n = 0 while n < 200000 do n = n + 1 end return n";
    assert_eq!(
        eval(&mut t, s),
        ":200000\r\n",
        "asked to kill, it ran to its end"
    );
    assert!(
        seen.borrow().iter().all(|o| o.wrote),
        "{:?}",
        seen.borrow().first()
    );
    // A read leaves it killable.
    let s = "redis.call('get', 'none') while true do end";
    assert!(eval(&mut t, s).starts_with("-ERR Script killed"));
}

#[test]
fn a_function_past_the_threshold_says_so_and_a_loading_library_stops() {
    let mut t = T::new();
    let seen = watched(&mut t, 3);
    let lib = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)";
    assert_eq!(
        t.argv(&[b"FUNCTION", b"LOAD", lib.as_bytes()]),
        bulk("spin")
    );
    assert_eq!(
        t.run("FCALL spin 0"),
        err("ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.")
    );
    assert!(seen.borrow().iter().all(|o| o.function));
    seen.borrow_mut().clear();
    let lib = "#!lua name=slow\nwhile true do end";
    let r = t.argv(&[b"FUNCTION", b"LOAD", lib.as_bytes()]);
    assert!(
        matches!(&r, Reply::Error(e) if e.contains("Script stopped")),
        "{r:?}"
    );
    assert!(
        seen.borrow().is_empty(),
        "the watch is not asked about a loading library"
    );
}

#[test]
fn a_script_cannot_fill_the_memory() {
    use core::sync::atomic::{AtomicU64, Ordering};
    static USED: AtomicU64 = AtomicU64::new(0);
    fn used() -> u64 {
        USED.load(Ordering::Relaxed)
    }
    let mut t = T::new();
    t.store.set_memory(used, 1 << 20);
    let r = eval(&mut t, "return string.rep('x', 4 * 1024 * 1024)");
    assert!(r.contains("not enough memory"), "{r}");
    assert_eq!(
        eval(&mut t, "return (pcall(string.rep, 'x', 4 * 1024 * 1024))"),
        "$-1\r\n",
        "a refused allocation is an error pcall catches"
    );
    // Past the ceiling (the gauge says so), the script stops between
    // steps, and pcall does not catch that.
    USED.store(2 << 20, Ordering::Relaxed);
    let r = eval(
        &mut t,
        "local t = {} while true do pcall(function() t[#t + 1] = 1 end) end",
    );
    assert!(r.starts_with("-ERR not enough memory"), "{r}");
    USED.store(0, Ordering::Relaxed);
    assert_eq!(eval(&mut t, "return 2"), ":2\r\n");
}

const LIBRARY: &str = "#!lua name=lib1
local function helper(x) return x * 2 end
redis.register_function('dbl', function(keys, args) return helper(tonumber(args[1])) end)
redis.register_function('boom', function(keys, args)
  error('bad')
end)
redis.register_function('wr', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='rd', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}";

#[test]
fn functions_load_and_run() {
    let mut t = T::new();
    assert_eq!(
        t.argv(&[b"FUNCTION", b"LOAD", LIBRARY.as_bytes()]),
        bulk("lib1")
    );
    assert_eq!(
        t.argv(&[b"FUNCTION", b"LOAD", LIBRARY.as_bytes()]),
        err("ERR Library 'lib1' already exists")
    );
    assert_eq!(t.run("FCALL dbl 0 21"), int(42));
    assert_eq!(
        t.run("FCALL boom 0"),
        err("ERR user_function:5: bad script: boom, on @user_function:5.")
    );
    assert_eq!(t.run("FCALL wr 1 fk v"), ok());
    assert_eq!(
        t.run("FCALL_RO wr 1 fk v"),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(t.run("FCALL_RO rd 1 fk"), bulk("v"));
    assert_eq!(t.run("FCALL nosuch 0"), err("ERR Function not found"));
    assert_eq!(t.run("FCALL dbl x"), err("ERR Bad number of keys provided"));
    // SCRIPT FLUSH leaves functions; the libraries outlive a FLUSHALL.
    t.run("SCRIPT FLUSH");
    t.run("FLUSHALL");
    assert_eq!(t.run("FCALL dbl 0 2"), int(4));
    // DUMP, then RESTORE after a FLUSH.
    let Reply::Bulk(Some(payload)) = t.run("FUNCTION DUMP") else {
        panic!("a payload")
    };
    assert_eq!(t.run("FUNCTION FLUSH"), ok());
    assert_eq!(t.run("FCALL dbl 0 2"), err("ERR Function not found"));
    assert_eq!(t.argv(&[b"FUNCTION", b"RESTORE", &payload]), ok());
    assert_eq!(
        t.argv(&[b"FUNCTION", b"RESTORE", &payload]),
        err("ERR Library 'lib1' already exists"),
        "APPEND refuses a name taken"
    );
    assert_eq!(
        t.argv(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"]),
        ok()
    );
    assert_eq!(
        t.argv(&[b"FUNCTION", b"RESTORE", b"junk"]),
        err("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(t.run("FCALL dbl 0 3"), int(6));
    assert_eq!(t.run("FUNCTION DELETE lib1"), ok());
    assert_eq!(t.run("FUNCTION DELETE lib1"), err("ERR Library not found"));
}

#[test]
fn a_library_loads_in_redis_s_narrow_environment() {
    let mut t = T::new();
    let load = |t: &mut T, code: &str| t.argv(&[b"FUNCTION", b"LOAD", code.as_bytes()]);
    assert_eq!(
        load(&mut t, "return 1"),
        err("ERR Missing library metadata")
    );
    assert_eq!(
        load(&mut t, "#!lua\nreturn 1"),
        err("ERR Library name was not given")
    );
    assert_eq!(
        load(&mut t, "#!python name=x\n"),
        err("ERR Engine 'python' not found")
    );
    assert_eq!(
        load(&mut t, "#!lua name=x foo=bar\n"),
        err("ERR Invalid metadata value given: foo=bar")
    );
    assert_eq!(
        load(&mut t, "#!lua name=z\nredis.call('set','a','b')"),
        err(
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"
        )
    );
    assert_eq!(
        load(&mut t, "#!lua name=z\nx = 1"),
        err(
            "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"
        )
    );
    assert_eq!(
        load(&mut t, "#!lua name=z\nredis.register_function('g', 5)"),
        err(
            "ERR Error registering functions: ERR second argument to redis.register_function must be a function"
        )
    );
    assert_eq!(
        load(&mut t, "#!lua name=z\nlocal x = 1"),
        err("ERR No functions registered")
    );
    assert_eq!(
        load(&mut t, "#!lua name=z\nlocal x = "),
        err("ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'")
    );
    // At run time a function sees the whole sandbox, without
    // register_function.
    assert_eq!(
        load(
            &mut t,
            "#!lua name=z\nredis.register_function('f', function() return {type(string), type(redis.register_function)} end)"
        ),
        bulk("z")
    );
    assert_eq!(t.run("FCALL f 0"), arr(&["table", "nil"]));
}

#[test]
fn a_script_stops_while_there_is_room_for_its_next_doubling() {
    use core::sync::atomic::{AtomicU64, Ordering};
    // Memory in use grows 64 KiB each time it is read: the script's tables.
    static USED: AtomicU64 = AtomicU64::new(0);
    fn used() -> u64 {
        USED.fetch_add(64 << 10, Ordering::Relaxed)
    }
    let mut t = T::new();
    t.store.set_memory(used, 4 << 20);
    let start = USED.load(Ordering::Relaxed);
    let r = eval(
        &mut t,
        "local t = {} local i = 0 while true do i = i + 1 t[i] = i end",
    );
    assert!(r.starts_with("-ERR not enough memory"), "{r}");
    // Stopped once it held half of what was left, not at the ceiling.
    let held = USED.load(Ordering::Relaxed) - start;
    assert!(held < 3 << 20, "stopped after {held} bytes");
}
