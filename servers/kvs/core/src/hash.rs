//! The seeded hasher behind every map, and the store's PRNG.
//!
//! Both are seeded per [`crate::Store`], so that iteration order, SCAN
//! cursors and random picks are deterministic for a given seed (tests), yet
//! unpredictable for clients when the seed comes from a random source.

use core::hash::{BuildHasher, Hasher};

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xBF58_476D_1CE4_E5B9;
const K2: u64 = 0x94D0_49BB_1331_11EB;

fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A [`BuildHasher`] with a per-store secret seed (a folded-multiply hash in
/// the style of foldhash/wyhash).
#[derive(Clone, Copy, Debug)]
pub struct SeededState {
    k0: u64,
    k1: u64,
}

impl SeededState {
    /// A state derived from `seed`.
    pub fn new(seed: u64) -> SeededState {
        let mut r = Rng::new(seed ^ K2);
        SeededState {
            k0: r.next_u64(),
            k1: r.next_u64() | 1,
        }
    }
}

impl BuildHasher for SeededState {
    type Hasher = SeededHasher;
    fn build_hasher(&self) -> SeededHasher {
        SeededHasher {
            acc: self.k0,
            k1: self.k1,
        }
    }
}

/// The hasher [`SeededState`] builds.
#[derive(Clone, Debug)]
pub struct SeededHasher {
    acc: u64,
    k1: u64,
}

impl SeededHasher {
    fn mix(&mut self, w: u64) {
        self.acc = fold(self.acc ^ w, self.k1 ^ K0).rotate_left(17);
    }
}

impl Hasher for SeededHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length of the tail keeps "a" and "a\0" apart even when the
            // caller hashes no length prefix.
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.acc ^ K1, self.k1 ^ K2)
    }
}

/// A hashbrown map using [`SeededState`].
pub type Map<K, V> = hashbrown::HashMap<K, V, SeededState>;
/// A hashbrown set using [`SeededState`].
pub type Set<K> = hashbrown::HashSet<K, SeededState>;

/// xorshift64* pseudo-random numbers (not cryptographic).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded with `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Rng {
        // splitmix the seed so that nearby seeds diverge at once.
        let mut z = seed.wrapping_add(K0);
        z = (z ^ (z >> 30)).wrapping_mul(K1);
        z = (z ^ (z >> 27)).wrapping_mul(K2);
        z ^= z >> 31;
        Rng {
            state: if z == 0 { K0 } else { z },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::BuildHasher;

    #[test]
    fn seeds_change_hashes() {
        let a = SeededState::new(1);
        let b = SeededState::new(2);
        assert_eq!(a.hash_one(b"key"), a.hash_one(b"key"));
        assert_ne!(a.hash_one(b"key"), b.hash_one(b"key"));
        assert_ne!(a.hash_one(b"key"), a.hash_one(b"kez"));
        assert_ne!(a.hash_one(&b"a"[..]), a.hash_one(&b"a\0"[..]));
    }

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(10) < 10);
            b.below(10);
        }
        let mut z = Rng::new(0);
        assert_ne!(z.next_u64(), 0);
    }
}
