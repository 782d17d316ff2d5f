//! The 24-byte header that starts every binary packet, request or
//! response: its fields are big-endian on the wire.

use alloc::vec::Vec;

/// The header's length.
pub const HEADER_LEN: usize = 24;

/// The first byte of a request (and of a connection that speaks the
/// binary protocol).
pub const REQUEST_MAGIC: u8 = 0x80;

/// The first byte of a response.
pub const RESPONSE_MAGIC: u8 = 0x81;

/// A request's header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The opcode as sent (echoed in the response, quiet or not).
    pub opcode: u8,
    /// Bytes of key after the extras.
    pub key_len: u16,
    /// Bytes of extras after the header.
    pub extras_len: u8,
    /// The data type (memcached ignores it).
    pub data_type: u8,
    /// The vbucket (memcached ignores it).
    pub vbucket: u16,
    /// Bytes of body: extras, key and value.
    pub body_len: u32,
    /// Echoed in the response.
    pub opaque: u32,
    /// The CAS unique to compare; 0: none.
    pub cas: u64,
}

/// The first byte is not a request's: memcached closes the connection
/// without a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadMagic(pub u8);

impl Header {
    /// Decodes the header at the start of `bytes`.
    ///
    /// ```
    /// use memcached::binary::header::Header;
    /// let mut raw = [0u8; 24];
    /// raw[0] = 0x80;
    /// raw[4] = 4; // extras
    /// raw[11] = 9; // body
    /// let h = Header::decode(&raw).unwrap();
    /// assert_eq!((h.extras_len, h.body_len, h.head_len()), (4, 9, 28));
    /// ```
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, BadMagic> {
        if bytes[0] != REQUEST_MAGIC {
            return Err(BadMagic(bytes[0]));
        }
        let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut cas = [0; 8];
        cas.copy_from_slice(&bytes[16..24]);
        Ok(Header {
            opcode: bytes[1],
            key_len: u16_at(2),
            extras_len: bytes[4],
            data_type: bytes[5],
            vbucket: u16_at(6),
            body_len: u32_at(8),
            // The opaque is echoed as it came: its byte order is the
            // client's business.
            opaque: u32_at(12),
            cas: u64::from_be_bytes(cas),
        })
    }

    /// Bytes of the header, extras and key: what memcached reads before
    /// it looks at the request (the value, if any, comes after).
    pub fn head_len(&self) -> usize {
        HEADER_LEN + usize::from(self.extras_len) + usize::from(self.key_len)
    }
}

/// A response's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The request's opcode.
    pub opcode: u8,
    /// Bytes of key in the body.
    pub key_len: u16,
    /// Bytes of extras in the body.
    pub extras_len: u8,
    /// The status code.
    pub status: u16,
    /// Bytes of body.
    pub body_len: u32,
    /// The request's opaque.
    pub opaque: u32,
    /// The item's CAS unique, or 0.
    pub cas: u64,
}

impl Response {
    /// Appends its 24 bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(RESPONSE_MAGIC);
        out.push(self.opcode);
        out.extend_from_slice(&self.key_len.to_be_bytes());
        out.push(self.extras_len);
        // Data type: raw bytes, the only one memcached sends.
        out.push(0);
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&self.body_len.to_be_bytes());
        out.extend_from_slice(&self.opaque.to_be_bytes());
        out.extend_from_slice(&self.cas.to_be_bytes());
    }
}
