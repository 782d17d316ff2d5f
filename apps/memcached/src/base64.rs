//! Base64 (RFC 4648, with padding) for the meta commands' binary keys
//! (`b` flag).

use alloc::vec::Vec;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The bytes `text` encodes; `None` unless it is whole groups of four
/// characters of the alphabet, padded with `=` at the end only.
///
/// ```
/// assert_eq!(memcached::base64::decode(b"Zm9vYg=="), Some(b"foob".to_vec()));
/// assert_eq!(memcached::base64::decode(b"Zm9"), None);
/// ```
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let groups = text.len() / 4;
    for (i, group) in text.chunks(4).enumerate() {
        let pad = group.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != groups) {
            return None;
        }
        let mut word = 0u32;
        for &c in &group[..4 - pad] {
            word = (word << 6) | sextet(c)?;
        }
        word <<= 6 * pad as u32;
        let bytes = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Appends the encoding of `bytes` to `out`.
///
/// ```
/// let mut out = Vec::new();
/// memcached::base64::encode(b"foob", &mut out);
/// assert_eq!(out, b"Zm9vYg==");
/// ```
pub fn encode(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(3) {
        let mut word = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            word |= u32::from(b) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((word >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}
