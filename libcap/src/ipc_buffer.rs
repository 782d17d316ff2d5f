//! The calling thread's IPC buffer: one page of `u64` message words that
//! carries the words of a message past the four that travel in registers.
//!
//! Word `i` of a message lives at index `i` of the page, so indices
//! `0..REGISTER_WORDS` are unused (the registers carry those words) and
//! indices `REGISTER_WORDS..MAX_MESSAGE_WORDS` hold words 4 and up. Past
//! them lie the capability-transfer words of [`basalt_abi::ipc_buffer`]:
//! the capability a message carries ([`set_send_cap`]) and where a received
//! capability goes ([`set_receive_slot`]).
//!
//! libcap assumes the buffer is mapped read-write at [`ADDRESS`]: the kernel
//! maps the root task's there, and whoever builds another address space
//! maps that thread's buffer at the same address (see the crate
//! documentation). Two threads in one address space therefore cannot both
//! use words 4 and up yet.
//!
//! ```no_run
//! use libcap::ipc::{self, Message};
//! // Accept a capability into root-CNode slot 60 with the next message.
//! libcap::ipc_buffer::set_receive_slot(2, 60);
//! let r = ipc::recv(9).expect("recv");
//! assert!(r.has_cap());
//! ```

use basalt_abi::ipc_buffer::{RECV_CNODE, RECV_INDEX, SEND_CAP};
use basalt_abi::{MAX_MESSAGE_WORDS, REGISTER_WORDS};

/// Where libcap expects the calling thread's IPC buffer.
///
/// ```
/// assert_eq!(libcap::ipc_buffer::ADDRESS, 0x7fff_f000_1000);
/// ```
pub const ADDRESS: u64 = basalt_abi::boot_info::IPC_BUFFER_ADDR;

// The longest message fits in the buffer's one page.
const _: () = assert!(MAX_MESSAGE_WORDS * 8 <= 4096 && ADDRESS.is_multiple_of(4096));

/// Stores message words `REGISTER_WORDS..REGISTER_WORDS + words.len()` of
/// the next message.
///
/// # Panics
///
/// If the words would pass [`MAX_MESSAGE_WORDS`], or (on any target but
/// Basalt's) at all.
///
/// ```no_run
/// // Words 4 and 5 of the next message.
/// libcap::ipc_buffer::write_extra_words(&[4, 5]);
/// ```
pub fn write_extra_words(words: &[u64]) {
    assert!(
        REGISTER_WORDS + words.len() <= MAX_MESSAGE_WORDS,
        "a message has at most {MAX_MESSAGE_WORDS} words"
    );
    imp::write(REGISTER_WORDS, words);
}

/// Reads message word `index` (4 or more) of the last reply from the IPC
/// buffer.
///
/// # Panics
///
/// If `index` is below [`REGISTER_WORDS`] (those words come back in
/// registers) or not below [`MAX_MESSAGE_WORDS`], or (on any target but
/// Basalt's) at all.
///
/// ```no_run
/// let fifth = libcap::ipc_buffer::read_word(4);
/// # let _ = fifth;
/// ```
pub fn read_word(index: usize) -> u64 {
    assert!(
        (REGISTER_WORDS..MAX_MESSAGE_WORDS).contains(&index),
        "IPC buffer word {index} is not a word 4..{MAX_MESSAGE_WORDS} of a message"
    );
    imp::read(index)
}

/// Names the capability (an address in the caller's CSpace) that the next
/// message sent with [`MessageInfo::with_cap`](basalt_abi::MessageInfo::with_cap)
/// carries. [`crate::ipc`] calls it for messages that have a capability.
///
/// # Panics
///
/// On any target but Basalt's.
///
/// ```no_run
/// libcap::ipc_buffer::set_send_cap(40);
/// ```
pub fn set_send_cap(cap: u64) {
    imp::write(SEND_CAP, &[cap]);
}

/// Says where a capability that arrives with a received message goes: slot
/// `index` of the CNode at capability address `cnode`. The setting stays
/// until changed; `cnode` 0 (see [`clear_receive_slot`]) accepts no
/// capability, and a message whose capability cannot be placed (the slot is
/// occupied or invalid) arrives without it.
///
/// # Panics
///
/// On any target but Basalt's.
///
/// ```no_run
/// // A capability that arrives goes into root-CNode slot 60.
/// libcap::ipc_buffer::set_receive_slot(2, 60);
/// ```
pub fn set_receive_slot(cnode: u64, index: u64) {
    imp::write(RECV_CNODE, &[cnode, index]);
}

/// Accepts no capability with received messages (the receive CNode is 0).
///
/// # Panics
///
/// On any target but Basalt's.
///
/// ```no_run
/// libcap::ipc_buffer::clear_receive_slot();
/// ```
pub fn clear_receive_slot() {
    set_receive_slot(0, 0);
}

/// The receive slot as [`set_receive_slot`] last set it: `(cnode, index)`.
///
/// # Panics
///
/// On any target but Basalt's.
///
/// ```no_run
/// let (cnode, index) = libcap::ipc_buffer::receive_slot();
/// # let _ = (cnode, index);
/// ```
pub fn receive_slot() -> (u64, u64) {
    (imp::read(RECV_CNODE), imp::read(RECV_INDEX))
}

// The capability-transfer words follow the message words and fit the page.
const _: () =
    assert!(SEND_CAP >= MAX_MESSAGE_WORDS && RECV_CNODE + 1 == RECV_INDEX && RECV_INDEX < 512);

#[cfg(target_os = "none")]
mod imp {
    use super::ADDRESS;

    fn slot(index: usize) -> *mut u64 {
        (ADDRESS as *mut u64).wrapping_add(index)
    }

    pub(super) fn write(first: usize, words: &[u64]) {
        for (i, w) in words.iter().enumerate() {
            // SAFETY: by libcap's convention (crate documentation) the
            // calling thread's IPC buffer is mapped read-write at `ADDRESS`
            // and only this module accesses it; the callers keep the index
            // within the page. Volatile, because the kernel reads it.
            unsafe { slot(first + i).write_volatile(*w) };
        }
    }

    pub(super) fn read(index: usize) -> u64 {
        // SAFETY: as in `write`; the kernel writes reply words here.
        unsafe { slot(index).read_volatile() }
    }
}

#[cfg(not(target_os = "none"))]
mod imp {
    pub(super) fn write(_first: usize, _words: &[u64]) {
        panic!("the IPC buffer exists only under the Basalt kernel");
    }

    pub(super) fn read(_index: usize) -> u64 {
        panic!("the IPC buffer exists only under the Basalt kernel");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "at most")]
    fn too_many_words_are_refused_before_touching_memory() {
        write_extra_words(&[0; MAX_MESSAGE_WORDS]);
    }

    #[test]
    #[should_panic(expected = "is not a word")]
    fn register_words_are_not_read_from_the_buffer() {
        read_word(3);
    }
}
