//! Scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, run as Redis
//! 7.0 runs them, on Basalt's Lua 5.1 ([`lua`]).
//!
//! A script is compiled once and cached by the SHA1 of its body (EVAL
//! caches what it compiled, SCRIPT LOAD only compiles); it runs in one
//! interpreter state the store keeps, its globals sandboxed as Redis's are
//! ([`api`]). Its `redis.call`s run commands through the store's own
//! dispatch ([`Store::run`]) on a session of the script's own, so a
//! script is atomic: nothing else runs until it returns. What a script
//! returns or raises becomes a reply by Redis's rules ([`convert`]).
//!
//! A script's writes are logged by their effect, as a transaction's are
//! ([`crate::aof`]): replaying the script could differ (its random numbers
//! go on across scripts).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use lua::{Lua, Value};

use crate::cmd::object::{help, subcommand};
use crate::db::tri;
use crate::num;
use crate::reply::{NOT_INTEGER, Reply};
use crate::store::{Session, Store};

mod api;
mod convert;
pub(crate) mod functions;
pub mod watch;

/// `NOSCRIPT No matching script. Please use EVAL.`
pub(crate) const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The chunk name a script's body compiles under (`user_script:1: …`).
const CHUNK: &[u8] = b"user_script";

/// Which of the four EVAL commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Eval {
    /// EVAL: the script's body.
    Body,
    /// EVALSHA: the SHA1 of a cached script.
    Sha,
    /// EVAL_RO.
    BodyReadOnly,
    /// EVALSHA_RO.
    ShaReadOnly,
}

impl Eval {
    fn by_sha(self) -> bool {
        matches!(self, Eval::Sha | Eval::ShaReadOnly)
    }

    pub(crate) fn read_only(self) -> bool {
        matches!(self, Eval::BodyReadOnly | Eval::ShaReadOnly)
    }
}

/// What a script's shebang line (`#!lua flags=no-writes`) declares.
#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    /// It had a shebang: its flags, not its commands, decide what it may
    /// do.
    shebang: bool,
    no_writes: bool,
    allow_oom: bool,
}

/// A compiled script.
struct Script {
    function: Value,
    flags: Flags,
}

/// The interpreter and the scripts it compiled.
pub(crate) struct Scripts {
    /// `None` only while a script runs (its host holds the store).
    lua: Option<Box<Lua>>,
    cache: BTreeMap<[u8; 40], Script>,
    seed: u64,
    /// The machine stack a script's calls may use.
    stack: usize,
    /// FUNCTION's libraries, in a state of their own.
    pub(crate) functions: functions::Functions,
}

// SAFETY: the interpreter's values are `Rc`s, which are not `Send` because
// another `Rc` to the same allocation may stay on the sending thread. Every
// `Rc` of a state and its cache is reachable only from this `Scripts`: no
// Lua value leaves this module (results and errors are copied into
// `Reply`s, and a script's host borrows the store only while the script
// runs), so moving the `Scripts` moves every reference to those
// allocations together, and no two threads can reach one. That keeps the
// `Store` `Send`, as a host program sharing it behind a mutex needs.
unsafe impl Send for Scripts {}

impl core::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Scripts({} cached)", self.cache.len())
    }
}

impl Scripts {
    /// An empty cache and a fresh sandboxed state, hashing under `seed`.
    pub(crate) fn new(seed: u64) -> Scripts {
        Scripts {
            lua: Some(Box::new(api::sandbox(seed))),
            cache: BTreeMap::new(),
            seed,
            stack: 1 << 20,
            functions: functions::Functions::new(seed.rotate_left(13)),
        }
    }

    /// SCRIPT FLUSH: the cache and every value the scripts left go (the
    /// functions stay).
    fn flush(&mut self) {
        let mut lua = api::sandbox(self.seed);
        lua.set_stack_limit(self.stack);
        self.lua = Some(Box::new(lua));
        self.cache.clear();
    }

    /// How much machine stack a script's calls may use.
    pub(crate) fn set_stack_limit(&mut self, bytes: usize) {
        self.stack = bytes;
        if let Some(lua) = self.lua.as_mut() {
            lua.set_stack_limit(bytes);
        }
        self.functions.set_stack_limit(bytes);
    }

