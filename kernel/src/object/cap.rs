//! Capabilities: what a slot holds. A capability names one object (by the
//! kernel address of its memory) and carries the rights and the badge or
//! guard that this particular reference grants.

use super::objref::TcbRef;
use basalt_abi::Rights;
use core::num::NonZeroU64;

/// An address space identifier: the index of a VSpace in the kernel's
/// address-space table (and its PCID). 0 means "not mapped".
pub type Asid = u16;

/// ASIDs are 12 bits (they double as PCIDs); 0 is never used.
pub const ASID_BITS: u32 = 12;

/// Where a frame or page table is mapped: a page-aligned user address and
/// the ASID, packed into one word (the ASID in the low 12 bits). A frame
/// capability maps its frame at most once, and its copies start unmapped
/// (a frame may be mapped in many places, once per capability). A page
/// table is mapped at most once at all: the record belongs to the table,
/// and every copy of its capability carries it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mapping(NonZeroU64);

impl Mapping {
    pub fn new(asid: Asid, vaddr: u64) -> Self {
        debug_assert!(asid != 0 && u32::from(asid) < 1 << ASID_BITS && vaddr.is_multiple_of(4096));
        Self(NonZeroU64::new(vaddr | u64::from(asid)).expect("ASID 0 is never used"))
    }

    pub fn asid(self) -> Asid {
        (self.0.get() & ((1 << ASID_BITS) - 1)) as Asid
    }

    pub fn vaddr(self) -> u64 {
        self.0.get() & !((1 << ASID_BITS) - 1)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Cap {
    #[default]
    Null,
    /// `2^size_bits` bytes of memory at `base`, of which `[base, base +
    /// watermark)` has been handed out, and `[base + watermark, base +
    /// zeroed)` is known to hold zeroes (a retype preempted while zeroing
    /// the memory for its objects keeps its progress here).
    Untyped {
        base: u64,
        size_bits: u8,
        device: bool,
        watermark: u64,
        zeroed: u64,
    },
    Endpoint {
        base: u64,
        badge: u64,
        rights: Rights,
    },
    Notification {
        base: u64,
        badge: u64,
        rights: Rights,
    },
    /// A CNode of `2^radix` slots. Resolving a capability address through
    /// it consumes `guard_bits` bits that must equal `guard`, then `radix`
    /// bits of index.
    CNode {
        base: u64,
        radix: u8,
        guard: u64,
        guard_bits: u8,
    },
    Tcb {
        base: u64,
    },
    VSpace {
        base: u64,
        asid: Asid,
    },
    /// A paging structure below the PML4: `level` 3 (PDPT), 2 (page
    /// directory) or 1 (page table), fixed when it was made. `mapping` is
    /// where it covers from (its entry is in the table one level up).
    PageTable {
        base: u64,
        mapping: Option<Mapping>,
        level: u8,
    },
    Frame {
        base: u64,
        large: bool,
        device: bool,
        rights: Rights,
        mapping: Option<Mapping>,
    },
    IrqControl,
    IrqHandler {
        irq: u8,
    },
    IoPortControl,
    /// The inclusive port range `first..=last`.
    IoPort {
        first: u16,
        last: u16,
    },
    /// The kernel console: who holds it may write to the serial port.
    Console,
    /// A one-shot reply capability (`SaveReply`): answering through it
    /// wakes `caller`, which waits for the reply to its call. `caller` is
    /// `None` once that thread is gone (suspended, restarted or destroyed):
    /// the capability is dead and answering fails. It is never copied or
    /// moved, so the caller's TCB can name the one slot that holds it
    /// (`IpcState::reply_slot`), and clears `caller` before it goes.
    Reply {
        caller: Option<TcbRef>,
    },
}

/// The identity of the object a capability refers to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ObjectId {
    /// Untyped memory: its first object starts at the same address.
    Untyped(u64),
    /// Any other object made from memory.
    Memory(u64),
    Irq(u8),
    IoPorts(u16, u16),
    IrqControl,
    IoPortControl,
    Console,
    /// A reply capability: never derived from or to anything, so whether
    /// two are "the same object" matters nowhere.
    Reply,
}

impl Cap {
    pub fn is_null(&self) -> bool {
        matches!(self, Cap::Null)
    }

