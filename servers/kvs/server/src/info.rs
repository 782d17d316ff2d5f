//! `INFO`: what the kvs server says about itself in Redis's words (the
//! sections `memory` and `persistence`), for the front ends' `INFO` and
//! metrics. `kvs-core` does not know the heap or the disk; the server
//! answers it before the store sees it.

use crate::persist::{Persistence, SectorDevice};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// Whether `args` is an `INFO` command.
pub(crate) fn is_info(args: &[&[u8]]) -> bool {
    args.first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"INFO"))
}

/// Appends the reply to `INFO [section ...]`: a bulk string with the
/// sections asked for (all, `default` or `everything` by name too), empty
/// for sections the server does not have.
pub(crate) fn reply(
    args: &[&[u8]],
    memory: Option<u64>,
    persistence: Option<&Persistence<Box<dyn SectorDevice>>>,
    reply: &mut Vec<u8>,
) {
    let wants = |section: &[u8]| {
        args.len() == 1
            || args[1..].iter().any(|a| {
                a.eq_ignore_ascii_case(section)
                    || a.eq_ignore_ascii_case(b"all")
                    || a.eq_ignore_ascii_case(b"default")
                    || a.eq_ignore_ascii_case(b"everything")
            })
    };
    let mut text = String::new();
    if wants(b"memory") {
        text.push_str("# Memory\r\n");
        if let Some(bytes) = memory {
            let _ = write!(text, "used_memory:{bytes}\r\n");
        }
    }
    if wants(b"persistence") {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str("# Persistence\r\n");
        match persistence {
            Some(p) => {
                let log = p.log();
                let _ = write!(
                    text,
                    "aof_enabled:1\r\n\
                     aof_rewrite_in_progress:{}\r\n\
                     aof_current_size:{}\r\n\
                     aof_last_write_status:{}\r\n\
                     aof_fsync:{}\r\n",
                    u8::from(log.compacting()),
                    log.len(),
                    if p.last_write_ok() { "ok" } else { "err" },
                    p.fsync().name(),
                );
            }
            None => text.push_str("aof_enabled:0\r\n"),
        }
    }
    kvs_core::Reply::Bulk(Some(text.into_bytes())).encode_resp2(reply);
}