    /// Compiles `body` unless it is cached; its SHA1.
    fn load(&mut self, body: &[u8]) -> Result<[u8; 40], Reply> {
        let sha = sha1_hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, src) = shebang(body)?;
        let Some(lua) = self.lua.as_mut() else {
            return Err(Reply::error("ERR a script is running"));
        };
        let function = lua.load(src, CHUNK).map_err(|e| {
            let mut msg = String::from("ERR Error compiling script (new function): ");
            msg.push_str(&String::from_utf8_lossy(&e.text()));
            Reply::Error(msg)
        })?;
        self.cache.insert(sha, Script { function, flags });
        Ok(sha)
    }

    /// The values the cache holds (roots for the state's collection).
    fn roots(&self) -> Vec<Value> {
        self.cache.values().map(|s| s.function.clone()).collect()
    }
}

/// The SHA1 of `bytes` in lower-case hex.
pub(crate) fn sha1_hex(bytes: &[u8]) -> [u8; 40] {
    let digest = sha1_smol::Sha1::from(bytes).digest().bytes();
    let mut out = [0u8; 40];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = b"0123456789abcdef"[usize::from(b >> 4)];
        out[2 * i + 1] = b"0123456789abcdef"[usize::from(b & 15)];
    }
    out
}

/// Splits a `#!lua [flags=a,b]` first line off a body: its flags, and the
/// source to compile (from the line's newline, so lines keep their
/// numbers).
fn shebang(body: &[u8]) -> Result<(Flags, &[u8]), Reply> {
    if !body.starts_with(b"#!") {
        return Ok((Flags::default(), body));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(Reply::error("ERR Invalid script shebang"));
    };
    let line = &body[2..end];
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or_default();
    if engine != b"lua" {
        return Err(Reply::Error(format!(
            "ERR Unexpected engine in script shebang: #!{}",
            String::from_utf8_lossy(engine)
        )));
    }
    let mut flags = Flags {
        shebang: true,
        ..Flags::default()
    };
    for word in words {
        let Some(list) = word.strip_prefix(b"flags=") else {
            return Err(Reply::Error(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(word)
            )));
        };
        for flag in list.split(|&b| b == b',').filter(|f| !f.is_empty()) {
            match flag {
                b"no-writes" => flags.no_writes = true,
                b"allow-oom" => flags.allow_oom = true,
                // Meaningful to a replica or a cluster, which Basalt is not.
                b"allow-stale" | b"no-cluster" | b"allow-cross-slot-keys" => {}
                other => {
                    return Err(Reply::Error(format!(
                        "ERR Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(other)
                    )));
                }
            }
        }
    }
    Ok((flags, &body[end..]))
}

/// EVAL script numkeys [key ...] [arg ...], and EVALSHA, EVAL_RO,
/// EVALSHA_RO; `memory`: whether the store has room to grow.
pub(crate) fn eval(
    store: &mut Store,
    session: &Session,
    how: Eval,
    a: &[&[u8]],
    now: i64,
    memory: bool,
) -> Reply {
    // A sha that cannot be one is looked up before numkeys is read.
    if how.by_sha() && a[1].len() != 40 {
        return Reply::error(NOSCRIPT);
    }
    let (keys, argv) = tri!(keys_and_args(a, NOT_INTEGER));
    let sha = if how.by_sha() {
        let mut sha = [0u8; 40];
        sha.copy_from_slice(&a[1].to_ascii_lowercase());
        sha
    } else {
        tri!(store.scripts.load(a[1]))
    };
    let Some(script) = store.scripts.cache.get(&sha) else {
        return Reply::error(NOSCRIPT);
    };
    let flags = script.flags;
    if how.read_only() && flags.shebang && !flags.no_writes {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let function = script.function.clone();
    let Some(mut lua) = store.scripts.lua.take() else {
        return Reply::error("ERR a script is running");
    };
    for (name, items) in [("KEYS", keys), ("ARGV", argv)] {
        let t = strings(&mut lua, items);
        lua.set_global(name, t);
    }
    let limits = Limits {
        read_only: how.read_only() || flags.no_writes,
        out_of_memory: !memory && !flags.allow_oom,
        function: false,
    };
    let reply = run(
        store,
        &mut lua,
        &function,
        Vec::new(),
        session.db(),
        now,
        limits,
        &sha,
    );
    lua.set_global("KEYS", Value::Nil);
    lua.set_global("ARGV", Value::Nil);
    lua.collect(&store.scripts.roots());
    store.scripts.lua = Some(lua);
    reply
}

/// Splits what follows a script or function, `numkeys key... arg...`,
/// into its keys and its arguments, with Redis's checks of the count
/// (`bad`: the error for one that is no integer).
fn keys_and_args<'a, 'b>(a: &'b [&'a [u8]], bad: &str) -> Result<Split<'a, 'b>, Reply> {
    let Some(numkeys) = num::parse_i64(a[2]) else {
        return Err(Reply::error(bad));
    };
    if numkeys > (a.len() - 3) as i64 {
        return Err(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    Ok(a[3..].split_at(numkeys as usize))
}

/// A script's keys and its arguments.
type Split<'a, 'b> = (&'b [&'a [u8]], &'b [&'a [u8]]);

