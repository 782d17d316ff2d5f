//! Running decoded binary requests on the [`Cache`] and writing
//! memcached 1.6's responses.

use alloc::vec::Vec;

use kvs_api::mc::{
    Arith, ArithOutcome, Delete, DeleteOutcome, Exptime, StoreOutcome, StoreRequest,
};

use super::header::Header;
use super::reply::{self, Body, Status};
use super::request::{Request, Retrieve, StoreKind};
use crate::parse::StatsGroup;
use crate::{Cache, Flow, Frontend, stats};

/// The binary protocol's expiry is unsigned: memcached reads one past
/// 2^31 as a Unix time far ahead. The store's is signed, so those are
/// the furthest time it holds (2038), which is as far ahead for now.
fn exptime(wire: u32) -> Exptime {
    Exptime::try_from(wire).unwrap_or(Exptime::MAX)
}

/// Runs a request that has no value to wait for.
pub(crate) fn run<C: Cache>(
    request: Request,
    header: &Header,
    cache: &mut C,
    front: &mut Frontend,
    now: u64,
    out: &mut Vec<u8>,
) -> Flow {
    match request {
        Request::Get { key, how } => get(&key, how, header, cache, out),
        Request::Touch { key, exptime: e } => touch(&key, e, header, cache, out),
        Request::Delete { key, quiet } => {
            let req = Delete {
                cas: header.cas,
                ..Delete::default()
            };
            match cache.delete(&key, &req) {
                Ok(DeleteOutcome::Deleted) if !quiet => reply::done(out, header, 0),
                Ok(DeleteOutcome::Deleted) => {}
                Ok(DeleteOutcome::NotFound) => reply::error(out, header, Status::KeyNotFound),
                Ok(DeleteOutcome::Exists) => reply::error(out, header, Status::KeyExists),
                Err(_) => reply::error(out, header, Status::TemporaryFailure),
            }
        }
        Request::Arith {
            key,
            incr,
            delta,
            initial,
            create,
            quiet,
        } => {
            let req = Arith {
                incr,
                delta,
                cas: header.cas,
                vivify: create.map(|e| (exptime(e), initial)),
                touch: None,
                vivify_after_touch: false,
            };
            arith(&key, &req, quiet, header, cache, out);
        }
        Request::Quit { quiet } => {
            if !quiet {
                reply::done(out, header, 0);
            }
            return Flow::Close;
        }
        Request::Flush { delay, quiet } => match cache.flush_all(exptime(delay)) {
            Ok(()) if !quiet => reply::done(out, header, 0),
            Ok(()) => {}
            Err(_) => reply::error(out, header, Status::TemporaryFailure),
        },
        Request::Noop => reply::done(out, header, 0),
        Request::Version => {
            let body = Body {
                value: front.version.as_bytes(),
                ..Body::default()
            };
            reply::respond(out, header, Status::Ok, 0, body);
        }
        Request::Stat(group) => stat(group, header, cache, front, now, out),
        Request::Unknown { .. } => reply::error(out, header, Status::UnknownCommand),
        // Storage requests run once their value is in (`stored`).
        Request::Store { .. } => {}
    }
    Flow::Open
}

/// TOUCH: a get that touches, as the reply needs the item's flags and
/// CAS unique, which a plain touch does not return.
fn touch<C: Cache>(key: &[u8], e: u32, header: &Header, cache: &mut C, out: &mut Vec<u8>) {
    match cache.get(&[key], Some(exptime(e))) {
        Ok(Some(values)) => match values.into_iter().next().flatten() {
            Some(v) => {
                let flags = v.flags.to_be_bytes();
                let body = Body {
                    extras: &flags,
                    ..Body::default()
                };
                reply::respond(out, header, Status::Ok, v.cas, body);
            }
            None => reply::error(out, header, Status::KeyNotFound),
        },
        Ok(None) => reply::error(out, header, Status::OutOfMemory),
        Err(_) => reply::error(out, header, Status::TemporaryFailure),
    }
}

/// INCREMENT, DECREMENT: the new value as 8 bytes, and the item's CAS
/// unique.
fn arith<C: Cache>(
    key: &[u8],
    req: &Arith,
    quiet: bool,
    header: &Header,
    cache: &mut C,
    out: &mut Vec<u8>,
) {
    let status = match cache.arith(key, req) {
        Ok(ArithOutcome::Value { value, cas, .. }) => {
            if !quiet {
                let number = value.to_be_bytes();
                let body = Body {
                    value: &number,
                    ..Body::default()
                };
                reply::respond(out, header, Status::Ok, cas, body);
            }
            return;
        }
        Ok(ArithOutcome::NotFound) => Status::KeyNotFound,
        Ok(ArithOutcome::Exists) => Status::KeyExists,
        Ok(ArithOutcome::NonNumeric) => Status::NonNumeric,
        Ok(ArithOutcome::OutOfMemory) => Status::OutOfMemory,
        Err(_) => Status::TemporaryFailure,
    };
    reply::error(out, header, status);
}