    /// The object this capability refers to.
    pub fn object(&self) -> Option<ObjectId> {
        Some(match *self {
            Cap::Null => return None,
            Cap::Untyped { base, .. } => ObjectId::Untyped(base),
            Cap::Endpoint { base, .. }
            | Cap::Notification { base, .. }
            | Cap::CNode { base, .. }
            | Cap::Tcb { base }
            | Cap::VSpace { base, .. }
            | Cap::PageTable { base, .. }
            | Cap::Frame { base, .. } => ObjectId::Memory(base),
            Cap::IrqControl => ObjectId::IrqControl,
            Cap::IrqHandler { irq } => ObjectId::Irq(irq),
            Cap::IoPortControl => ObjectId::IoPortControl,
            Cap::IoPort { first, last } => ObjectId::IoPorts(first, last),
            Cap::Console => ObjectId::Console,
            Cap::Reply { .. } => ObjectId::Reply,
        })
    }

    /// Issuers hand out *other* objects: their children in the derivation
    /// tree are distinct objects, not copies. There is exactly one
    /// capability to each issuer, so they cannot be copied.
    pub fn is_issuer(&self) -> bool {
        matches!(
            self,
            Cap::Untyped { .. } | Cap::IrqControl | Cap::IoPortControl
        )
    }

    /// Rights as far as they apply (objects without rights have all).
    pub fn rights(&self) -> Rights {
        match *self {
            Cap::Endpoint { rights, .. }
            | Cap::Notification { rights, .. }
            | Cap::Frame { rights, .. } => rights,
            _ => Rights::all(),
        }
    }

    /// The capability with its rights reduced to `mask`; rights never grow.
    pub fn with_rights_masked(mut self, mask: Rights) -> Self {
        match &mut self {
            Cap::Endpoint { rights, .. }
            | Cap::Notification { rights, .. }
            | Cap::Frame { rights, .. } => *rights &= mask,
            _ => {}
        }
        self
    }

    /// Whether the capability must stay in the slot it was put in:
    /// reply capabilities are neither copied, minted, moved nor mutated
    /// (the caller they answer keeps the address of their slot).
    pub fn is_pinned(&self) -> bool {
        matches!(self, Cap::Reply { .. })
    }

    /// The same frame or page-table capability recording `mapping` (any
    /// other capability unchanged).
    pub fn with_mapping(mut self, to: Option<Mapping>) -> Self {
        if let Cap::Frame { mapping, .. } | Cap::PageTable { mapping, .. } = &mut self {
            *mapping = to;
        }
        self
    }

    /// What a fresh copy looks like: a frame's mapping belongs to the
    /// capability that made it, so a copy of a frame capability starts
    /// unmapped. A page table's mapping belongs to the table (see
    /// [`Mapping`]), and the copy keeps it.
    pub fn fresh_copy(self) -> Self {
        match self {
            Cap::Frame { .. } => self.with_mapping(None),
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capability_fits_half_a_slot() {
        assert!(size_of::<Cap>() <= 32, "Cap is {} bytes", size_of::<Cap>());
    }

    #[test]
    fn mappings_pack_and_unpack() {
        let m = Mapping::new(4095, 0x7fff_ffff_f000);
        assert_eq!((m.asid(), m.vaddr()), (4095, 0x7fff_ffff_f000));
    }

    #[test]
    fn masking_never_adds_rights() {
        let cap = Cap::Endpoint {
            base: 64,
            badge: 0,
            rights: Rights::READ,
        };
        let masked = cap.with_rights_masked(Rights::all());
        assert_eq!(masked.rights(), Rights::READ);
    }

    #[test]
    fn page_table_copies_keep_the_tables_mapping() {
        let m = Some(Mapping::new(3, 0x20_0000));
        let pt = Cap::PageTable {
            base: 0,
            mapping: m,
            level: 1,
        };
        assert_eq!(pt.fresh_copy(), pt);
    }

    #[test]
    fn copies_start_unmapped() {
        let m = Some(Mapping::new(3, 0x1000));
        let frame = Cap::Frame {
            base: 0,
            large: false,
            device: false,
            rights: Rights::READ,
            mapping: m,
        };
        assert!(matches!(
            frame.fresh_copy(),
            Cap::Frame { mapping: None, .. }
        ));
    }
}
