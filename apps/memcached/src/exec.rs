//! Running decoded commands on the [`Cache`] and writing memcached's
//! replies.

use alloc::vec::Vec;

use kvs_api::mc::{ArithOutcome, Delete, DeleteOutcome, Mode, StoreOutcome, StoreRequest};
use kvs_core::mc::item_size;
use kvs_core::num::push_u64;

use crate::meta::{MAX_OPAQUE, Meta};
use crate::parse::{Command, Refusal, StatsGroup};
use crate::{Cache, Flow, Frontend, stats};

const SERVER_ERROR: &[u8] = b"SERVER_ERROR store unavailable\r\n";

fn line(out: &mut Vec<u8>, text: &[u8]) {
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// What a storage command's line says of its item: key, flags, data
/// length, `noreply`, and whether it is a set (which drops the key's old
/// item when refused).
struct StoreLine<'a> {
    key: &'a Vec<u8>,
    flags: u32,
    len: usize,
    quiet: bool,
    set: bool,
}

fn store_line(command: &Command) -> Option<StoreLine<'_>> {
    match command {
        Command::Store {
            mode,
            key,
            flags,
            len,
            noreply,
            ..
        } => Some(StoreLine {
            key,
            flags: *flags,
            len: *len,
            quiet: *noreply,
            set: *mode == Mode::Set,
        }),
        Command::MetaSet(m) => Some(StoreLine {
            key: &m.meta.key,
            flags: m.flags,
            len: m.len,
            quiet: false,
            set: true,
        }),
        _ => None,
    }
}

/// A storage command refused before its data block, which is swallowed:
/// its reply is `reply`, kept back under `noreply`; a set drops the key's
/// old item (memcached's rule: a failed set leaves no stale value).
fn refuse_store(line: &StoreLine<'_>, reply: &'static str) -> Refusal {
    Refusal {
        reply,
        quiet: line.quiet,
        swallow: line.len + 2,
        discard: line.set.then(|| line.key.clone()),
    }
}

/// A storage command whose item would pass `item_size_max`, refused.
pub(crate) fn too_large(command: &Command, front: &mut Frontend) -> Option<Refusal> {
    let line = store_line(command)?;
    if item_size(line.key.len(), line.flags, line.len) <= front.item_size_max {
        return None;
    }
    front.counters.store_too_large += 1;
    Some(refuse_store(
        &line,
        "SERVER_ERROR object too large for cache",
    ))
}

/// A storage command whose data block the connections' budget has no
/// room for, refused as memcached refuses an item it cannot allocate.
pub(crate) fn no_memory(command: &Command, front: &mut Frontend) -> Option<Refusal> {
    let line = store_line(command)?;
    front.counters.store_no_memory += 1;
    Some(refuse_store(
        &line,
        "SERVER_ERROR out of memory storing object",
    ))
}

/// Answers a refused line.
pub(crate) fn refusal<C: Cache>(refusal: &Refusal, cache: &mut C, out: &mut Vec<u8>) {
    if let Some(key) = &refusal.discard {
        // The old value must not outlive the failed set.
        let _ = cache.discard(key);
    }
    if !refusal.quiet {
        line(out, refusal.reply.as_bytes());
    }
}

/// Appends ` k<key>` (base64 and ` b` for a binary key).
fn key_flag(out: &mut Vec<u8>, meta: &Meta) {
    out.extend_from_slice(b" k");
    if meta.binary {
        crate::base64::encode(&meta.key, out);
        out.extend_from_slice(b" b");
    } else {
        out.extend_from_slice(&meta.key);
    }
}

fn num_flag(out: &mut Vec<u8>, flag: u8, n: u64) {
    out.push(b' ');
    out.push(flag);
    push_u64(out, n);
}

fn space_num(out: &mut Vec<u8>, n: u64) {
    out.push(b' ');
    push_u64(out, n);
}

fn ttl_flag(out: &mut Vec<u8>, ttl: i64) {
    out.extend_from_slice(b" t");
    if ttl < 0 {
        out.extend_from_slice(b"-1");
    } else {
        push_u64(out, ttl as u64);
    }
}

/// The flags every meta reply echoes: `O` and `k`.
fn echo_flags(out: &mut Vec<u8>, meta: &Meta) {
    for t in &meta.tokens {
        match t[0] {
            b'O' => {
                out.push(b' ');
                out.extend_from_slice(t);
            }
            b'k' => key_flag(out, meta),
            _ => {}
        }
    }
}

fn opaque_too_long(meta: &Meta) -> bool {
    meta.tokens
        .iter()
        .any(|t| t[0] == b'O' && t.len() > MAX_OPAQUE)
}

