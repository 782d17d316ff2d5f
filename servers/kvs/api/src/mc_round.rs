//! A round of memcached calls ([`Kvs::mc_round`](crate::Kvs::mc_round)):
//! the calls that many connections of the memcached front end wait for,
//! in one IPC call, as the RESP front end gathers its commands into one
//! round ([`Kvs::exec_round`](crate::Kvs::exec_round)). Each runs
//! atomically, in order.
//!
//! | part | layout |
//! | --- | --- |
//! | request | entries one after the other: a `u32` length (little-endian), then a [`Request`]'s encoding |
//! | answer | one per entry that ran: a `u32` length, then the [`Response`]'s encoding; or the length [`TOO_LARGE`] alone, for a response larger than the answer may be |
//!
//! Lengths are checked against what is there: a hostile or broken
//! request is refused whole (nothing runs), a broken answer is an error.

use alloc::vec::Vec;

use crate::mc::{Request, Response};
use crate::proto::MAX_BATCH;

/// The length that stands for a response too large for the answer (the
/// caller's region, or an inline reply without one): the call is treated
/// as failed.
pub const TOO_LARGE: u32 = u32::MAX;

/// Appends `req` as an entry of a round's request.
pub fn push_entry(out: &mut Vec<u8>, req: &Request<'_>) {
    push_piece(out, |out| req.encode(out));
}

/// Appends `response` as the answer to an entry.
pub fn push_answer(out: &mut Vec<u8>, response: &Response) {
    push_piece(out, |out| response.encode(out));
}

/// Appends the answer of an entry whose response was too large.
pub fn push_too_large(out: &mut Vec<u8>) {
    out.extend_from_slice(&TOO_LARGE.to_le_bytes());
}

/// Appends what `write` writes, its length before it.
fn push_piece(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out);
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// The pieces of `bytes`, each a `u32` length and that many bytes (or
/// [`TOO_LARGE`] alone, where `marks` allows it: `None` for it); `None`
/// if a length overruns, or past [`MAX_BATCH`] pieces.
fn pieces(bytes: &[u8], marks: bool) -> Option<Vec<Option<&[u8]>>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() == MAX_BATCH {
            return None;
        }
        let (len, after) = rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len);
        if len == TOO_LARGE && marks {
            out.push(None);
            rest = after;
            continue;
        }
        let len = usize::try_from(len).ok()?;
        if len > after.len() {
            return None;
        }
        let (piece, after) = after.split_at(len);
        out.push(Some(piece));
        rest = after;
    }
    Some(out)
}

/// The entries of a round's request, each a request's encoding; `None`
/// for a request that is not one.
pub fn entries(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    pieces(bytes, false)?.into_iter().collect()
}

/// The answers in `bytes`, each a response's encoding or `None` for one
/// that was too large; `None` for an answer that is not one.
pub fn answers(bytes: &[u8]) -> Option<Vec<Option<&[u8]>>> {
    pieces(bytes, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mc::{Delete, DeleteOutcome};

    #[test]
    fn entries_and_answers_go_through() {
        let mut req = Vec::new();
        push_entry(&mut req, &Request::Discard(b"k"));
        push_entry(&mut req, &Request::Delete(b"key", Delete::default()));
        let e = entries(&req).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            Request::decode(e[1]).unwrap(),
            Request::Delete(b"key", Delete::default())
        );
        let mut ans = Vec::new();
        push_answer(&mut ans, &Response::Done);
        push_too_large(&mut ans);
        push_answer(&mut ans, &Response::Deleted(DeleteOutcome::NotFound));
        let a = answers(&ans).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(Response::decode(a[0].unwrap()).unwrap(), Response::Done);
        assert!(a[1].is_none());
        assert_eq!(
            Response::decode(a[2].unwrap()).unwrap(),
            Response::Deleted(DeleteOutcome::NotFound)
        );
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let mut req = Vec::new();
        push_entry(&mut req, &Request::Discard(b"k"));
        // Cut anywhere inside, the last entry overruns.
        for cut in 1..req.len() {
            assert!(entries(&req[..cut]).is_none(), "{cut}");
        }
        // The too-large mark is no request.
        assert!(entries(&TOO_LARGE.to_le_bytes()).is_none());
        let huge = [0xff, 0xff, 0xff, 0x7f, 1, 2];
        assert!(entries(&huge).is_none() && answers(&huge).is_none());
        // No more than MAX_BATCH entries.
        let many = [0u8; 4].repeat(MAX_BATCH + 1);
        assert!(entries(&many).is_none());
        assert_eq!(entries(&many[..4 * MAX_BATCH]).unwrap().len(), MAX_BATCH);
        assert_eq!(entries(&[]).unwrap().len(), 0);
    }
}