fn get<C: Cache>(key: &[u8], how: Retrieve, header: &Header, cache: &mut C, out: &mut Vec<u8>) {
    let found = match cache.get(&[key], how.touch.map(exptime)) {
        Ok(Some(values)) => values.into_iter().next().flatten(),
        Ok(None) => return reply::error(out, header, Status::OutOfMemory),
        Err(_) => return reply::error(out, header, Status::TemporaryFailure),
    };
    let shown_key = if how.with_key { key } else { &[][..] };
    match found {
        Some(v) => {
            let flags = v.flags.to_be_bytes();
            let body = Body {
                extras: &flags,
                key: shown_key,
                value: &v.data,
            };
            reply::respond(out, header, Status::Ok, v.cas, body);
        }
        None if how.quiet => {}
        // A miss of GETK/GATK names the key, without memcached's text.
        None if how.with_key => {
            let body = Body {
                key,
                ..Body::default()
            };
            reply::respond(out, header, Status::KeyNotFound, 0, body);
        }
        None => reply::error(out, header, Status::KeyNotFound),
    }
}

fn stat<C: Cache>(
    group: Option<StatsGroup>,
    header: &Header,
    cache: &mut C,
    front: &mut Frontend,
    now: u64,
    out: &mut Vec<u8>,
) {
    let Some(group) = group else {
        return reply::error(out, header, Status::KeyNotFound);
    };
    let entry = |out: &mut Vec<u8>, name: &[u8], value: &[u8]| {
        let body = Body {
            key: name,
            value,
            ..Body::default()
        };
        reply::respond(out, header, Status::Ok, 0, body);
    };
    match group {
        StatsGroup::Reset => match cache.reset_stats() {
            Ok(()) => {
                front.counters = crate::FrontCounters {
                    curr_connections: front.counters.curr_connections,
                    ..Default::default()
                };
            }
            Err(_) => return reply::error(out, header, Status::TemporaryFailure),
        },
        StatsGroup::Detail => {}
        // What `stats detail dump` would print, with nothing recorded.
        StatsGroup::DetailDump => entry(out, b"detailed", b"END\r\n"),
        group => match cache.stats() {
            Ok(items) => {
                let mut text = alloc::string::String::new();
                stats::each(group, front, &items, now, &mut |name, value| {
                    use core::fmt::Write;
                    text.clear();
                    let _ = write!(text, "{value}");
                    entry(out, name.as_bytes(), text.as_bytes());
                });
            }
            Err(_) => return reply::error(out, header, Status::TemporaryFailure),
        },
    }
    // The end: an entry with no key.
    entry(out, b"", b"");
}

/// Runs a storage request once its value came.
pub(crate) fn stored<C: Cache>(
    request: Request,
    header: &Header,
    value: &[u8],
    cache: &mut C,
    out: &mut Vec<u8>,
) {
    let Request::Store {
        kind,
        key,
        flags,
        exptime: e,
        quiet,
        ..
    } = request
    else {
        return;
    };
    let mode = kind.mode(header.cas);
    let req = StoreRequest {
        mode,
        key: &key,
        value,
        flags,
        exptime: exptime(e),
        cas: header.cas,
        invalidate: false,
    };
    let status = match cache.store(&req) {
        Ok(StoreOutcome::Stored(cas)) => {
            if !quiet {
                reply::done(out, header, cas);
            }
            return;
        }
        Ok(StoreOutcome::Exists) => Status::KeyExists,
        Ok(StoreOutcome::NotFound) => Status::KeyNotFound,
        // memcached names a refused add or replace by why it was refused.
        Ok(StoreOutcome::NotStored | StoreOutcome::TooLarge) => match mode {
            kvs_core::mc::Mode::Add => Status::KeyExists,
            kvs_core::mc::Mode::Replace => Status::KeyNotFound,
            _ => Status::NotStored,
        },
        Ok(StoreOutcome::OutOfMemory) => {
            // As memcached's failed allocation: a SET drops the old
            // value, which must not outlive the failed write.
            if kind == StoreKind::Set {
                let _ = cache.discard(&key);
            }
            Status::OutOfMemory
        }
        Err(_) => Status::TemporaryFailure,
    };
    reply::error(out, header, status);
}