const OPAQUE_TOO_LONG: &[u8] = b"CLIENT_ERROR opaque token too long\r\n";

/// Runs a command that has no data block.
pub(crate) fn run<C: Cache>(
    command: Command,
    cache: &mut C,
    front: &mut Frontend,
    now: u64,
    out: &mut Vec<u8>,
) -> Flow {
    match command {
        Command::Get {
            keys,
            cas,
            touch,
            too_long,
        } => {
            let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let found = if refs.is_empty() {
                Ok(Some(Vec::new()))
            } else {
                cache.get(&refs, touch)
            };
            match found {
                Ok(Some(_)) if too_long => line(out, b"CLIENT_ERROR bad command line format"),
                Ok(Some(values)) => {
                    for (key, value) in keys.iter().zip(values) {
                        let Some(v) = value else { continue };
                        out.extend_from_slice(b"VALUE ");
                        out.extend_from_slice(key);
                        space_num(out, u64::from(v.flags));
                        space_num(out, v.data.len() as u64);
                        if cas {
                            space_num(out, v.cas);
                        }
                        out.extend_from_slice(b"\r\n");
                        out.extend_from_slice(&v.data);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"END\r\n");
                }
                Ok(None) => line(out, b"SERVER_ERROR out of memory writing get response"),
                Err(_) => out.extend_from_slice(SERVER_ERROR),
            }
        }
        Command::Delete { key, noreply } => {
            let reply: &[u8] = match cache.delete(&key, &Delete::default()) {
                Ok(DeleteOutcome::Deleted) => b"DELETED",
                Ok(_) => b"NOT_FOUND",
                Err(_) => b"SERVER_ERROR store unavailable",
            };
            if !noreply {
                line(out, reply);
            }
        }
        Command::Arith {
            key,
            incr,
            delta,
            noreply,
        } => {
            let req = kvs_api::mc::Arith {
                incr,
                delta,
                cas: 0,
                vivify: None,
                touch: None,
                vivify_after_touch: false,
            };
            let mut reply = Vec::new();
            match cache.arith(&key, &req) {
                Ok(ArithOutcome::Value { value, .. }) => push_u64(&mut reply, value),
                Ok(ArithOutcome::NotFound | ArithOutcome::Exists) => {
                    reply.extend_from_slice(b"NOT_FOUND")
                }
                Ok(ArithOutcome::NonNumeric) => reply.extend_from_slice(
                    b"CLIENT_ERROR cannot increment or decrement non-numeric value",
                ),
                Ok(ArithOutcome::OutOfMemory) => {
                    reply.extend_from_slice(b"SERVER_ERROR out of memory")
                }
                Err(_) => reply.extend_from_slice(b"SERVER_ERROR store unavailable"),
            }
            if !noreply {
                line(out, &reply);
            }
        }
        Command::Touch {
            key,
            exptime,
            noreply,
        } => {
            let reply: &[u8] = match cache.touch(&key, exptime) {
                Ok(true) => b"TOUCHED",
                Ok(false) => b"NOT_FOUND",
                Err(_) => b"SERVER_ERROR store unavailable",
            };
            if !noreply {
                line(out, reply);
            }
        }
        Command::FlushAll { delay, noreply } => {
            let reply: &[u8] = match cache.flush_all(delay) {
                Ok(()) => b"OK",
                Err(_) => b"SERVER_ERROR store unavailable",
            };
            if !noreply {
                line(out, reply);
            }
        }
        Command::Version => {
            out.extend_from_slice(b"VERSION ");
            line(out, front.version.as_bytes());
        }
        Command::Verbosity { noreply } => {
            if !noreply {
                line(out, b"OK");
            }
        }
        Command::Quit | Command::Close => return Flow::Close,
        Command::Stats(group) => match group {
            StatsGroup::Reset => match cache.reset_stats() {
                Ok(()) => {
                    front.counters = crate::FrontCounters {
                        curr_connections: front.counters.curr_connections,
                        ..Default::default()
                    };
                    line(out, b"RESET");
                }
                Err(_) => out.extend_from_slice(SERVER_ERROR),
            },
            StatsGroup::Detail => line(out, b"OK"),
            StatsGroup::DetailDump => line(out, b"END"),
            group => match cache.stats() {
                Ok(items) => stats::write(group, front, &items, now, out),
                Err(_) => out.extend_from_slice(SERVER_ERROR),
            },
        },
        Command::MetaNoop => line(out, b"MN"),
        Command::MetaDebug { key, binary } => match cache.debug(&key) {
            Ok(Some(info)) => {
                out.extend_from_slice(b"ME ");
                if binary {
                    crate::base64::encode(&key, out);
                } else {
                    out.extend_from_slice(&key);
                }
                let text = alloc::format!(
                    " exp={} la={} cas={} fetch={} cls={} size={}\r\n",
                    info.exp,
                    info.last_access,
                    info.cas,
                    if info.fetched { "yes" } else { "no" },
                    info.class,
                    info.size
                );
                out.extend_from_slice(text.as_bytes());
            }
            Ok(None) => line(out, b"EN"),
            Err(_) => out.extend_from_slice(SERVER_ERROR),
        },
        Command::MetaGet(m) => meta_get(&m, cache, out),
        Command::MetaDelete(m) => {
            let code: &[u8] = match cache.delete(&m.meta.key, &m.req) {
                Ok(DeleteOutcome::Deleted) => {
                    if m.meta.quiet {
                        return Flow::Open;
                    }
                    b"HD"
                }
                Ok(DeleteOutcome::NotFound) => b"NF",
                Ok(DeleteOutcome::Exists) => b"EX",
                Err(_) => {
                    out.extend_from_slice(SERVER_ERROR);
                    return Flow::Open;
                }
            };
            out.extend_from_slice(code);
            echo_flags(out, &m.meta);
            out.extend_from_slice(b"\r\n");
        }
        Command::MetaArith(m) => meta_arith(&m, cache, out),
        Command::Refuse(_) | Command::Store { .. } | Command::MetaSet(_) => {}
    }
    Flow::Open
}

