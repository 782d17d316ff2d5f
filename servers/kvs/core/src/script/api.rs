//! What a script sees: Redis 7.0's sandbox (the globals it keeps, all
//! read-only, a read of an undeclared global an error) and the `redis`
//! table, whose functions the [`Host`] answers with the store.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use lua::{Error, Exec, Lua, NativeResult, Value};

use super::convert;
use super::watch::{Overtime, Verdict};
use crate::cmd;
use crate::command::Flag;
use crate::memory::OOM;
use crate::reply::Reply;
use crate::store::{Session, Store};

/// The globals Redis 7.0 leaves a script (besides `redis`, `KEYS`,
/// `ARGV`); those the interpreter lacks (`coroutine`) are simply absent.
const KEPT: [&str; 31] = [
    "_G",
    "_VERSION",
    "assert",
    "bit",
    "cjson",
    "cmsgpack",
    "collectgarbage",
    "coroutine",
    "error",
    "gcinfo",
    "getmetatable",
    "ipairs",
    "load",
    "loadstring",
    "math",
    "next",
    "pairs",
    "pcall",
    "rawequal",
    "rawget",
    "rawset",
    "select",
    "setmetatable",
    "string",
    "struct",
    "table",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "xpcall",
];

/// The `redis` table's functions, by the id the host knows them by.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Api {
    Call,
    Pcall,
    Sha1hex,
    ErrorReply,
    StatusReply,
    Log,
    Setresp,
    SetRepl,
    ReplicateCommands,
    Breakpoint,
    Debug,
    AclCheckCmd,
    /// Only while a function library loads.
    RegisterFunction,
}

/// The `redis` functions, by id: a script's are all but the last, which
/// only a library's loading sees.
const API: [(&str, Api); 13] = [
    ("call", Api::Call),
    ("pcall", Api::Pcall),
    ("sha1hex", Api::Sha1hex),
    ("error_reply", Api::ErrorReply),
    ("status_reply", Api::StatusReply),
    ("log", Api::Log),
    ("setresp", Api::Setresp),
    ("set_repl", Api::SetRepl),
    ("replicate_commands", Api::ReplicateCommands),
    ("breakpoint", Api::Breakpoint),
    ("debug", Api::Debug),
    ("acl_check_cmd", Api::AclCheckCmd),
    ("register_function", Api::RegisterFunction),
];

