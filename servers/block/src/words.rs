//! Memory a controller reads and writes by physical address behind the
//! program's back (queues, command tables, identify data), held as atomic
//! words so that both sides may touch it without `unsafe` in the drivers.

use core::sync::atomic::{AtomicU64, Ordering};

/// Words of DMA memory and where the controller finds the first.
#[derive(Debug)]
pub struct Words {
    /// The words.
    pub words: &'static [AtomicU64],
    /// Their physical address.
    pub phys: u64,
}

impl Words {
    /// Byte `at` (little-endian, as the controllers write it).
    pub fn byte(&self, at: usize) -> u8 {
        (self.words[at / 8].load(Ordering::Acquire) >> (8 * (at % 8))) as u8
    }

    /// The 16-bit word at byte `at` (even).
    pub fn half(&self, at: usize) -> u16 {
        u16::from(self.byte(at)) | u16::from(self.byte(at + 1)) << 8
    }

    /// Sets every word to 0.
    pub fn clear(&self) {
        for w in self.words {
            w.store(0, Ordering::Relaxed);
        }
    }
}
