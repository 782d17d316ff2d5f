//! The command logic of Basalt's Redis-compatible key-value store.
//!
//! `no_std` + `alloc`, host-testable: a [`Store`] holds 16 databases; each
//! client has a [`Session`]; [`Store::execute`] runs one command given as
//! an argument vector and returns a [`Reply`] shaped like RESP2. Time is a
//! parameter (`now_ms`, milliseconds since the Unix epoch) of every call, so
//! expiry is deterministic. Randomness (RANDOMKEY, SPOP, SRANDMEMBER) and
//! the hash tables' keys come from a per-store seed ([`Store::with_seed`]).
//!
//! ```
//! use kvs_core::{Reply, Session, Store};
//! let mut store = Store::new();
//! let mut s = Session::new();
//! assert_eq!(store.execute(&mut s, &[b"SET", b"k", b"v"], 0), Reply::ok());
//! assert_eq!(store.execute(&mut s, &[b"GET", b"k"], 0), Reply::bulk(b"v"));
//! let mut wire = Vec::new();
//! store.execute(&mut s, &[b"GET", b"k"], 0).encode_resp2(&mut wire);
//! assert_eq!(wire, b"$1\r\nv\r\n");
//! ```
//!
//! Expiry is lazy (a key past its time is removed when touched) and active
//! ([`Store::active_expire`], to call periodically). With a memory gauge
//! ([`Store::set_memory`]) the store enforces `maxmemory` and its
//! eviction policies as Redis does ([`memory`]). WATCH works through
//! per-key version counters that every write, deletion, expiry and flush
//! bumps; EXEC answers a nil array when a watched key's version moved.
//! A session that WATCHes holds a reference in the store until EXEC,
//! DISCARD, UNWATCH or [`Store::release`] (call it when a client goes away).
//!
//! # SCAN cursors
//!
//! SCAN, HSCAN, SSCAN and ZSCAN visit elements in the order they were
//! inserted; the cursor is the insertion number to resume from (see
//! `dict`). A full iteration returns every element present for its whole
//! duration exactly once, whatever is added or removed meanwhile (elements
//! added or removed during it may or may not appear). A call costs
//! O(log n) to find the cursor and O(COUNT) after it, and may return fewer
//! than COUNT elements before the end; MATCH and TYPE filter after
//! selection, as in Redis.
//!
//! # Known differences from Redis
//!
//! - DUMP of a stream leaves out the XDEL'd entries Redis keeps in its
//!   listpacks, and XINFO's `radix-tree-nodes` counts a fully compressed
//!   radix tree (`docs/kvs.md`, Streams).
//! - INCRBYFLOAT and HINCRBYFLOAT compute in `long double` as Redis does
//!   on x86-64 (80-bit, in software: `ld`), but read no hexadecimal
//!   floats, which `strtold` reads.
//! - Scores print with the shortest round-trip digits (Redis 7.2+ style,
//!   `fpconv_dtoa` layout), so `1.1` is `1.1`, not `1.1000000000000001`.
//! - Glob ranges compare bytes as signed `char`, as Redis does on x86.
//! - The blocking pops wait only in sessions that may block
//!   ([`Session::set_may_block`]); the store answers them later through
//!   [`Store::take_answered`] (module `blocking`). Keyspace events
//!   ([`notify`]) leave out `keymiss`. There is no hash-field expiry.
//! - Strings stop at Redis's default `proto-max-bulk-len` (512 MiB), and
//!   bit offsets (SETBIT, GETBIT, BITFIELD) below 2^32, whatever a front
//!   end sets the parameter to.
//! - `BITFIELD` whose writes all failed under `OVERFLOW FAIL` but grew the
//!   string is logged ([`aof`]), where Redis propagates nothing (WATCH
//!   does not see it, as in Redis).
//! - A corrupt sparse HyperLogLog that ends in half an XZERO opcode: Redis
//!   reads, and PFADD may write, the byte past the string's end; kvs-core
//!   reads 0 there and keeps nothing past the end (`docs/kvs.md`).
//! - Geo distances use `libm`'s sine, cosine and arcsine, which can
//!   differ from glibc's in the last bit: about one distance in 500,000
//!   prints one unit apart in its fourth decimal; equal distances cut by
//!   COUNT are ordered stably, where Redis uses a partial quicksort
//!   (`docs/kvs.md`).
//! - `volatile-ttl` evicts the key that expires soonest exactly, where
//!   Redis samples ([`memory`]); replies too large to send are refused
//!   before they are built.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod aof;
mod blocking;
pub mod caching;
mod cmd;
pub mod command;
pub mod config;
mod db;
mod dict;
mod encoding;
mod geo;
pub mod glob;
mod hash;
mod hll;
mod ld;
pub mod mc;
pub mod memory;
pub mod notify;
pub mod num;
mod ostree;
mod rdb;
mod reply;
mod script;
mod store;
mod stream;
mod zset;

pub use aof::{AofWriter, ReplayReport, replay, rewrite};
pub use cmd::{may_block, writes};
pub use reply::*;
pub use script::watch::{Overtime, Verdict, Watch};
pub use store::{DATABASES, DEFAULT_SEED, Session, Store, unknown_command};