/// The `redis` constants: the log levels, the replication flags and the
/// version.
fn constants() -> [(&'static str, Value); 11] {
    [
        ("LOG_DEBUG", Value::Num(0.0)),
        ("LOG_VERBOSE", Value::Num(1.0)),
        ("LOG_NOTICE", Value::Num(2.0)),
        ("LOG_WARNING", Value::Num(3.0)),
        ("REPL_NONE", Value::Num(0.0)),
        ("REPL_AOF", Value::Num(1.0)),
        ("REPL_SLAVE", Value::Num(2.0)),
        ("REPL_REPLICA", Value::Num(2.0)),
        ("REPL_ALL", Value::Num(3.0)),
        ("REDIS_VERSION", Value::str(b"7.0.15")),
        ("REDIS_VERSION_NUM", Value::Num(f64::from(0x07_00_0f))),
    ]
}

/// The environment a function library loads in, as Redis 7.0's: a `redis`
/// table with `register_function`, `log` and the constants but for the
/// replication flags, and nothing else; reading anything else, in either,
/// is an error.
pub(super) fn loading_environment(lua: &mut Lua) -> lua::TableRef {
    let redis = lua.new_table();
    for name in ["register_function", "log"] {
        let id = API.iter().position(|(n, _)| *n == name).unwrap_or_default();
        let f = lua.host_function(API[id].0, id as u32);
        let _ = redis.borrow_mut().set(Value::str(name.as_bytes()), f);
    }
    for (name, value) in constants() {
        if !name.starts_with("REPL_") {
            let _ = redis.borrow_mut().set(Value::str(name.as_bytes()), value);
        }
    }
    let globals = lua.new_table();
    let _ = globals
        .borrow_mut()
        .set(Value::str(b"redis"), Value::Table(redis.clone()));
    for t in [&globals, &redis] {
        let meta = lua.new_table();
        let index = lua.native("__index", undeclared_global);
        let _ = meta.borrow_mut().set(Value::str(b"__index"), index);
        t.borrow_mut().meta = Some(meta);
    }
    protect(&Value::Table(globals.clone()), &mut Vec::new());
    globals
}

/// A state sandboxed as Redis 7.0's: only the kept globals, the `redis`
/// table, Redis's `pcall`, and every table the globals reach read-only;
/// reading a global that does not exist is an error.
pub(super) fn sandbox(seed: u64) -> Lua {
    let mut lua = Lua::new(seed);
    let globals = lua.globals();
    let all: Vec<Value> = {
        let g = globals.borrow();
        g.entries().map(|(k, _)| k).collect()
    };
    for key in all {
        let keep = match &key {
            Value::Str(name) => KEPT.iter().any(|k| k.as_bytes() == &name[..]),
            _ => false,
        };
        if !keep {
            let _ = globals.borrow_mut().set(key, Value::Nil);
        }
    }
    let pcall = lua.native("pcall", pcall);
    lua.set_global("pcall", pcall);
    let redis = lua.new_table();
    for (i, (name, api)) in API.iter().enumerate() {
        if *api == Api::RegisterFunction {
            continue;
        }
        let f = lua.host_function(name, i as u32);
        let _ = redis.borrow_mut().set(Value::str(name.as_bytes()), f);
    }
    for (name, value) in constants() {
        let _ = redis.borrow_mut().set(Value::str(name.as_bytes()), value);
    }
    lua.set_global("redis", Value::Table(redis));
    let handler = lua.native("__redis__err__handler", error_handler);
    lua.set_global("__redis__err__handler", handler);
    let meta = lua.new_table();
    let index = lua.native("__index", undeclared_global);
    let _ = meta.borrow_mut().set(Value::str(b"__index"), index);
    globals.borrow_mut().meta = Some(meta);
    protect(&Value::Table(globals), &mut Vec::new());
    lua
}

/// Makes `v` read-only if it is a table, and every table it reaches.
fn protect(v: &Value, seen: &mut Vec<usize>) {
    let Value::Table(t) = v else {
        return;
    };
    if seen.contains(&v.address()) {
        return;
    }
    seen.push(v.address());
    let (entries, meta) = {
        let t = t.borrow();
        (t.entries().collect::<Vec<_>>(), t.meta.clone())
    };
    for (k, v) in entries {
        protect(&k, seen);
        protect(&v, seen);
    }
    if let Some(m) = meta {
        protect(&Value::Table(m), seen);
    }
    t.borrow_mut().set_readonly(true);
}

/// `_G`'s `__index`: a global that does not exist.
fn undeclared_global(exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    let name = args.get(1).and_then(Value::to_bytes).unwrap_or_default();
    Err(exec.caller_error(&format!(
        "Script attempted to access nonexistent global variable '{}'",
        String::from_utf8_lossy(&name)
    )))
}

/// Redis's error handler as a global: it gives back what it is given.
fn error_handler(_exec: &mut Exec<'_>, args: Vec<Value>) -> NativeResult {
    Ok(args.into_iter().take(1).collect())
}

/// Redis's `pcall`: Lua's, but an error that is a table with an `err`
/// string (what `redis.call` raises) is caught as that string.
fn pcall(exec: &mut Exec<'_>, mut args: Vec<Value>) -> NativeResult {
    if args.is_empty() {
        return Err(exec.caller_error("bad argument #1 to 'pcall' (value expected)"));
    }
    let f = args.remove(0);
    match exec.call(&f, args) {
        Ok(mut results) => {
            results.insert(0, Value::Bool(true));
            Ok(results)
        }
        Err(e) if e.fatal => Err(e),
        Err(e) => {
            let caught = match &e.value {
                Value::Table(t) => match t.borrow().get(&Value::str(b"err")) {
                    s @ Value::Str(_) => s,
                    _ => e.value.clone(),
                },
                _ => e.value,
            };
            Ok(vec![Value::Bool(false), caught])
        }
    }
}

/// `{err = text}`, raised: how the `redis` functions fail.
fn raise(lua: &mut Lua, text: &str) -> Error {
    Error::new(convert::error_table(lua, text.as_bytes()))
}

/// What a script gets for a command the RESP front end answers (PUBLISH,
/// say): the store, where scripts run, cannot reach the front end.
const FRONT_END_ONLY: &str =
    "ERR This command is answered by Basalt's RESP front end, which scripts cannot reach";

/// The store as a script's `redis.call` reaches it.
pub(super) struct Host<'a> {
    store: &'a mut Store,
    /// The script's own session: the caller's database at first, and
    /// whatever SELECT the script makes (the caller's stays).
    session: Session,
    now: i64,
    read_only: bool,
    /// Commands that may grow the data are refused (the store had no room
    /// when the script began, and the script did not say `allow-oom`).
    out_of_memory: bool,
    /// `redis.setresp(3)`: replies reach the script, and its booleans
    /// leave it, as RESP3 types.
    resp3: bool,
    /// When the script passes `busy-reply-threshold`.
    deadline: Option<super::Deadline>,
    /// An FCALL's function, not an EVAL's script.
    function: bool,
    /// It ran a write command (it can no longer be killed).
    wrote: bool,
    /// While a function library loads: the functions it registered.
    registering: Option<Vec<super::functions::Registered>>,
    /// The memory in use when the script began (with a gauge).
    start_used: Option<u64>,
}

