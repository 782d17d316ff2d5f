//! One memcached item and what memcached says about its size: the bytes
//! it counts for it (`bytes`, `item_size_max`) and the slab class it
//! would sit in (`stats items`, `stats slabs`, `me`).

use alloc::vec::Vec;

/// The header memcached puts before every item on a 64-bit machine, and
/// its CAS word: what an item costs besides its key, flags and value.
const HEADER: usize = 48 + 8;

/// memcached's default `item_size_max` (`-I`): 1 MiB.
pub const ITEM_SIZE_MAX: usize = 1 << 20;

/// The largest slab chunk (`slab_chunk_max`, half a page); larger items
/// are chained chunks of the last class.
const SLAB_CHUNK_MAX: usize = 512 * 1024;

/// The smallest chunk (`chunk_size` 48 plus the header) and the growth
/// factor between classes (`-f`): memcached's defaults.
const SMALLEST_CHUNK: usize = 96;
const GROWTH: f64 = 1.25;

/// The bytes memcached counts for an item: the header, the key with its
/// terminator, the client flags when they are not 0, the value with its
/// `\r\n`.
///
/// ```
/// assert_eq!(kvs_core::mc::item_size(1, 0, 1), 61);
/// assert_eq!(kvs_core::mc::item_size(2, 5, 300), 365);
/// ```
pub fn item_size(key_len: usize, flags: u32, value_len: usize) -> usize {
    let suffix = if flags == 0 { 0 } else { 4 };
    HEADER + key_len + 1 + suffix + value_len.saturating_add(2)
}

/// The chunk sizes of memcached's default slab classes, class 1 first.
fn class_sizes() -> impl Iterator<Item = usize> {
    let mut size = SMALLEST_CHUNK as f64;
    core::iter::from_fn(move || {
        if size >= SLAB_CHUNK_MAX as f64 / GROWTH {
            return None;
        }
        let mut chunk = size as usize;
        if !chunk.is_multiple_of(8) {
            chunk += 8 - chunk % 8;
        }
        size = ((chunk as f64 * GROWTH) as usize) as f64;
        Some(chunk)
    })
    .chain(core::iter::once(SLAB_CHUNK_MAX))
}

/// The slab class of an item of `size` bytes ([`item_size`]) and its chunk
/// size; items larger than the last class's chunk are in the last class.
///
/// ```
/// assert_eq!(kvs_core::mc::slab_class(61), (1, 96));
/// assert_eq!(kvs_core::mc::slab_class(365), (7, 384));
/// assert_eq!(kvs_core::mc::slab_class(900_000), (39, 524288));
/// ```
pub fn slab_class(size: usize) -> (u32, usize) {
    let mut last = (0, SLAB_CHUNK_MAX);
    for (i, chunk) in class_sizes().enumerate() {
        last = (i as u32 + 1, chunk);
        if size <= chunk {
            break;
        }
    }
    last
}

/// An item.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) value: Vec<u8>,
    pub(crate) flags: u32,
    pub(crate) cas: u64,
    /// When it expires (Unix seconds); 0: never.
    pub(crate) exptime: u64,
    /// When it was stored or last bumped (Unix seconds): `la`, and what a
    /// delayed `flush_all` compares.
    pub(crate) time: u64,
    /// Its place in the LRU (larger: used more recently).
    pub(crate) tick: u64,
    /// Fetched since it was stored (`h`, `fetch=`).
    pub(crate) fetched: bool,
    /// Marked stale by `md … I` or a stale `ms … I` (`X`).
    pub(crate) stale: bool,
    /// A client was told it won the right to recache it (`W` sent; later
    /// fetches get `Z`).
    pub(crate) token_sent: bool,
}

impl Item {
    /// A new item, not yet linked (no CAS, no place in the LRU).
    pub(crate) fn new(value: Vec<u8>, flags: u32, exptime: u64) -> Item {
        Item {
            value,
            flags,
            cas: 0,
            exptime,
            time: 0,
            tick: 0,
            fetched: false,
            stale: false,
            token_sent: false,
        }
    }

    /// The bytes memcached counts for it under `key`.
    pub(crate) fn size(&self, key: &[u8]) -> usize {
        item_size(key.len(), self.flags, self.value.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_memcached_defaults() {
        let sizes: Vec<usize> = class_sizes().collect();
        assert_eq!(&sizes[..8], &[96, 120, 152, 192, 240, 304, 384, 480]);
        assert_eq!(sizes.len(), 39);
        assert_eq!(sizes[38], 524_288);
        // The largest value memcached 1.6 stores under a one-byte key.
        assert_eq!(item_size(1, 0, 1_048_516), ITEM_SIZE_MAX);
        assert_eq!(item_size(1, 1, 1_048_512), ITEM_SIZE_MAX);
    }
}
