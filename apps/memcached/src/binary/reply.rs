//! Responses: the status codes and the short text memcached sends as the
//! body of an error.

use alloc::vec::Vec;

use super::header::{Header, Response};

/// A response's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0x00: done.
    Ok,
    /// 0x01: no such item.
    KeyNotFound,
    /// 0x02: the item exists (add), or its CAS unique differs.
    KeyExists,
    /// 0x03: the item would pass `item_size_max`.
    TooLarge,
    /// 0x04: lengths the opcode does not take (the connection closes).
    InvalidArguments,
    /// 0x05: append or prepend to no item.
    NotStored,
    /// 0x06: incr/decr of a value that is not a number.
    NonNumeric,
    /// 0x81: an opcode memcached does not answer.
    UnknownCommand,
    /// 0x82: out of memory.
    OutOfMemory,
    /// 0x86: the store cannot be reached (the kvs server restarts); not a
    /// status memcached sends, which has no such failure.
    TemporaryFailure,
}

impl Status {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 0x00,
            Status::KeyNotFound => 0x01,
            Status::KeyExists => 0x02,
            Status::TooLarge => 0x03,
            Status::InvalidArguments => 0x04,
            Status::NotStored => 0x05,
            Status::NonNumeric => 0x06,
            Status::UnknownCommand => 0x81,
            Status::OutOfMemory => 0x82,
            Status::TemporaryFailure => 0x86,
        }
    }

    /// The body memcached 1.6 sends with it (as the real server sends it,
    /// its punctuation included).
    pub fn message(self) -> &'static [u8] {
        match self {
            Status::Ok => b"",
            Status::KeyNotFound => b"Not found",
            Status::KeyExists => b"Data exists for key.",
            Status::TooLarge => b"Too large.",
            Status::InvalidArguments => b"Invalid arguments",
            Status::NotStored => b"Not stored.",
            Status::NonNumeric => b"Non-numeric server-side value for incr or decr",
            Status::UnknownCommand => b"Unknown command",
            Status::OutOfMemory => b"Out of memory",
            Status::TemporaryFailure => b"Store unavailable",
        }
    }
}

/// A response's body, in its three parts.
#[derive(Debug, Default, Clone, Copy)]
pub struct Body<'a> {
    /// The extras (a get's flags).
    pub extras: &'a [u8],
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

/// Appends the response to the request `to`: `status`, the CAS unique
/// `cas` and `body`.
pub fn respond(out: &mut Vec<u8>, to: &Header, status: Status, cas: u64, body: Body<'_>) {
    // Every part is bounded far below 4 GiB: extras and keys by the
    // protocol, values by `item_size_max`.
    let len = body.extras.len() + body.key.len() + body.value.len();
    Response {
        opcode: to.opcode,
        key_len: body.key.len() as u16,
        extras_len: body.extras.len() as u8,
        status: status.code(),
        body_len: len as u32,
        opaque: to.opaque,
        cas,
    }
    .encode(out);
    out.extend_from_slice(body.extras);
    out.extend_from_slice(body.key);
    out.extend_from_slice(body.value);
}

/// Appends a success without a body (and with `cas`).
pub fn done(out: &mut Vec<u8>, to: &Header, cas: u64) {
    respond(out, to, Status::Ok, cas, Body::default());
}

/// Appends an error with memcached's text for it.
pub fn error(out: &mut Vec<u8>, to: &Header, status: Status) {
    let body = Body {
        value: status.message(),
        ..Body::default()
    };
    respond(out, to, status, 0, body);
}
