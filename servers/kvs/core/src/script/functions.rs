//! Functions: FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|STATS|KILL|HELP,
//! FCALL and FCALL_RO, as Redis 7.0 has them.
//!
//! A library is Lua code headed `#!lua name=<library>` that registers
//! functions with `redis.register_function`. It loads in an environment of
//! its own ([`api::loading_environment`]: `redis.register_function`, `log`
//! and the constants, nothing else), in an interpreter state apart from
//! EVAL's (SCRIPT FLUSH leaves functions alone, FUNCTION FLUSH scripts);
//! its functions then run as scripts do, given their keys and arguments as
//! two tables. Libraries are data: the log keeps them (every change is
//! logged as a `FUNCTION RESTORE` of all of them, see [`crate::aof`]), and
//! FLUSHALL leaves them, as Redis does.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use lua::{Lua, TableRef, Value};

use super::{api, convert};
use crate::cmd::object::{help, subcommand};
use crate::db::tri;
use crate::reply::Reply;
use crate::store::{Session, Store};

/// The chunk name a library compiles under (`user_function:2: …`).
const CHUNK: &[u8] = b"user_function";

/// The flags a function may carry, in Redis's order.
const FLAGS: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// A function as `redis.register_function` gave it.
#[derive(Clone)]
pub(crate) struct Registered {
    pub(crate) name: Vec<u8>,
    callback: Value,
    /// Which of [`FLAGS`] it has.
    flags: [bool; 5],
    description: Option<Vec<u8>>,
}

/// A loaded library.
#[derive(Clone)]
struct Library {
    name: Vec<u8>,
    code: Vec<u8>,
    functions: Vec<Registered>,
}

/// The functions' interpreter and libraries.
pub(crate) struct Functions {
    /// `None` only while a function runs or a library loads.
    lua: Option<Box<Lua>>,
    /// What a library loads in.
    loading: TableRef,
    /// In the order they were loaded.
    libraries: Vec<Library>,
    seed: u64,
}

impl Functions {
    pub(crate) fn new(seed: u64) -> Functions {
        let mut lua = api::sandbox(seed);
        let loading = api::loading_environment(&mut lua);
        Functions {
            lua: Some(Box::new(lua)),
            loading,
            libraries: Vec::new(),
            seed,
        }
    }

    pub(crate) fn set_stack_limit(&mut self, bytes: usize) {
        if let Some(lua) = self.lua.as_mut() {
            lua.set_stack_limit(bytes);
        }
    }

    /// The values the libraries hold (roots for the state's collection).
    fn roots(&self) -> Vec<Value> {
        let mut roots = vec![Value::Table(self.loading.clone())];
        for lib in &self.libraries {
            roots.extend(lib.functions.iter().map(|f| f.callback.clone()));
        }
        roots
    }

    /// Whether there are libraries.
    pub(crate) fn is_empty(&self) -> bool {
        self.libraries.is_empty()
    }

    /// `FUNCTION DUMP`'s payload of every library.
    pub(crate) fn dump(&self) -> Vec<u8> {
        crate::rdb::dump_functions(self.libraries.iter().map(|l| l.code.as_slice()))
    }

    fn find(&self, name: &[u8]) -> Option<&Registered> {
        self.libraries
            .iter()
            .flat_map(|l| l.functions.iter())
            .find(|f| f.name == name)
    }
}

