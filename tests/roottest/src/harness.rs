//! The test harness: counters and report lines, the root CNode's slot
//! allocator, the test window of the root VSpace, and small helpers the
//! cases share.

use core::fmt::{self, Debug};
use libcap::abi::ObjectType;
use libcap::abi::boot_info::{ROOT_CNODE_BITS, slot};
use libcap::{BootInfo, Error, invoke, println};

/// The root CNode, the destination CNode of every retype and copy here.
pub const CNODE: u64 = slot::CNODE;
/// Slots in the root CNode.
pub const SLOTS: u64 = 1 << ROOT_CNODE_BITS;
/// The root task's VSpace.
pub const VSPACE: u64 = slot::VSPACE;

/// A 2 MiB window of the root VSpace, far from the program, its stack, the
/// boot-info page and the IPC buffer, where nothing is mapped at boot (no
/// page table at any level). The frame cases map its page tables and hand
/// out its pages one by one.
pub const WINDOW: u64 = 0x0000_1000_0000_0000;
/// Pages in [`WINDOW`]: what one page table covers.
const WINDOW_PAGES: u64 = 512;
/// Bytes in a page.
pub const PAGE: u64 = 4096;

/// A label no object type has: invoking a capability other than an
/// endpoint with it answers UnknownInvocation.
pub const PROBE_LABEL: u64 = 0xfff;

/// Whether capability address `cap` names a capability: `Ok` if it does,
/// `Err(InvalidCapability)` if it names an empty slot or nothing, without
/// changing anything.
///
/// A slot of the root CNode is probed by moving its capability onto its
/// own slot, which the kernel refuses with SlotOccupied for a capability of
/// any type (and InvalidCapability for an empty slot). Invoking the
/// capability with [`PROBE_LABEL`] would not do: on an endpoint, `Call` is
/// an IPC call, which waits for a receiver. Other addresses (0, past the
/// root CNode) resolve to nothing that could be an endpoint and are
/// invoked.
pub fn probe(cap: u64) -> Result<(), Error> {
    if (1..SLOTS).contains(&cap) {
        match invoke::cnode_move(CNODE, cap, CNODE, cap) {
            Err(Error::SlotOccupied) => Ok(()),
            // A kernel that moved a capability onto its own slot.
            Ok(()) => Err(Error::IllegalOperation),
            Err(e) => Err(e),
        }
    } else {
        invoke::raw(cap, PROBE_LABEL, &[]).map(drop)
    }
}

/// Runs the cases and counts the outcomes.
pub struct Suite {
    /// The boot-info page.
    pub boot: &'static BootInfo,
    passed: u32,
    failed: u32,
    next_slot: u64,
    /// Capability address of the untyped memory the cases retype objects
    /// from (the largest non-device untyped).
    pub memory: u64,
    /// Whether the page tables of [`WINDOW`] are mapped.
    pub window_ready: bool,
    next_page: u64,
    /// The window page for short-lived mappings, once taken.
    scratch: Option<u64>,
    /// A frame of device memory, once made (see [`Suite::device_frame`]).
    device: Option<u64>,
}

impl Suite {
    /// A suite that allocates root-CNode slots from the boot info's first
    /// free slot upwards.
    pub fn new(boot: &'static BootInfo) -> Self {
        Self {
            boot,
            passed: 0,
            failed: 0,
            next_slot: boot.first_free_slot,
            memory: 0,
            window_ready: false,
            next_page: 0,
            scratch: None,
            device: None,
        }
    }

    /// A fresh empty slot of the root CNode.
    pub fn slot(&mut self) -> u64 {
        self.slots(1)
    }

    /// `n` consecutive fresh empty slots of the root CNode; the first.
    ///
    /// # Panics
    ///
    /// When the root CNode is full: the suite needs fewer slots than that.
    pub fn slots(&mut self, n: u64) -> u64 {
        let first = self.next_slot;
        assert!(first + n <= SLOTS, "roottest ran out of root CNode slots");
        self.next_slot += n;
        first
    }

