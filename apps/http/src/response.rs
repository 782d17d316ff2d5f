//! Writing responses: the status line, the header fields, the body.

use alloc::vec::Vec;

use crate::status::Status;

/// `Content-Type` of values.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";
/// `Content-Type` of errors and of `/health`.
pub(crate) const JSON: &str = "application/json";
/// `Content-Type` of `/metrics`.
pub(crate) const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A response about to be written.
pub(crate) struct Response<'a> {
    pub(crate) status: Status,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: &'a [u8],
    /// The `Allow` field of a 405.
    pub(crate) allow: Option<&'static str>,
}

/// How the response speaks of the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Persist {
    /// HTTP/1.1's default: it stays open, nothing said.
    Implicit,
    /// An HTTP/1.0 client asked to keep it: `Connection: keep-alive`.
    KeepAlive,
    /// It closes after this response: `Connection: close`.
    Close,
}

impl Response<'_> {
    /// Appends the response to `out`; with `head_only` (the request was
    /// `HEAD`) without the body, its length still announced.
    pub(crate) fn write(&self, persist: Persist, head_only: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 ");
        kvs_core::num::push_u64(out, u64::from(self.status.code()));
        out.push(b' ');
        out.extend_from_slice(self.status.reason().as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(allow) = self.allow {
            field(out, "Allow", allow);
        }
        if let Some(content_type) = self.content_type {
            field(out, "Content-Type", content_type);
        }
        // RFC 9110 §8.6: no Content-Length in a 204.
        if self.status != Status::NoContent {
            out.extend_from_slice(b"Content-Length: ");
            kvs_core::num::push_u64(out, self.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        match persist {
            Persist::Implicit => {}
            Persist::KeepAlive => field(out, "Connection", "keep-alive"),
            Persist::Close => field(out, "Connection", "close"),
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(self.body);
        }
    }
}

/// The interim response to `Expect: 100-continue`.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `{"<field>":"<text>"}`, `text` escaped as a JSON string.
pub(crate) fn json_object(out: &mut Vec<u8>, field: &str, text: &str) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":\"");
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = u32::from(c) as usize;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[n >> 4]);
                out.push(HEX[n & 15]);
            }
            c => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    out.extend_from_slice(b"\"}");
}