/// Letters, digits and underscores, at least one: a library's or a
/// function's name.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// `redis.register_function(name, callback)` or `{function_name=…,
/// callback=…, flags={…}, description=…}`, checked as Redis checks them.
pub(crate) fn register(args: Vec<Value>) -> Result<Registered, &'static str> {
    let (name, callback, flags, description) = match args.as_slice() {
        [name, callback] => {
            if !matches!(callback, Value::Function(_)) {
                return Err("ERR second argument to redis.register_function must be a function");
            }
            (name.to_bytes(), callback.clone(), None, None)
        }
        [Value::Table(t)] => {
            let t = t.borrow();
            let mut name = None;
            let mut callback = None;
            let mut flags = None;
            let mut description = None;
            for (k, v) in t.entries() {
                match k.to_bytes().as_deref() {
                    Some(b"function_name") => name = v.to_bytes(),
                    Some(b"callback") => callback = Some(v),
                    Some(b"flags") => flags = Some(v),
                    Some(b"description") => description = v.to_bytes(),
                    _ => return Err("ERR unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return Err("ERR redis.register_function must get a function name argument");
            };
            let Some(callback) = callback.filter(|c| matches!(c, Value::Function(_))) else {
                return Err("ERR redis.register_function must get a callback argument");
            };
            (Some(name), callback, flags, description)
        }
        [_] => {
            return Err(
                "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
            );
        }
        _ => return Err("ERR wrong number of arguments to redis.register_function"),
    };
    let Some(name) = name.filter(|n| valid_name(n)) else {
        return Err(BAD_NAME);
    };
    let mut set = [false; 5];
    if let Some(flags) = flags {
        let Value::Table(flags) = flags else {
            return Err(
                "ERR flags argument to redis.register_function must be a table representing function flags",
            );
        };
        for (_, flag) in flags.borrow().entries() {
            let i = flag
                .to_bytes()
                .and_then(|f| FLAGS.iter().position(|n| n.as_bytes() == &f[..]))
                .ok_or("ERR unknown flag given")?;
            set[i] = true;
        }
    }
    Ok(Registered {
        name: name.to_vec(),
        callback,
        flags: set,
        description: description.map(|d| d.to_vec()),
    })
}

/// The library name and the code to compile (from the shebang line's
/// newline, so lines keep their numbers), as Redis reads `#!lua
/// name=<library>`.
fn metadata(code: &[u8]) -> Result<(Vec<u8>, &[u8]), Reply> {
    if !code.starts_with(b"#!") {
        return Err(Reply::error("ERR Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err(Reply::error("ERR Invalid library metadata"));
    };
    let mut words = code[2..end].split(|&b| b == b' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or_default();
    if engine != b"lua" {
        return Err(Reply::Error(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        )));
    }
    let mut name = None;
    for word in words {
        match word.strip_prefix(b"name=") {
            Some(n) => name = Some(n.to_vec()),
            None => {
                return Err(Reply::Error(format!(
                    "ERR Invalid metadata value given: {}",
                    String::from_utf8_lossy(word)
                )));
            }
        }
    }
    let name = name.ok_or_else(|| Reply::error("ERR Library name was not given"))?;
    if !valid_name(&name) {
        return Err(Reply::error(BAD_NAME));
    }
    Ok((name, &code[end..]))
}

/// Compiles and runs a library's code, collecting what it registers.
fn compile(store: &mut Store, code: &[u8], now: i64) -> Result<Library, Reply> {
    let (name, src) = metadata(code)?;
    let Some(mut lua) = store.scripts.functions.lua.take() else {
        return Err(Reply::error("ERR a function is running"));
    };
    let result = (|| {
        let chunk = lua.load(src, CHUNK).map_err(|e| {
            Reply::Error(format!(
                "ERR Error compiling function: {}",
                String::from_utf8_lossy(&e.text())
            ))
        })?;
        let loading = store.scripts.functions.loading.clone();
        let globals = lua.set_globals(loading);
        // A library's loading reaches no command.
        let limits = super::Limits {
            read_only: true,
            out_of_memory: false,
            function: true,
        };
        let mut host = api::Host::new(store, 0, now, limits);
        host.start_registering();
        let ran = lua.call(&mut host, &chunk, Vec::new());
        let registered = host.registered();
        lua.set_globals(globals);
        if let Err(e) = ran {
            return Err(Reply::Error(format!(
                "ERR Error registering functions: {}",
                convert::message(&e)
            )));
        }
        if registered.is_empty() {
            return Err(Reply::error("ERR No functions registered"));
        }
        Ok(Library {
            name,
            code: code.to_vec(),
            functions: registered,
        })
    })();
    store.scripts.functions.lua = Some(lua);
    result
}

/// Adds `lib`, replacing the library of its name if `replace`, unless a
/// name is taken.
fn install(f: &mut Functions, lib: Library, replace: bool) -> Result<(), Reply> {
    let existing = f.libraries.iter().position(|l| l.name == lib.name);
    if existing.is_some() && !replace {
        return Err(Reply::Error(format!(
            "ERR Library '{}' already exists",
            String::from_utf8_lossy(&lib.name)
        )));
    }
    for func in &lib.functions {
        let taken = f
            .libraries
            .iter()
            .filter(|l| l.name != lib.name)
            .any(|l| l.functions.iter().any(|g| g.name == func.name));
        if taken {
            return Err(Reply::Error(format!(
                "ERR Function {} already exists",
                String::from_utf8_lossy(&func.name)
            )));
        }
    }
    match existing {
        Some(i) => f.libraries[i] = lib,
        None => f.libraries.push(lib),
    }
    Ok(())
}

/// FUNCTION's subcommands.
pub(crate) fn function(store: &mut Store, a: &[&[u8]], now: i64) -> Reply {
    let sub = tri!(subcommand("function", a));
    match sub.name {
        "function|load" => {
            let (options, code) = a[2..].split_at(a.len() - 3);
            let mut replace = false;
            for option in options {
                if !option.eq_ignore_ascii_case(b"replace") {
                    return Reply::Error(format!(
                        "ERR Unknown option given: {}",
                        String::from_utf8_lossy(option)
                    ));
                }
                replace = true;
            }
            let lib = tri!(compile(store, code[0], now));
            let name = lib.name.clone();
            tri!(install(&mut store.scripts.functions, lib, replace));
            store.note_functions();
            Reply::bulk(&name)
        }
        "function|delete" => {
            let f = &mut store.scripts.functions;
            let Some(i) = f.libraries.iter().position(|l| l.name == a[2]) else {
                return Reply::error("ERR Library not found");
            };
            f.libraries.remove(i);
            // What the library held may be garbage now that nothing new is.
            let roots = f.roots();
            if let Some(lua) = f.lua.as_mut() {
                lua.collect_all(&roots);
            }
            store.note_functions();
            Reply::ok()
        }
        "function|flush" => {
            let mode_ok = match a.len() {
                2 => true,
                3 => a[2].eq_ignore_ascii_case(b"sync") || a[2].eq_ignore_ascii_case(b"async"),
                _ => false,
            };
            if !mode_ok {
                return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            flush(store);
            Reply::ok()
        }
        "function|list" => list(&store.scripts.functions, &a[2..]),
        "function|dump" => Reply::bulk(&store.scripts.functions.dump()),
        "function|restore" => restore(store, &a[2..], now),
        "function|stats" => {
            let f = &store.scripts.functions;
            let count = f.libraries.iter().map(|l| l.functions.len()).sum::<usize>();
            let lua = Reply::Map(vec![
                (
                    Reply::bulk(b"libraries_count"),
                    Reply::Integer(f.libraries.len() as i64),
                ),
                (
                    Reply::bulk(b"functions_count"),
                    Reply::Integer(count as i64),
                ),
            ]);
            Reply::Map(vec![
                (Reply::bulk(b"running_script"), Reply::nil()),
                (
                    Reply::bulk(b"engines"),
                    Reply::Map(vec![(Reply::bulk(b"LUA"), lua)]),
                ),
            ])
        }
        // A function runs to its end before the store answers anything
        // else (docs/scripting.md).
        "function|kill" => Reply::error("NOTBUSY No scripts in execution right now."),
        _ => help(
            "FUNCTION",
            &[
                "LOAD [REPLACE] <FUNCTION CODE>",
                "    Load a library: code headed `#!lua name=<library>` that registers",
                "    its functions with redis.register_function.",
                "DELETE <LIBRARY NAME>",
                "    Delete a library and its functions.",
                "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                "    The libraries (those whose name matches PATTERN): name, engine,",
                "    functions with their descriptions and flags, and the code if asked.",
                "STATS",
                "    The running function (never one between commands) and the libraries",
                "    and functions each engine holds.",
                "KILL",
                "    Stop the running function (there never is one between commands).",
                "FLUSH [ASYNC|SYNC]",
                "    Delete every library.",
                "DUMP",
                "    A payload of every library, for FUNCTION RESTORE.",
                "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                "    Load the libraries of a payload: after deleting all (FLUSH), beside",
                "    them refusing a name taken (APPEND, the default), or replacing the",
                "    libraries of the same names (REPLACE).",
            ],
        ),
    }
}

/// FUNCTION FLUSH: every library, and the state their functions lived in.
fn flush(store: &mut Store) {
    let stack = store.scripts.stack;
    store.scripts.functions = Functions::new(store.scripts.functions.seed);
    store.scripts.functions.set_stack_limit(stack);
    store.note_functions();
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
fn list(f: &Functions, options: &[&[u8]]) -> Reply {
    let mut code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 0;
    while i < options.len() {
        let o = options[i];
        if o.eq_ignore_ascii_case(b"withcode") {
            code = true;
        } else if o.eq_ignore_ascii_case(b"libraryname") {
            i += 1;
            let Some(p) = options.get(i) else {
                return Reply::error("ERR library name argument was not given");
            };
            pattern = Some(p);
        } else {
            return Reply::Error(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(o)
            ));
        }
        i += 1;
    }
    let libraries = f
        .libraries
        .iter()
        .filter(|l| pattern.is_none_or(|p| crate::glob::matches_nocase(p, &l.name)))
        .map(|l| {
            let functions = l
                .functions
                .iter()
                .map(|func| {
                    let flags = FLAGS
                        .iter()
                        .zip(func.flags)
                        .filter(|(_, on)| *on)
                        .map(|(name, _)| Reply::simple(name))
                        .collect();
                    Reply::Map(vec![
                        (Reply::bulk(b"name"), Reply::bulk(&func.name)),
                        (
                            Reply::bulk(b"description"),
                            func.description
                                .as_deref()
                                .map_or_else(Reply::nil, Reply::bulk),
                        ),
                        (Reply::bulk(b"flags"), Reply::Set(flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (Reply::bulk(b"library_name"), Reply::bulk(&l.name)),
                (Reply::bulk(b"engine"), Reply::bulk(b"LUA")),
                (Reply::bulk(b"functions"), Reply::array(functions)),
            ];
            if code {
                fields.push((Reply::bulk(b"library_code"), Reply::bulk(&l.code)));
            }
            Reply::Map(fields)
        })
        .collect();
    Reply::array(libraries)
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all the payload's
/// libraries load, or none.
fn restore(store: &mut Store, a: &[&[u8]], now: i64) -> Reply {
    let policy = match a.get(1) {
        None => b"append".as_slice(),
        Some(p) => p,
    };
    let (flush_first, replace) = if policy.eq_ignore_ascii_case(b"flush") {
        (true, true)
    } else if policy.eq_ignore_ascii_case(b"append") {
        (false, false)
    } else if policy.eq_ignore_ascii_case(b"replace") {
        (false, true)
    } else {
        return Reply::error(
            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
        );
    };
    if a.len() > 2 {
        return Reply::error("ERR syntax error");
    }
    let payload = a[0];
    if crate::rdb::verify(payload).is_err() {
        return Reply::error("ERR DUMP payload version or checksum are wrong");
    }
    let Ok(codes) = crate::rdb::load_functions(payload, store.room()) else {
        return Reply::error("ERR given payload is not a valid function dump payload");
    };
    // Loaded aside first: a failure leaves the libraries as they were.
    let mut libs = Vec::with_capacity(codes.len());
    for code in &codes {
        libs.push(tri!(compile(store, code, now)));
    }
    let f = &mut store.scripts.functions;
    let mut next = Functions {
        lua: None,
        loading: f.loading.clone(),
        libraries: if flush_first {
            Vec::new()
        } else {
            f.libraries.clone()
        },
        seed: f.seed,
    };
    for lib in libs {
        tri!(install(&mut next, lib, replace));
    }
    f.libraries = next.libraries;
    store.note_functions();
    Reply::ok()
}

/// FCALL function numkeys [key ...] [arg ...], and FCALL_RO.
pub(crate) fn fcall(
    store: &mut Store,
    session: &Session,
    read_only: bool,
    a: &[&[u8]],
    now: i64,
    memory: bool,
) -> Reply {
    let Some(function) = store.scripts.functions.find(a[1]) else {
        return Reply::error("ERR Function not found");
    };
    let (callback, flags) = (function.callback.clone(), function.flags);
    let (keys, args) = tri!(super::keys_and_args(a, "ERR Bad number of keys provided"));
    let no_writes = flags[0];
    if read_only && !no_writes {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let Some(mut lua) = store.scripts.functions.lua.take() else {
        return Reply::error("ERR a function is running");
    };
    let tables = vec![
        super::strings(&mut lua, keys),
        super::strings(&mut lua, args),
    ];
    let limits = super::Limits {
        read_only: read_only || no_writes,
        out_of_memory: !memory && !flags[1],
        function: true,
    };
    let reply = super::run(
        store,
        &mut lua,
        &callback,
        tables,
        session.db(),
        now,
        limits,
        a[1],
    );
    lua.collect(&store.scripts.functions.roots());
    store.scripts.functions.lua = Some(lua);
    reply
}