impl<'a> Host<'a> {
    pub(super) fn new(
        store: &'a mut Store,
        db: usize,
        now: i64,
        limits: super::Limits,
    ) -> Host<'a> {
        let mut session = Session::new();
        session.set_db(db);
        let deadline = store.script_deadline();
        let start_used = store.room().used();
        Host {
            deadline,
            registering: None,
            start_used,
            store,
            session,
            now,
            read_only: limits.read_only,
            out_of_memory: limits.out_of_memory,
            function: limits.function,
            wrote: false,
            resp3: false,
        }
    }

    pub(super) fn resp3(&self) -> bool {
        self.resp3
    }

    /// Lets `redis.register_function` register, for a library's loading.
    pub(super) fn start_registering(&mut self) {
        self.registering = Some(Vec::new());
    }

    /// What the library registered.
    pub(super) fn registered(&mut self) -> Vec<super::functions::Registered> {
        self.registering.take().unwrap_or_default()
    }

    /// `redis.call` and `redis.pcall`: the command's reply as a Lua
    /// value, or the error reply (an `{err = …}` table) raised by `call`
    /// and returned by `pcall`.
    fn command(&mut self, lua: &mut Lua, args: Vec<Value>, raises: bool) -> NativeResult {
        let reply = match self.checked_run(&args) {
            Ok(reply) => reply,
            Err(text) => Reply::Error(String::from(text)),
        };
        if let Reply::Error(text) = &reply {
            let t = convert::error_table(lua, text.as_bytes());
            if raises {
                return Err(Error::new(t));
            }
            if let Value::Table(t) = &t {
                let _ = t
                    .borrow_mut()
                    .set(Value::str(b"ignore_error_stats_update"), Value::Bool(true));
            }
            return Ok(vec![t]);
        }
        Ok(vec![convert::to_lua(lua, reply, self.resp3)])
    }

    /// Runs a command from a script after Redis's checks, in its order.
    fn checked_run(&mut self, args: &[Value]) -> Result<Reply, &'static str> {
        if args.is_empty() {
            return Err("ERR Please specify at least one argument for this redis lib call");
        }
        let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
        for v in args {
            match v {
                Value::Str(s) => argv.push(s.to_vec()),
                Value::Num(n) => argv.push(lua::format_g(*n, 17)),
                _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
            }
        }
        let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        // The whole table, the front end's commands included: Redis's
        // checks come first.
        let Some(row) = crate::command::row(argv[0]).filter(|_| !argv[0].contains(&b'|')) else {
            return Err("ERR Unknown Redis command called from script");
        };
        let spec = match row.subcommands {
            [] => row,
            _ if argv.len() < 2 => row,
            _ => match row.subcommand(argv[1]) {
                Some(sub) => sub,
                None => return Err("ERR Unknown Redis command called from script"),
            },
        };
        if !row.arity_ok(argv.len()) || !spec.arity_ok(argv.len()) {
            return Err("ERR Wrong number of args calling Redis command from script");
        }
        if spec.has(Flag::Noscript) || row.has(Flag::Noscript) {
            return Err("ERR This Redis command is not allowed from script");
        }
        if row.name == "xread" && argv.iter().any(|a| a.eq_ignore_ascii_case(b"block")) {
            return Err("ERR xread command is not allowed with BLOCK option from scripts");
        }
        let writes = [Flag::Write, Flag::MayReplicate]
            .iter()
            .any(|&f| spec.has(f) || row.has(f));
        if self.read_only && writes {
            return Err("ERR Write commands are not allowed from read-only scripts.");
        }
        let Some(command) = cmd::lookup(argv[0]) else {
            return Err(FRONT_END_ONLY);
        };
        if self.out_of_memory && command.denyoom() {
            return Err(OOM);
        }
        // Redis's rule: a write command that ran, changing anything or
        // not, makes the script unkillable.
        self.wrote |= spec.has(Flag::Write) || row.has(Flag::Write);
        Ok(self
            .store
            .run_from_script(&mut self.session, command, &argv, self.now))
    }
}