fn meta_get<C: Cache>(m: &crate::meta::MetaGet, cache: &mut C, out: &mut Vec<u8>) {
    let hit = match cache.meta_get(&m.meta.key, &m.req) {
        Ok(hit) => hit,
        Err(_) => {
            out.extend_from_slice(SERVER_ERROR);
            return;
        }
    };
    if opaque_too_long(&m.meta) {
        out.extend_from_slice(OPAQUE_TOO_LONG);
        return;
    }
    let Some(hit) = hit else {
        if !m.meta.quiet {
            out.extend_from_slice(b"EN");
            echo_flags(out, &m.meta);
            out.extend_from_slice(b"\r\n");
        }
        return;
    };
    if m.req.value {
        out.extend_from_slice(b"VA ");
        push_u64(out, hit.size as u64);
    } else {
        out.extend_from_slice(b"HD");
    }
    let mut ttl = hit.ttl_before;
    for t in &m.meta.tokens {
        match t[0] {
            b'T' => ttl = hit.ttl_touched,
            b'N' if hit.created => ttl = hit.ttl_vivified,
            b's' => num_flag(out, b's', hit.size as u64),
            b't' => ttl_flag(out, ttl),
            b'c' => num_flag(out, b'c', hit.cas),
            b'f' => num_flag(out, b'f', u64::from(hit.flags)),
            b'l' => num_flag(out, b'l', hit.last_access),
            b'h' => num_flag(out, b'h', u64::from(hit.fetched)),
            b'O' => {
                out.push(b' ');
                out.extend_from_slice(t);
            }
            b'k' => key_flag(out, &m.meta),
            _ => {}
        }
    }
    if hit.token_sent {
        out.extend_from_slice(b" Z");
    }
    if hit.stale {
        out.extend_from_slice(b" X");
    }
    if hit.won {
        out.extend_from_slice(b" W");
    }
    out.extend_from_slice(b"\r\n");
    if m.req.value {
        out.extend_from_slice(&hit.data);
        out.extend_from_slice(b"\r\n");
    }
}