/// A list of strings, as a script's keys and arguments are given.
fn strings(lua: &mut Lua, items: &[&[u8]]) -> Value {
    let t = lua.new_table();
    for item in items {
        t.borrow_mut().push(Value::str(item));
    }
    Value::Table(t)
}

/// When a script passes `busy-reply-threshold`: `at`, in ticks of
/// `clock` (`per_ms` a millisecond), `threshold_ms` after it began.
#[derive(Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) clock: fn() -> u64,
    pub(crate) per_ms: u64,
    pub(crate) threshold_ms: u64,
    pub(crate) at: u64,
}

impl Deadline {
    /// Milliseconds since the script began, once past the deadline
    /// (`None` before it).
    fn passed(&self) -> Option<u64> {
        let now = (self.clock)();
        (now > self.at).then(|| self.threshold_ms + (now - self.at) / self.per_ms)
    }
}

/// What a script's commands are held to.
#[derive(Clone, Copy)]
pub(super) struct Limits {
    read_only: bool,
    /// Commands that may grow the data are refused.
    out_of_memory: bool,
    /// An FCALL's function, not an EVAL's script (which KILL ends it).
    function: bool,
}

/// Runs `function(args)` on `lua`, the store answering its `redis.*`
/// calls: its result as the reply, or what it raised, said of `name` (a
/// script's SHA1, a function's name).
#[allow(clippy::too_many_arguments)]
fn run(
    store: &mut Store,
    lua: &mut Lua,
    function: &Value,
    args: Vec<Value>,
    db: usize,
    now: i64,
    limits: Limits,
    name: &[u8],
) -> Reply {
    let mut host = api::Host::new(store, db, now, limits);
    let result = lua.call(&mut host, function, args);
    let resp3 = host.resp3();
    match result {
        Ok(values) => convert::to_reply(values.first().unwrap_or(&Value::Nil), resp3),
        Err(e) => convert::raised(&e, name),
    }
}

/// SCRIPT LOAD|EXISTS|FLUSH|KILL|DEBUG|HELP.
pub(crate) fn script(store: &mut Store, a: &[&[u8]]) -> Reply {
    let sub = tri!(subcommand("script", a));
    match sub.name {
        "script|load" => match store.scripts.load(a[2]) {
            Ok(sha) => Reply::bulk(&sha),
            Err(e) => e,
        },
        "script|exists" => Reply::array(
            a[2..]
                .iter()
                .map(|sha| {
                    let known = sha.len() == 40 && {
                        let mut key = [0u8; 40];
                        key.copy_from_slice(&sha.to_ascii_lowercase());
                        store.scripts.cache.contains_key(&key)
                    };
                    Reply::Integer(i64::from(known))
                })
                .collect(),
        ),
        "script|flush" => {
            let mode_ok = match a.len() {
                2 => true,
                3 => a[2].eq_ignore_ascii_case(b"sync") || a[2].eq_ignore_ascii_case(b"async"),
                _ => false,
            };
            if !mode_ok {
                return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            store.scripts.flush();
            Reply::ok()
        }
        // A script runs to its end before the store answers anything else,
        // so none is ever running when SCRIPT KILL arrives.
        "script|kill" => Reply::error("NOTBUSY No scripts in execution right now."),
        "script|debug" => {
            if a[2].eq_ignore_ascii_case(b"no") {
                Reply::ok()
            } else if a[2].eq_ignore_ascii_case(b"yes") || a[2].eq_ignore_ascii_case(b"sync") {
                Reply::error(
                    "ERR Basalt has no Lua debugger: use redis.log or return values instead",
                )
            } else {
                Reply::error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
            }
        }
        _ => help(
            "SCRIPT",
            &[
                "DEBUG (YES|SYNC|NO)",
                "    Only NO, which Basalt is always in: it has no Lua debugger.",
                "EXISTS <sha1> [<sha1> ...]",
                "    For each SHA1, whether the script cache holds its script (1) or not (0).",
                "FLUSH [ASYNC|SYNC]",
                "    Empty the script cache, and the values scripts left behind.",
                "KILL",
                "    Stop the script running now (there never is one between commands).",
                "LOAD <script>",
                "    Compile a script into the cache, without running it; its SHA1.",
            ],
        ),
    }
}

#[cfg(test)]
mod tests;