/// Why a script past `busy-reply-threshold` stopped when nobody could be
/// told that the store is busy (and so nobody could kill it).
const STOPPED: &str = "Script stopped: it ran past busy-reply-threshold, and its caller cannot be told that the store is busy";

/// Redis's words for a script SCRIPT KILL or FUNCTION KILL ended.
const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// An error `pcall` cannot catch: a script that ran too long, or filled
/// the memory, ends.
fn stop(text: &str) -> Error {
    let mut e = Error::message(text.as_bytes());
    e.fatal = true;
    e
}

impl lua::Host for Host<'_> {
    /// Between steps: past `busy-reply-threshold` the store's watch says
    /// whether the script goes on, stops or is killed
    /// ([`super::watch`]); and the script stops when the memory in use
    /// has passed what the store may use.
    fn tick(&mut self, _lua: &mut Lua) -> Result<(), Error> {
        if let Some(elapsed_ms) = self.deadline.as_ref().and_then(super::Deadline::passed) {
            let over = Overtime {
                function: self.function,
                wrote: self.wrote,
                elapsed_ms,
            };
            // A library that is still loading past the threshold stops:
            // its FUNCTION LOAD is not a script anyone could kill.
            let verdict = match self.registering {
                Some(_) => Verdict::Stop,
                None => self.store.overtime(&over),
            };
            match verdict {
                Verdict::Run => {}
                // A script that wrote runs to its end, whatever is asked.
                Verdict::Kill if self.wrote => {}
                Verdict::Kill => return Err(stop(KILLED)),
                Verdict::Stop => return Err(stop(STOPPED)),
            }
        }
        // Room for as much again as the script holds now: a table's list
        // doubles at once when it grows, and an allocation that fails
        // would stop the whole store.
        let used = self.store.room().used();
        let growth = used
            .zip(self.start_used)
            .map_or(0, |(now, start)| now.saturating_sub(start));
        if !self
            .store
            .room_fits(usize::try_from(growth).unwrap_or(usize::MAX))
        {
            return Err(stop("not enough memory"));
        }
        Ok(())
    }

    /// Room for a string or table of `bytes` being built: four times it,
    /// for the buffer growing by doubling, the copy into the value, and
    /// the heap's free space coming in pieces (a failed allocation stops
    /// the whole store).
    fn room_for(&mut self, _lua: &Lua, bytes: usize) -> bool {
        self.store.room_fits(bytes.saturating_mul(4))
    }

    fn call(&mut self, lua: &mut Lua, id: u32, args: Vec<Value>) -> NativeResult {
        let Some(&(_, api)) = API.get(id as usize) else {
            return Ok(Vec::new());
        };
        match api {
            Api::Call => self.command(lua, args, true),
            Api::Pcall => self.command(lua, args, false),
            Api::Sha1hex => {
                if args.len() != 1 {
                    return Err(raise(lua, "ERR wrong number of arguments"));
                }
                let bytes = args[0].to_bytes().unwrap_or_default();
                Ok(vec![Value::str(&super::sha1_hex(&bytes))])
            }
            Api::ErrorReply | Api::StatusReply => {
                let text = match args.as_slice() {
                    [Value::Str(s)] => s.clone(),
                    _ => {
                        return Ok(vec![convert::error_table(
                            lua,
                            b"ERR wrong number or type of arguments",
                        )]);
                    }
                };
                if api == Api::StatusReply {
                    let t = lua.new_table();
                    let _ = t.borrow_mut().set(Value::str(b"ok"), Value::Str(text));
                    return Ok(vec![Value::Table(t)]);
                }
                Ok(vec![convert::error_table(lua, &error_reply_text(&text))])
            }
            Api::Log => {
                if args.len() < 2 {
                    return Err(raise(
                        lua,
                        "ERR redis.log() requires two arguments or more.",
                    ));
                }
                match args[0].to_num() {
                    Some(level) if (0.0..4.0).contains(&level) => Ok(Vec::new()),
                    Some(_) => Err(raise(lua, "ERR Invalid debug level.")),
                    None => Err(raise(
                        lua,
                        "ERR First argument must be a number (log level).",
                    )),
                }
            }
            Api::Setresp => {
                if args.len() != 1 {
                    return Err(raise(lua, "ERR redis.setresp() requires one argument."));
                }
                match args[0].to_num().map(|n| n as i64) {
                    Some(2) => self.resp3 = false,
                    Some(3) => self.resp3 = true,
                    _ => return Err(raise(lua, "ERR RESP version must be 2 or 3.")),
                }
                Ok(Vec::new())
            }
            Api::SetRepl => {
                if args.len() != 1 {
                    return Err(raise(lua, "ERR redis.set_repl() requires two arguments."));
                }
                let flags = args[0].to_num().map_or(0, |n| n as i64);
                if !(0..=3).contains(&flags) {
                    return Err(raise(
                        lua,
                        "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    ));
                }
                Ok(Vec::new())
            }
            Api::RegisterFunction => {
                let registered =
                    super::functions::register(args).map_err(|text| raise(lua, text))?;
                match self.registering.as_mut() {
                    Some(list) if list.iter().any(|r| r.name == registered.name) => {
                        Err(raise(lua, "ERR Function already exists in the library"))
                    }
                    Some(list) => {
                        list.push(registered);
                        Ok(Vec::new())
                    }
                    None => Err(raise(
                        lua,
                        "ERR redis.register_function can only be called on FUNCTION LOAD command",
                    )),
                }
            }
            Api::ReplicateCommands => Ok(vec![Value::Bool(true)]),
            Api::Breakpoint => Ok(vec![Value::Bool(false)]),
            Api::Debug => Ok(Vec::new()),
            Api::AclCheckCmd => {
                if args.is_empty() {
                    return Err(raise(
                        lua,
                        "ERR Please specify at least one argument for this redis lib call",
                    ));
                }
                let name = args[0].to_bytes().unwrap_or_default();
                if cmd::lookup(&name).is_none()
                    && crate::command::find(crate::command::COMMANDS, &name).is_none()
                {
                    return Err(raise(
                        lua,
                        "ERR Invalid command passed to redis.acl_check_cmd()",
                    ));
                }
                // No ACLs: every user may run every command.
                Ok(vec![Value::Bool(true)])
            }
        }
    }
}

/// What `redis.error_reply(s)` makes of its text: a leading `-` dropped,
/// `ERR ` put before a text with no code (no space), a trailing newline
/// trimmed.
fn error_reply_text(text: &[u8]) -> Vec<u8> {
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let text = text
        .strip_suffix(b"\r\n")
        .or_else(|| text.strip_suffix(b"\n"))
        .unwrap_or(text);
    if text.contains(&b' ') {
        return text.to_vec();
    }
    let mut out = b"ERR ".to_vec();
    out.extend_from_slice(text);
    out
}