    /// The address of a fresh, never-mapped page of [`WINDOW`].
    ///
    /// # Panics
    ///
    /// When the window is used up: the suite needs fewer pages than that.
    pub fn page(&mut self) -> u64 {
        assert!(
            self.next_page < WINDOW_PAGES,
            "roottest ran out of window pages"
        );
        self.next_page += 1;
        WINDOW + (self.next_page - 1) * PAGE
    }

    /// One page of [`WINDOW`] kept for short-lived mappings (a frame is
    /// mapped there, filled and unmapped again): the same page every time.
    pub fn scratch_page(&mut self) -> u64 {
        match self.scratch {
            Some(page) => page,
            None => {
                let page = self.page();
                self.scratch = Some(page);
                page
            }
        }
    }

    /// Slots and window pages used so far: `(slots, pages)`.
    pub fn usage(&self) -> (u64, u64) {
        (self.next_slot, self.next_page)
    }

    /// Records a passed case.
    pub fn pass(&mut self, name: &str) {
        self.passed += 1;
        println!("ok   {name}");
    }

    /// Records a failed case: what it expected and what it got.
    pub fn fail(&mut self, name: &str, expected: fmt::Arguments<'_>, got: fmt::Arguments<'_>) {
        self.failed += 1;
        println!("FAIL {name}: {expected} vs {got}");
    }

    /// Passes if `cond` holds; otherwise fails with `expected` vs `got`.
    pub fn check(
        &mut self,
        name: &str,
        cond: bool,
        expected: fmt::Arguments<'_>,
        got: fmt::Arguments<'_>,
    ) -> bool {
        if cond {
            self.pass(name);
        } else {
            self.fail(name, expected, got);
        }
        cond
    }

    /// Passes if `got` is exactly the error `want`.
    pub fn expect_err<T: Debug>(&mut self, name: &str, want: Error, got: Result<T, Error>) -> bool {
        self.check(
            name,
            got.as_ref().err() == Some(&want),
            format_args!("Err({want:?})"),
            format_args!("{got:?}"),
        )
    }

    /// Passes if `got` is a success, and returns its value.
    pub fn expect_ok<T: Debug>(&mut self, name: &str, got: Result<T, Error>) -> Option<T> {
        match got {
            Ok(v) => {
                self.pass(name);
                Some(v)
            }
            Err(e) => {
                self.fail(name, format_args!("Ok"), format_args!("Err({e:?})"));
                None
            }
        }
    }

    /// Passes if `got == want`.
    pub fn expect_eq<T: PartialEq + Debug>(&mut self, name: &str, want: T, got: T) -> bool {
        self.check(
            name,
            got == want,
            format_args!("{want:#x?}"),
            format_args!("{got:#x?}"),
        )
    }

    /// Passes if slot `cap` is empty (see [`probe`]).
    pub fn expect_empty(&mut self, name: &str, cap: u64) -> bool {
        self.expect_err(name, Error::InvalidCapability, probe(cap))
    }

    /// Passes if slot `cap` holds a capability (see [`probe`]).
    pub fn expect_occupied(&mut self, name: &str, cap: u64) -> bool {
        self.expect_eq(name, Ok(()), probe(cap))
    }