fn meta_arith<C: Cache>(m: &crate::meta::MetaArith, cache: &mut C, out: &mut Vec<u8>) {
    let outcome = match cache.arith(&m.meta.key, &m.req) {
        Ok(o) => o,
        Err(_) => {
            out.extend_from_slice(SERVER_ERROR);
            return;
        }
    };
    let (value, cas, ttl_before, ttl_touched, ttl_vivified, created) = match outcome {
        ArithOutcome::Value {
            value,
            cas,
            ttl_before,
            ttl_touched,
            ttl_vivified,
            created,
        } => (value, cas, ttl_before, ttl_touched, ttl_vivified, created),
        ArithOutcome::NonNumeric => {
            line(
                out,
                b"CLIENT_ERROR cannot increment or decrement non-numeric value",
            );
            return;
        }
        ArithOutcome::OutOfMemory => {
            let words: &[u8] = if m.req.vivify.is_some() {
                b"SERVER_ERROR Out of memory allocating new item"
            } else {
                b"SERVER_ERROR out of memory"
            };
            line(out, words);
            return;
        }
        ArithOutcome::NotFound | ArithOutcome::Exists => {
            if opaque_too_long(&m.meta) {
                out.extend_from_slice(OPAQUE_TOO_LONG);
                return;
            }
            out.extend_from_slice(if outcome == ArithOutcome::NotFound {
                b"NF"
            } else {
                b"EX"
            });
            echo_flags(out, &m.meta);
            out.extend_from_slice(b"\r\n");
            return;
        }
    };
    if opaque_too_long(&m.meta) {
        out.extend_from_slice(OPAQUE_TOO_LONG);
        return;
    }
    // A quiet success is not answered, unless it created the item.
    if m.meta.quiet && !created {
        return;
    }
    let mut digits = Vec::new();
    push_u64(&mut digits, value);
    if m.meta.has(b'v') {
        out.extend_from_slice(b"VA ");
        push_u64(out, digits.len() as u64);
    } else {
        out.extend_from_slice(b"HD");
    }
    let mut ttl = ttl_before;
    for t in &m.meta.tokens {
        match t[0] {
            b'c' => num_flag(out, b'c', cas),
            b't' => ttl_flag(out, ttl),
            b'T' => ttl = ttl_touched,
            b'N' if created => ttl = ttl_vivified,
            b'O' => {
                out.push(b' ');
                out.extend_from_slice(t);
            }
            b'k' => key_flag(out, &m.meta),
            _ => {}
        }
    }
    if m.meta.has(b'v') {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&digits);
    }
    out.extend_from_slice(b"\r\n");
}

/// Runs a storage command once its data block (`len` bytes and what
/// should be `\r\n`) came.
pub(crate) fn stored<C: Cache>(command: Command, block: &[u8], cache: &mut C, out: &mut Vec<u8>) {
    let value = &block[..block.len() - 2];
    let well_ended = block.ends_with(b"\r\n");
    match command {
        Command::Store {
            mode,
            key,
            flags,
            exptime,
            cas,
            noreply,
            ..
        } => {
            if !well_ended {
                if !noreply {
                    line(out, b"CLIENT_ERROR bad data chunk");
                }
                return;
            }
            let req = StoreRequest {
                mode,
                key: &key,
                value,
                flags,
                exptime,
                cas,
                invalidate: false,
            };
            let reply: &[u8] = match cache.store(&req) {
                Ok(StoreOutcome::Stored(_)) => b"STORED",
                Ok(StoreOutcome::NotStored | StoreOutcome::TooLarge) => b"NOT_STORED",
                Ok(StoreOutcome::Exists) => b"EXISTS",
                Ok(StoreOutcome::NotFound) => b"NOT_FOUND",
                Ok(StoreOutcome::OutOfMemory) => b"SERVER_ERROR out of memory storing object",
                Err(_) => b"SERVER_ERROR store unavailable",
            };
            if !noreply {
                line(out, reply);
            }
        }
        Command::MetaSet(m) => {
            if !well_ended {
                line(out, b"CLIENT_ERROR bad data chunk");
                return;
            }
            let req = StoreRequest {
                mode: m.mode,
                key: &m.meta.key,
                value,
                flags: m.flags,
                exptime: m.exptime,
                cas: m.cas,
                invalidate: m.invalidate,
            };
            let (code, new_cas): (&[u8], u64) = match cache.store(&req) {
                Ok(StoreOutcome::Stored(cas)) => {
                    if m.meta.quiet {
                        return;
                    }
                    (b"HD", cas)
                }
                Ok(StoreOutcome::NotStored | StoreOutcome::TooLarge) => (b"NS", 0),
                Ok(StoreOutcome::Exists) => (b"EX", 0),
                Ok(StoreOutcome::NotFound) => (b"NF", 0),
                Ok(StoreOutcome::OutOfMemory) => {
                    let _ = cache.discard(&m.meta.key);
                    line(out, b"SERVER_ERROR out of memory storing object");
                    return;
                }
                Err(_) => {
                    out.extend_from_slice(SERVER_ERROR);
                    return;
                }
            };
            out.extend_from_slice(code);
            for t in &m.meta.tokens {
                match t[0] {
                    b'O' => {
                        out.push(b' ');
                        out.extend_from_slice(t);
                    }
                    b'k' => key_flag(out, &m.meta),
                    b'c' => num_flag(out, b'c', new_cas),
                    _ => {}
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        _ => {}
    }
}