    /// A step a group of cases needs but does not test: counts as a failed
    /// case (named `setup: <what>`) only when it fails, and returns its
    /// value.
    pub fn setup<T: Debug>(&mut self, what: &str, got: Result<T, Error>) -> Option<T> {
        match got {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed += 1;
                println!("FAIL setup: {what}: Ok vs Err({e:?})");
                None
            }
        }
    }

    /// Retypes one object of type `ty` from [`Suite::memory`] into a fresh
    /// slot, as a setup step; returns the slot.
    pub fn object(&mut self, ty: ObjectType, size_bits: u64) -> Option<u64> {
        self.object_in(self.memory, ty, size_bits)
    }

    /// Retypes one object of type `ty` from the untyped at `untyped` into a
    /// fresh slot, as a setup step; returns the slot.
    pub fn object_in(&mut self, untyped: u64, ty: ObjectType, size_bits: u64) -> Option<u64> {
        let dest = self.slot();
        let result = invoke::untyped_retype(untyped, ty, size_bits, 1, CNODE, dest);
        let mut what = [0u8; 32];
        let what = describe(&mut what, format_args!("retype {ty:?}"));
        self.setup(what, result).map(|()| dest)
    }

    /// A copy of `src` with all of its rights in a fresh slot, as a setup
    /// step; returns the slot.
    pub fn copy(&mut self, src: u64) -> Option<u64> {
        self.slot_copy(src, libcap::abi::Rights::all())
    }

    /// A copy of `src` with only `rights` in a fresh slot, as a setup step;
    /// returns the slot.
    pub fn slot_copy(&mut self, src: u64, rights: libcap::abi::Rights) -> Option<u64> {
        let dest = self.slot();
        let result = invoke::cnode_copy(CNODE, dest, CNODE, src, rights);
        self.setup("copy a capability", result).map(|()| dest)
    }

    /// A 4 KiB frame of device memory, from the first device untyped the
    /// boot info lists that has room (made once and kept). Nothing in the
    /// suite reads or writes it from user mode: the cases use it to see the
    /// kernel refuse to touch device memory itself. `None` (a failed setup
    /// step) when no device untyped has room.
    pub fn device_frame(&mut self) -> Option<u64> {
        if self.device.is_none() {
            let dest = self.slot();
            let bi = self.boot;
            let made = bi.untyped[..bi.untyped_count as usize]
                .iter()
                .enumerate()
                .filter(|(_, u)| u.is_device != 0)
                .any(|(i, _)| {
                    let untyped = slot::FIRST_UNTYPED + i as u64;
                    invoke::untyped_retype(untyped, ObjectType::Frame4K, 0, 1, CNODE, dest).is_ok()
                });
            self.device = self
                .setup(
                    "a frame of device memory",
                    if made {
                        Ok(dest)
                    } else {
                        Err(Error::NotEnoughMemory)
                    },
                )
                .filter(|_| made);
        }
        self.device
    }

    /// Prints the summary line `roottest: N passed, M failed` and ends the
    /// run: success if no case failed.
    pub fn finish(&self) -> ! {
        let (slots, pages) = self.usage();
        println!(
            "roottest: used {slots} of {SLOTS} root slots, {pages} of {WINDOW_PAGES} window pages"
        );
        println!("roottest: {} passed, {} failed", self.passed, self.failed);
        libcap::syscall::debug_exit(self.failed == 0)
    }
}

/// Formats `args` into `buf` (cut short if it does not fit).
pub fn describe<'a>(buf: &'a mut [u8], args: fmt::Arguments<'_>) -> &'a str {
    struct Cursor<'b>(&'b mut [u8], usize);
    impl fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for &b in s.as_bytes() {
                if self.1 < self.0.len() {
                    self.0[self.1] = b;
                    self.1 += 1;
                }
            }
            Ok(())
        }
    }
    let mut c = Cursor(buf, 0);
    let _ = fmt::Write::write_fmt(&mut c, args);
    let len = c.1;
    // Only ASCII is formatted here, so any prefix is valid UTF-8.
    core::str::from_utf8(&buf[..len]).unwrap_or("?")
}

/// Reads word `index` of the page mapped at `page`.
///
/// # Safety
///
/// A frame is mapped readable at `page` in the root VSpace, and `index` is
/// below 512.
pub unsafe fn peek(page: u64, index: usize) -> u64 {
    // SAFETY: per the caller's contract the word is mapped; volatile because
    // other threads and the kernel change these pages behind the compiler.
    unsafe { (page as *const u64).add(index).read_volatile() }
}

/// Writes word `index` of the page mapped at `page`.
///
/// # Safety
///
/// A frame is mapped writable at `page` in the root VSpace, no Rust
/// reference points into it, and `index` is below 512.
pub unsafe fn poke(page: u64, index: usize, value: u64) {
    // SAFETY: per the caller's contract the word is mapped writable and
    // nothing else in this program aliases it.
    unsafe { (page as *mut u64).add(index).write_volatile(value) }
}

/// Whether every word of the page mapped at `page` is zero.
///
/// # Safety
///
/// As for [`peek`].
pub unsafe fn page_is_zero(page: u64) -> bool {
    // SAFETY: the caller's contract covers every index below 512.
    (0..512).all(|i| unsafe { peek(page, i) } == 0)
}
