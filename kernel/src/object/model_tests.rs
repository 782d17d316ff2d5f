//! The object model checked against a reference model.
//!
//! A test "machine" gives the object model real memory (a host allocation
//! standing in for untyped RAM) and records what it is asked to do. Random
//! operation sequences run against both the kernel code and a simple model
//! that tracks, for every capability, which capability it was derived from,
//! its rights and its badge; after every step the invariants are checked:
//! no capability survives the revoke of an ancestor, rights never grow, no
//! memory is handed out twice, a destroyed object is unreachable, and a
//! failed operation changes nothing.
//!
//! The recorder also keeps page tables the way the MMU reads them: entries
//! in the tables' own memory, walked from each address space's PML4. After
//! every step the mappings are checked too: every table is mapped at most
//! once and only one level below its parent, every copy of a table's
//! capability says where it is, and every page reachable from an address
//! space is a frame whose capability recorded that mapping, with at least
//! the rights the entry gives.

use super::cap::{Asid, Cap, Mapping, ObjectId};
use super::cnode::{self, slot_at};
use super::objects::object_size_bits;
use super::objref::{EndpointRef, NotificationRef, TcbRef};
use super::ops::{self, Machine, Progress};
use super::oracle;
use super::slot::{SLOT_BITS, SlotRef};
use super::tcb::Tcb;
use basalt_abi::{Error, ObjectType, Rights};
use proptest::prelude::*;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::collections::{BTreeMap, BTreeSet};

/// Host memory standing in for physical memory, freed on drop.
struct Arena {
    ptr: *mut u8,
    layout: Layout,
}

impl Arena {
    fn new(bits: u8) -> Self {
        let layout = Layout::from_size_align(1 << bits, 1 << bits).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }
    fn base(&self) -> u64 {
        self.ptr as u64
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

#[derive(Default)]
struct Recorder {
    /// Each live address space's PML4, by ASID.
    pml4s: BTreeMap<Asid, u64>,
    forgotten_threads: Vec<u64>,
    dropped_replies: Vec<u64>,
    /// Preemption points passed: the recorder stops at every other one,
    /// unless `uninterrupted`.
    preemption_points: u64,
    uninterrupted: bool,
}

/// Page-table entries as the recorder writes them into a table's memory:
/// the address of what it points at, and these bits.
mod pte {
    pub const PRESENT: u64 = 1;
    /// The entry points at a table (else at a frame).
    pub const TABLE: u64 = 2;
    /// A 2 MiB frame.
    pub const LARGE: u64 = 4;
    /// The frame's rights, from this bit up.
    pub const RIGHTS_SHIFT: u32 = 5;
    pub const ADDRESS: u64 = !0xfff;
}

fn pte_index(vaddr: u64, level: u8) -> usize {
    ((vaddr >> (12 + 9 * (u32::from(level) - 1))) & 0x1ff) as usize
}

/// Entry `i` of the table object at `table`.
fn pte_ptr(table: u64, i: usize) -> *mut u64 {
    (table + 8 * i as u64) as *mut u64
}

fn read_pte(table: u64, i: usize) -> u64 {
    // SAFETY: `table` is a page-table or VSpace object in the test's
    // arena: 4 KiB of host memory, 512 entries.
    unsafe { pte_ptr(table, i).read() }
}

fn write_pte(table: u64, i: usize, value: u64) {
    // SAFETY: as in `read_pte`; nothing else refers to the entry.
    unsafe { pte_ptr(table, i).write(value) }
}

/// Bytes an entry of a table at `level` (4 = PML4) covers.
fn covered_by_entry(level: u8) -> u64 {
    1 << (12 + 9 * (u32::from(level) - 1))
}

impl Recorder {
    /// The table at `level` covering `vaddr`, walking present table
    /// entries down from the PML4.
    fn walk(&self, pml4: u64, vaddr: u64, level: u8) -> Option<u64> {
        let mut t = pml4;
        for l in (level + 1..=4).rev() {
            let e = read_pte(t, pte_index(vaddr, l));
            if e & pte::PRESENT == 0 || e & pte::TABLE == 0 {
                return None;
            }
            t = e & pte::ADDRESS;
        }
        Some(t)
    }
}

impl Machine for Recorder {
    fn create_vspace(&mut self, base: u64) -> Option<Asid> {
        let asid = (1..16).find(|a| !self.pml4s.contains_key(a))?;
        assert!(
            !self.pml4s.values().any(|&b| b == base),
            "two live VSpaces at {base:#x}"
        );
        self.pml4s.insert(asid, base);
        Some(asid)
    }
    fn destroy_vspace(&mut self, asid: Asid, base: u64) {
        assert_eq!(
            self.pml4s.remove(&asid),
            Some(base),
            "ASID {asid} freed twice, or for another VSpace"
        );
    }
    fn map_frame(
        &mut self,
        asid: Asid,
        vaddr: u64,
        base: u64,
        large: bool,
        _device: bool,
        rights: Rights,
    ) -> Result<(), Error> {
        let pml4 = *self.pml4s.get(&asid).ok_or(Error::InvalidCapability)?;
        let level = if large { 2 } else { 1 };
        let t = self
            .walk(pml4, vaddr, level)
            .ok_or(Error::MissingPageTable)?;
        let i = pte_index(vaddr, level);
        if read_pte(t, i) != 0 {
            return Err(Error::AlreadyMapped);
        }
        let size = if large { pte::LARGE } else { 0 };
        write_pte(
            t,
            i,
            base | pte::PRESENT | size | u64::from(rights.bits()) << pte::RIGHTS_SHIFT,
        );
        Ok(())
    }
    fn unmap_frame(&mut self, m: Mapping, base: u64, large: bool) {
        let Some(&pml4) = self.pml4s.get(&m.asid()) else {
            return;
        };
        let level = if large { 2 } else { 1 };
        if let Some(t) = self.walk(pml4, m.vaddr(), level) {
            let i = pte_index(m.vaddr(), level);
            let e = read_pte(t, i);
            if e & pte::PRESENT != 0 && e & pte::TABLE == 0 && e & pte::ADDRESS == base {
                write_pte(t, i, 0);
            }
        }
    }
    fn map_page_table(
        &mut self,
        asid: Asid,
        level: u8,
        vaddr: u64,
        base: u64,
    ) -> Result<u64, Error> {
        let pml4 = *self.pml4s.get(&asid).ok_or(Error::InvalidCapability)?;
        let parent = self
            .walk(pml4, vaddr, level + 1)
            .ok_or(Error::MissingPageTable)?;
        let i = pte_index(vaddr, level + 1);
        if read_pte(parent, i) != 0 {
            return Err(Error::AlreadyMapped);
        }
        write_pte(parent, i, base | pte::PRESENT | pte::TABLE);
        Ok(vaddr & !(covered_by_entry(level + 1) - 1))
    }
    fn unmap_page_table(&mut self, m: Mapping, level: u8, base: u64) {
        let Some(&pml4) = self.pml4s.get(&m.asid()) else {
            return;
        };
        if let Some(parent) = self.walk(pml4, m.vaddr(), level + 1) {
            let i = pte_index(m.vaddr(), level + 1);
            if read_pte(parent, i) == base | pte::PRESENT | pte::TABLE {
                write_pte(parent, i, 0);
            }
        }
    }
    fn clear_page_table(&mut self, base: u64) {
        for i in 0..512 {
            write_pte(base, i, 0);
        }
    }
    fn preempt(&mut self) -> bool {
        self.preemption_points += 1;
        !self.uninterrupted && self.preemption_points.is_multiple_of(2)
    }
    fn release_irq(&mut self, _irq: u8) {}
    fn forget_thread(&mut self, tcb: TcbRef) {
        self.forgotten_threads.push(tcb.addr());
    }
    fn destroy_endpoint(&mut self, _ep: EndpointRef) {}
    fn destroy_notification(&mut self, _ntfn: NotificationRef) {}
    fn drop_reply(&mut self, caller: TcbRef) {
        self.dropped_replies.push(caller.addr());
    }
    // The model invokes no threads (`ipc` and the boot tests do).
    fn set_priority(&mut self, _tcb: TcbRef, _priority: u8) {
        unreachable!("the model does not schedule threads")
    }
    fn resume(&mut self, _tcb: TcbRef) {
        unreachable!("the model does not schedule threads")
    }
    fn suspend(&mut self, _tcb: TcbRef) {
        unreachable!("the model does not schedule threads")
    }
}

const ROOT_RADIX: u8 = 5;
const UNTYPED_BITS: u8 = 18;

/// A root CNode (in its own arena) holding one untyped capability over a
/// second arena in slot 1.
struct World {
    _cnode_mem: Arena,
    untyped_mem: Arena,
    root: Cap,
    machine: Recorder,
}

impl World {
    fn new() -> Self {
        let cnode_mem = Arena::new(cnode::cnode_size_bits(ROOT_RADIX));
        let untyped_mem = Arena::new(UNTYPED_BITS);
        let root = Cap::CNode {
            base: cnode_mem.base(),
            radix: ROOT_RADIX,
            guard: 0,
            guard_bits: 64 - ROOT_RADIX,
        };
        let ut = Cap::Untyped {
            base: untyped_mem.base(),
            size_bits: UNTYPED_BITS,
            device: false,
            watermark: 0,
            zeroed: 0,
        };
        // SAFETY: slot 1 of the freshly zeroed root CNode.
        unsafe { slot_at(cnode_mem.base(), 1) }.install_root(ut);
        Self {
            _cnode_mem: cnode_mem,
            untyped_mem,
            root,
            machine: Recorder::default(),
        }
    }

    fn root_slot(&self, index: u64) -> SlotRef {
        cnode::index_slot(self.root, index).unwrap()
    }

    /// Every slot reachable from the root: the root's slots, then those of
    /// every CNode reachable through them (breadth first, each once).
    fn slots(&self) -> Vec<SlotRef> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::from([self.root_base()]);
        let mut cnodes = std::collections::VecDeque::from([(self.root_base(), ROOT_RADIX)]);
        while let Some((base, radix)) = cnodes.pop_front() {
            for j in 1..1u64 << radix {
                // SAFETY: a live CNode of 2^radix slots.
                let slot = unsafe { slot_at(base, j) };
                if let Cap::CNode { base, radix, .. } = slot.cap()
                    && seen.insert(base)
                {
                    cnodes.push_back((base, radix));
                }
                out.push(slot);
            }
        }
        out
    }

    fn root_base(&self) -> u64 {
        match self.root {
            Cap::CNode { base, .. } => base,
            _ => unreachable!(),
        }
    }

    fn snapshot(&self) -> Vec<(u64, Cap)> {
        self.slots().iter().map(|s| (s.addr(), s.cap())).collect()
    }
}

/// What the model knows about one capability (keyed by its id).
#[derive(Clone, Debug)]
struct ModelCap {
    slot: u64,
    object: ObjectId,
    rights: Rights,
    badge: u64,
    /// Ids of the capabilities it was derived from, nearest first.
    ancestors: Vec<u64>,
}

#[derive(Default)]
struct Model {
    caps: BTreeMap<u64, ModelCap>,
    next_id: u64,
}

impl Model {
    fn id_at(&self, slot: u64) -> Option<u64> {
        self.caps
            .iter()
            .find(|(_, c)| c.slot == slot)
            .map(|(id, _)| *id)
    }

    fn add(&mut self, c: ModelCap) -> u64 {
        self.next_id += 1;
        self.caps.insert(self.next_id, c);
        self.next_id
    }

    /// Drops the model's view of capabilities no longer in the kernel.
    fn sync_removed(&mut self, world: &World) -> Vec<ModelCap> {
        let live: BTreeMap<u64, Cap> = world.snapshot().into_iter().collect();
        let gone: Vec<u64> = self
            .caps
            .iter()
            .filter(|(_, c)| live.get(&c.slot).and_then(|cap| cap.object()) != Some(c.object))
            .map(|(id, _)| *id)
            .collect();
        gone.iter()
            .map(|id| self.caps.remove(id).unwrap())
            .collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Retype {
        ut: usize,
        ty: u8,
        count: u64,
        dest: usize,
    },
    Copy {
        src: usize,
        dest: usize,
        rights: u8,
    },
    Mint {
        src: usize,
        dest: usize,
        rights: u8,
        badge: u64,
    },
    Move {
        src: usize,
        dest: usize,
    },
    Delete {
        slot: usize,
    },
    Revoke {
        slot: usize,
    },
    MapFrame {
        frame: usize,
        vspace: usize,
        addr: usize,
        rights: u8,
    },
    UnmapFrame {
        frame: usize,
    },
    MapTable {
        table: usize,
        vspace: usize,
        addr: usize,
    },
    UnmapTable {
        table: usize,
    },
}

/// Addresses to map at: a few that share tables at each level, one in
/// another 512 GiB region, the last page of the user half (refused) and
/// the first non-canonical address.
const ADDRS: [u64; 8] = [
    0x0,
    0x1000,
    0x20_0000,
    0x4000_0000,
    0x80_0000_0000,
    0x80_0020_1000,
    0x7fff_ffff_f000,
    0x8000_0000_0000,
];

fn op() -> impl Strategy<Value = Op> {
    let idx = 0usize..64;
    prop_oneof![
        3 => (idx.clone(), 0u8..TYPES.len() as u8, 1u64..4, idx.clone()).prop_map(|(ut, ty, count, dest)| Op::Retype { ut, ty, count, dest }),
        3 => (idx.clone(), idx.clone(), 0u8..32).prop_map(|(src, dest, rights)| Op::Copy { src, dest, rights }),
        2 => (idx.clone(), idx.clone(), 0u8..32, 0u64..3).prop_map(|(src, dest, rights, badge)| Op::Mint { src, dest, rights, badge }),
        1 => (idx.clone(), idx.clone()).prop_map(|(src, dest)| Op::Move { src, dest }),
        2 => idx.clone().prop_map(|slot| Op::Delete { slot }),
        1 => idx.clone().prop_map(|slot| Op::Revoke { slot }),
        3 => (idx.clone(), idx.clone(), 0..ADDRS.len(), 0u8..8).prop_map(|(frame, vspace, addr, rights)| Op::MapFrame { frame, vspace, addr, rights }),
        1 => idx.clone().prop_map(|frame| Op::UnmapFrame { frame }),
        4 => (idx.clone(), idx.clone(), 0..ADDRS.len()).prop_map(|(table, vspace, addr)| Op::MapTable { table, vspace, addr }),
        1 => idx.prop_map(|table| Op::UnmapTable { table }),
    ]
}

/// Operations that mostly map and unmap, among copies and deletions.
fn mapping_op() -> impl Strategy<Value = Op> {
    let idx = 0usize..64;
    prop_oneof![
        5 => (idx.clone(), idx.clone(), 0..ADDRS.len(), prop_oneof![Just(1u8), Just(3), Just(5), 0u8..32]).prop_map(|(frame, vspace, addr, rights)| Op::MapFrame { frame, vspace, addr, rights }),
        3 => idx.clone().prop_map(|frame| Op::UnmapFrame { frame }),
        6 => (idx.clone(), idx.clone(), 0..ADDRS.len()).prop_map(|(table, vspace, addr)| Op::MapTable { table, vspace, addr }),
        2 => idx.clone().prop_map(|table| Op::UnmapTable { table }),
        2 => (idx.clone(), idx.clone(), 0u8..32).prop_map(|(src, dest, rights)| Op::Copy { src, dest, rights }),
        1 => (idx.clone(), idx.clone()).prop_map(|(src, dest)| Op::Move { src, dest }),
        1 => idx.clone().prop_map(|slot| Op::Delete { slot }),
        1 => idx.prop_map(|slot| Op::Revoke { slot }),
    ]
}

/// Objects to map, made before a [`mapping_op`] sequence: two address
/// spaces, tables of every level and frames for both, and a full chain of
/// tables in each address space (so that frames map from the first step).
fn mapping_prelude() -> Vec<Op> {
    // In slot order: 2 VSpaces, then tables (3 PDPTs, 4 page directories,
    // 5 page tables), then 8 frames.
    let made = [(5, 2), (9, 3), (8, 4), (7, 5), (4, 8)]
        .into_iter()
        .map(|(ty, count)| Op::Retype {
            ut: 0,
            ty,
            count,
            dest: 0,
        });
    // PDPT, page directory and page table at ADDRS[0] of the first
    // address space and at ADDRS[4] of the second.
    let chains = [
        (0, 0, 0),
        (3, 0, 0),
        (7, 0, 0),
        (1, 1, 4),
        (4, 1, 4),
        (8, 1, 4),
    ]
    .into_iter()
    .map(|(table, vspace, addr)| Op::MapTable {
        table,
        vspace,
        addr,
    });
    made.chain(chains).collect()
}

const TYPES: [(ObjectType, u64); 10] = [
    (ObjectType::Endpoint, 0),
    (ObjectType::Notification, 0),
    (ObjectType::CNode, 2),
    (ObjectType::Tcb, 0),
    (ObjectType::Frame4K, 0),
    (ObjectType::VSpace, 0),
    (ObjectType::Untyped, 13),
    (ObjectType::PageTable, 0),
    (ObjectType::PageDirectory, 0),
    (ObjectType::Pdpt, 0),
];

/// Whether the capability type carries rights at all.
fn has_rights(cap: &Cap) -> bool {
    matches!(
        cap,
        Cap::Endpoint { .. } | Cap::Notification { .. } | Cap::Frame { .. }
    )
}

fn object_bytes(cap: &Cap) -> u64 {
    let (ty, bits) = match *cap {
        Cap::Untyped { size_bits, .. } => return 1 << size_bits,
        Cap::Endpoint { .. } => (ObjectType::Endpoint, 0),
        Cap::Notification { .. } => (ObjectType::Notification, 0),
        Cap::CNode { radix, .. } => (ObjectType::CNode, u64::from(radix)),
        Cap::Tcb { .. } => (ObjectType::Tcb, 0),
        Cap::Frame { .. } => (ObjectType::Frame4K, 0),
        Cap::VSpace { .. } => (ObjectType::VSpace, 0),
        Cap::PageTable { .. } => (ObjectType::PageTable, 0),
        _ => return 0,
    };
    1 << object_size_bits(ty, bits).unwrap()
}

fn is_kernel_descendant(mut slot: SlotRef, ancestor: SlotRef) -> bool {
    while let Some(p) = slot.parent() {
        if p == ancestor {
            return true;
        }
        slot = p;
    }
    false
}

fn check_invariants(world: &World, model: &Model) {
    let slots = world.slots();
    let live: Vec<(SlotRef, Cap)> = slots
        .iter()
        .map(|s| (*s, s.cap()))
        .filter(|(_, c)| !c.is_null())
        .collect();

    // The model and the kernel agree on every capability, and rights and
    // badges are what derivation allowed.
    for c in model.caps.values() {
        let (_, cap) = live
            .iter()
            .find(|(s, _)| s.addr() == c.slot)
            .expect("model capability missing");
        assert_eq!(cap.object(), Some(c.object));
        assert_eq!(cap.rights(), c.rights, "rights differ for {cap:?}");
        if let Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } = cap {
            assert_eq!(*badge, c.badge);
        }
    }
    assert_eq!(
        live.len(),
        model.caps.len(),
        "the kernel holds capabilities the model does not know"
    );

    // No memory is handed out twice: two objects overlap only when one is
    // an untyped and the other was made from it.
    let mut regions: Vec<(SlotRef, Cap, u64, u64)> = Vec::new();
    for (s, cap) in &live {
        if let Some(ObjectId::Memory(base) | ObjectId::Untyped(base)) = cap.object() {
            regions.push((*s, *cap, base, base + object_bytes(cap)));
        }
    }
    for (i, a) in regions.iter().enumerate() {
        for b in &regions[i + 1..] {
            if a.2 == b.2
                && a.1.object() == b.1.object()
                && std::mem::discriminant(&a.1) == std::mem::discriminant(&b.1)
            {
                continue;
            }
            let overlap = a.2 < b.3 && b.2 < a.3;
            if overlap {
                let nested = (matches!(a.1, Cap::Untyped { .. }) && is_kernel_descendant(b.0, a.0))
                    || (matches!(b.1, Cap::Untyped { .. }) && is_kernel_descendant(a.0, b.0));
                assert!(nested, "{:?} and {:?} overlap", a.1, b.1);
            }
        }
    }

    // An empty slot is linked to nothing.
    for s in &slots {
        if s.is_empty() {
            assert!(s.is_clear(), "an empty slot keeps links");
        }
    }

    // Every derivation link points at a live slot that holds a capability.
    for (s, _) in &live {
        if let Some(p) = s.parent() {
            assert!(!p.is_empty(), "parent link to an empty slot");
        }
        let mut child = s.first_child();
        while let Some(c) = child {
            assert_eq!(c.parent(), Some(*s));
            child = c.next();
        }
    }
}

/// Indices below 56 pick among the slots that suit the role (occupied for
/// sources, empty for destinations) so most operations can succeed; the
/// rest pick any slot, to exercise the error paths.
fn pick_where(slots: &[SlotRef], i: usize, want_full: bool) -> SlotRef {
    let suitable: Vec<SlotRef> = slots
        .iter()
        .copied()
        .filter(|s| s.is_empty() != want_full)
        .collect();
    if i < 56 && !suitable.is_empty() {
        suitable[i % suitable.len()]
    } else {
        slots[i % slots.len()]
    }
}

fn pick_full(slots: &[SlotRef], i: usize) -> SlotRef {
    pick_where(slots, i, true)
}

/// Mostly a slot holding a capability that `wanted` accepts, so that most
/// mapping operations get as far as the page tables.
fn pick_kind(slots: &[SlotRef], i: usize, wanted: fn(&Cap) -> bool) -> SlotRef {
    let suitable: Vec<SlotRef> = slots.iter().copied().filter(|s| wanted(&s.cap())).collect();
    if i < 56 && !suitable.is_empty() {
        suitable[i % suitable.len()]
    } else {
        slots[i % slots.len()]
    }
}

/// The ASID of the VSpace in a slot picked mostly among VSpaces (0, which
/// names no address space, for anything else).
fn pick_vspace(slots: &[SlotRef], i: usize) -> Asid {
    match pick_kind(slots, i, |c| matches!(c, Cap::VSpace { .. })).cap() {
        Cap::VSpace { asid, .. } => asid,
        _ => 0,
    }
}

fn pick_table(slots: &[SlotRef], i: usize) -> SlotRef {
    pick_kind(slots, i, |c| matches!(c, Cap::PageTable { .. }))
}

impl oracle::PageTables for Recorder {
    fn entry(&self, table: u64, _level: u8, index: usize) -> oracle::PageEntry {
        let e = read_pte(table, index);
        if e & pte::PRESENT == 0 {
            oracle::PageEntry::Empty
        } else if e & pte::TABLE != 0 {
            oracle::PageEntry::Table(e & pte::ADDRESS)
        } else {
            oracle::PageEntry::Frame {
                base: e & pte::ADDRESS,
                large: e & pte::LARGE != 0,
                rights: Rights::from_bits_truncate((e >> pte::RIGHTS_SHIFT) as u8),
            }
        }
    }
    fn kernel_half_intact(&self, _pml4: u64) -> bool {
        true
    }
}

/// The kernel's own oracle agrees that the state is sound, checking from
/// every root of the derivation tree (the untyped, wherever it was moved).
fn check_oracle(world: &World) {
    let mut scratch = Box::new(oracle::Scratch::new());
    let mut found = Vec::new();
    let roots: Vec<SlotRef> = world
        .slots()
        .into_iter()
        .filter(|s| !s.is_empty() && s.parent().is_none())
        .collect();
    let report = oracle::check(
        &roots,
        &crate::sched::RunQueue::new(),
        &world.machine,
        &mut scratch,
        &mut |v| found.push(v),
    );
    assert!(!report.overflow);
    assert_eq!(found, [], "the oracle found violations");
}

/// The mapping invariants (see the module documentation), walking every
/// live address space's tables as the MMU would.
fn check_mappings(world: &World) {
    let live: Vec<Cap> = world
        .slots()
        .iter()
        .map(|s| s.cap())
        .filter(|c| !c.is_null())
        .collect();
    // Every capability to a table agrees on where it is mapped.
    let mut tables: BTreeMap<u64, (u8, Option<Mapping>)> = BTreeMap::new();
    for cap in &live {
        if let Cap::PageTable {
            base,
            mapping,
            level,
        } = *cap
            && let Some(seen) = tables.insert(base, (level, mapping))
        {
            assert_eq!(seen, (level, mapping), "copies of a table disagree");
        }
    }
    let mut reached: BTreeSet<u64> = BTreeSet::new();
    for (&asid, &pml4) in &world.machine.pml4s {
        let mut stack = vec![(pml4, 4u8, 0u64)];
        while let Some((table, level, from)) = stack.pop() {
            for i in 0..512 {
                let e = read_pte(table, i);
                if e & pte::PRESENT == 0 {
                    continue;
                }
                let vaddr = from + i as u64 * covered_by_entry(level);
                let target = e & pte::ADDRESS;
                if e & pte::TABLE != 0 {
                    assert!(reached.insert(target), "table {target:#x} is mapped twice");
                    let Some(&(child_level, mapping)) = tables.get(&target) else {
                        panic!("{target:#x}, reachable as a table, is no live table");
                    };
                    assert_eq!(child_level, level - 1, "a table at the wrong level");
                    assert_eq!(
                        mapping,
                        Some(Mapping::new(asid, vaddr)),
                        "a table's capabilities do not say where it is"
                    );
                    stack.push((target, child_level, vaddr));
                    continue;
                }
                let large = e & pte::LARGE != 0;
                assert_eq!(
                    level,
                    if large { 2 } else { 1 },
                    "a frame at the wrong level"
                );
                let rights = Rights::from_bits_truncate((e >> pte::RIGHTS_SHIFT) as u8);
                let backed = live.iter().any(|c| {
                    matches!(*c, Cap::Frame { base, large: l, rights: r, mapping: Some(m), .. }
                        if base == target && l == large && r.contains(rights)
                            && m == Mapping::new(asid, vaddr))
                });
                assert!(
                    backed,
                    "page {vaddr:#x} of ASID {asid} maps {target:#x}, which no frame capability mapped there with {rights:?}"
                );
            }
        }
    }
}

fn pick_empty(slots: &[SlotRef], i: usize) -> SlotRef {
    pick_where(slots, i, false)
}

fn run(ops: &[Op]) {
    let mut world = World::new();
    let mut model = Model::default();
    let ut_slot = world.root_slot(1);
    model.add(ModelCap {
        slot: ut_slot.addr(),
        object: ut_slot.cap().object().unwrap(),
        rights: Rights::all(),
        badge: 0,
        ancestors: vec![],
    });
    let mut created_threads = Vec::new();
    for op in ops {
        let slots = world.slots();
        let before = world.snapshot();
        let result: Result<(), Error> = match *op {
            Op::Retype {
                ut,
                ty,
                count,
                dest,
            } => {
                let (ty, bits) = TYPES[usize::from(ty)];
                let ut = pick_full(&slots, ut);
                let dest_slot = pick_empty(&slots, dest);
                let dest_index = dest_slot.addr().wrapping_sub(world.root_base()) >> SLOT_BITS;
                let r = if dest_slot.addr() >> (cnode::cnode_size_bits(ROOT_RADIX))
                    == world.root_base() >> cnode::cnode_size_bits(ROOT_RADIX)
                {
                    let mut restarts = 0;
                    loop {
                        let root = world.root;
                        match ops::retype(ut, ty, bits, count, root, dest_index, &mut world.machine)
                        {
                            Ok(Progress::Preempted) => {
                                between_restarts(&world, &mut model, &mut restarts)
                            }
                            r => break r.map(drop),
                        }
                    }
                } else {
                    Err(Error::RangeError)
                };
                if r.is_ok() {
                    let parent = model.id_at(ut.addr()).unwrap();
                    let mut ancestors = vec![parent];
                    ancestors.extend(model.caps[&parent].ancestors.clone());
                    for i in 0..count {
                        let s = world.root_slot(dest_index + i);
                        let cap = s.cap();
                        if let Cap::Tcb { base } = cap {
                            created_threads.push(base);
                        }
                        assert!(matches!(
                            cap,
                            Cap::Endpoint { .. }
                                | Cap::Notification { .. }
                                | Cap::CNode { .. }
                                | Cap::Tcb { .. }
                                | Cap::Frame { .. }
                                | Cap::VSpace { .. }
                                | Cap::Untyped { .. }
                                | Cap::PageTable { mapping: None, .. }
                        ));
                        model.add(ModelCap {
                            slot: s.addr(),
                            object: cap.object().unwrap(),
                            rights: cap.rights(),
                            badge: 0,
                            ancestors: ancestors.clone(),
                        });
                    }
                }
                r
            }
            Op::Copy { src, dest, rights }
            | Op::Mint {
                src, dest, rights, ..
            } => {
                let (src, dest) = (pick_full(&slots, src), pick_empty(&slots, dest));
                let mask = Rights::from_bits_truncate(rights);
                let badge = if let Op::Mint { badge, .. } = *op {
                    Some(badge)
                } else {
                    None
                };
                let src_cap = src.cap();
                let r = match badge {
                    None => ops::copy(src, dest, mask),
                    Some(b) => ops::mint(src, dest, mask, b),
                };
                if src_cap.is_issuer() && !src_cap.is_null() && dest.is_empty() {
                    assert_eq!(r, Err(Error::NotCopyable));
                }
                if let Cap::PageTable { mapping, .. } = src_cap
                    && dest.is_empty()
                    && (mapping.is_none() || badge.is_some_and(|b| b != 0))
                {
                    assert_eq!(
                        r,
                        Err(Error::IllegalOperation),
                        "an unmapped table's capability was copied"
                    );
                }
                if let (Ok(()), Cap::PageTable { .. }) = (r, src_cap) {
                    assert_eq!(
                        dest.cap(),
                        src_cap,
                        "a table's copy does not share its mapping"
                    );
                }
                if r.is_ok() {
                    let parent = model.id_at(src.addr()).unwrap();
                    let p = model.caps[&parent].clone();
                    let mut ancestors = vec![parent];
                    ancestors.extend(p.ancestors.clone());
                    let has_badge =
                        matches!(src_cap, Cap::Endpoint { .. } | Cap::Notification { .. });
                    let new_badge = match badge {
                        Some(b) if has_badge => {
                            assert_eq!(p.badge, 0, "a badge was set twice");
                            b
                        }
                        _ => p.badge,
                    };
                    model.add(ModelCap {
                        slot: dest.addr(),
                        object: p.object,
                        rights: if has_rights(&src_cap) {
                            p.rights & mask
                        } else {
                            p.rights
                        },
                        badge: new_badge,
                        ancestors,
                    });
                }
                r
            }
            Op::Move { src, dest } => {
                let (src, dest) = (pick_full(&slots, src), pick_empty(&slots, dest));
                let r = ops::move_cap(src, dest);
                if r.is_ok() {
                    let id = model.id_at(src.addr()).unwrap();
                    model.caps.get_mut(&id).unwrap().slot = dest.addr();
                }
                r
            }
            Op::Delete { slot } => {
                let s = pick_full(&slots, slot);
                if s.is_empty() {
                    Err(Error::InvalidCapability)
                } else {
                    let mut restarts = 0;
                    let mut gone = Vec::new();
                    while ops::delete(s, &mut world.machine) == Progress::Preempted {
                        gone.extend(model.sync_removed(&world));
                        between_restarts(&world, &mut model, &mut restarts);
                    }
                    gone.extend(model.sync_removed(&world));
                    let id_gone = gone.iter().any(|c| c.slot == s.addr());
                    assert!(id_gone, "delete left the capability in place");
                    check_destroyed(&world, &model, &gone);
                    Ok(())
                }
            }
            Op::Revoke { slot } => {
                let s = pick_full(&slots, slot);
                if s.is_empty() {
                    Err(Error::InvalidCapability)
                } else {
                    let id = model.id_at(s.addr()).unwrap();
                    let object = model.caps[&id].object;
                    let mut restarts = 0;
                    let mut gone = Vec::new();
                    while ops::revoke(s, &mut world.machine) == Progress::Preempted {
                        gone.extend(model.sync_removed(&world));
                        between_restarts(&world, &mut model, &mut restarts);
                    }
                    gone.extend(model.sync_removed(&world));
                    for c in model.caps.values() {
                        assert!(
                            !c.ancestors.contains(&id),
                            "{c:?} survived the revoke of an ancestor"
                        );
                    }
                    // Anything else removed was either destroyed with a
                    // CNode, or a copy of the same object that the tree had
                    // placed under the revoked capability.
                    let _ = object;
                    check_destroyed(&world, &model, &gone);
                    Ok(())
                }
            }
            Op::MapFrame {
                frame,
                vspace,
                addr,
                rights,
            } => {
                let frame = pick_kind(&slots, frame, |c| matches!(c, Cap::Frame { .. }));
                let vspace = pick_vspace(&slots, vspace);
                let wanted = Rights::from_bits_truncate(rights);
                let r = ops::map_frame(frame, vspace, ADDRS[addr], wanted, &mut world.machine);
                if let (
                    Cap::Frame {
                        mapping: Some(_), ..
                    },
                    true,
                ) = (frame.cap(), r.is_err())
                {
                    assert!(
                        before.iter().any(|(_, c)| *c == frame.cap()),
                        "a failed map recorded a mapping"
                    );
                }
                r
            }
            Op::UnmapFrame { frame } => {
                let frame = pick_kind(&slots, frame, |c| matches!(c, Cap::Frame { .. }));
                let r = ops::unmap_frame(frame, &mut world.machine);
                if r.is_ok() {
                    assert!(
                        matches!(frame.cap(), Cap::Frame { mapping: None, .. }),
                        "an unmapped frame's capability still records a mapping"
                    );
                }
                r
            }
            Op::MapTable {
                table,
                vspace,
                addr,
            } => {
                let table = pick_table(&slots, table);
                let vspace = pick_vspace(&slots, vspace);
                let was_mapped = matches!(
                    table.cap(),
                    Cap::PageTable {
                        mapping: Some(_),
                        ..
                    }
                );
                let r = ops::map_page_table(table, vspace, ADDRS[addr], &mut world.machine);
                if was_mapped {
                    assert_eq!(r, Err(Error::AlreadyMapped), "a table mapped twice");
                }
                r
            }
            Op::UnmapTable { table } => {
                let table = pick_table(&slots, table);
                let cap = table.cap();
                let copies = model
                    .caps
                    .values()
                    .filter(|c| Some(c.object) == cap.object())
                    .count();
                let r = ops::unmap_page_table(table, &mut world.machine);
                if let Cap::PageTable {
                    mapping: Some(_), ..
                } = cap
                {
                    if copies > 1 {
                        assert_eq!(r, Err(Error::RevokeFirst), "unmapped through a copy");
                    } else {
                        assert_eq!(r, Ok(()));
                        let Cap::PageTable { base, .. } = cap else {
                            unreachable!()
                        };
                        assert!(
                            (0..512).all(|i| read_pte(base, i) == 0),
                            "an unmapped table kept its entries"
                        );
                    }
                }
                r
            }
        };
        if result.is_err() {
            assert_eq!(
                without_zeroes(world.snapshot()),
                without_zeroes(before),
                "failed {op:?} changed the CSpace"
            );
        } else if std::env::var_os("MODEL_STATS").is_some() {
            eprintln!("ok {op:?}");
        }
        // Anything removed by cascades (CNode destruction) is gone from the
        // model too.
        model.sync_removed(&world);
        check_invariants(&world, &model);
        check_mappings(&world);
        check_oracle(&world);
    }
    // Deleting everything destroys every object exactly once.
    for s in world.slots() {
        if !s.is_empty() {
            delete_fully(s, &mut world.machine);
        }
    }
    assert!(world.slots().iter().all(|s| s.is_empty()));
    assert!(
        world.machine.pml4s.is_empty(),
        "ASIDs leaked: {:?}",
        world.machine.pml4s
    );
    let mut forgotten = world.machine.forgotten_threads.clone();
    forgotten.sort();
    created_threads.sort();
    assert_eq!(
        forgotten, created_threads,
        "every thread is destroyed exactly once"
    );
    let _ = world.untyped_mem.base();
}

/// Between the runs of an operation stopped at a preemption point: what it
/// deleted so far is gone from the model, the invariants hold, and it
/// makes progress (a few thousand restarts at most).
fn between_restarts(world: &World, model: &mut Model, restarts: &mut u32) {
    *restarts += 1;
    assert!(*restarts < 10_000, "an operation makes no progress");
    model.sync_removed(world);
    check_invariants(world, model);
    check_mappings(world);
    check_oracle(world);
}

/// A snapshot with the untypeds' zeroing progress left out: a retype that
/// fails after it zeroed memory (out of ASIDs halfway) may keep it.
fn without_zeroes(snapshot: Vec<(u64, Cap)>) -> Vec<(u64, Cap)> {
    snapshot
        .into_iter()
        .map(|(at, cap)| match cap {
            Cap::Untyped {
                base,
                size_bits,
                device,
                watermark,
                ..
            } => (
                at,
                Cap::Untyped {
                    base,
                    size_bits,
                    device,
                    watermark,
                    zeroed: 0,
                },
            ),
            other => (at, other),
        })
        .collect()
}

/// Deletes `slot`, going on after every preemption point.
fn delete_fully(slot: SlotRef, machine: &mut Recorder) {
    while ops::delete(slot, machine) == Progress::Preempted {}
}

/// Revokes `slot`, going on after every preemption point.
fn revoke_fully(slot: SlotRef, machine: &mut Recorder) {
    while ops::revoke(slot, machine) == Progress::Preempted {}
}

/// Objects whose last capability went away must be unreachable.
fn check_destroyed(world: &World, model: &Model, gone: &[ModelCap]) {
    let live_objects: BTreeSet<_> = model
        .caps
        .values()
        .map(|c| format!("{:?}", c.object))
        .collect();
    for g in gone {
        if !live_objects.contains(&format!("{:?}", g.object)) {
            for (_, cap) in world.snapshot() {
                assert_ne!(
                    cap.object(),
                    Some(g.object),
                    "destroyed object still reachable"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn random_operation_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops);
    }

    #[test]
    fn random_mapping_sequences_keep_the_invariants(ops in prop::collection::vec(mapping_op(), 1..150)) {
        let mut all = mapping_prelude();
        all.extend(ops);
        run(&all);
    }
}

fn retype_into(
    world: &mut World,
    ut: u64,
    ty: ObjectType,
    bits: u64,
    count: u64,
    dest: u64,
) -> Result<(), Error> {
    let root = world.root;
    loop {
        let r = ops::retype(
            world.root_slot(ut),
            ty,
            bits,
            count,
            root,
            dest,
            &mut world.machine,
        );
        if r != Ok(Progress::Preempted) {
            return r.map(drop);
        }
    }
}

#[test]
fn memory_is_reusable_only_after_everything_made_from_it_is_gone() {
    let mut world = World::new();
    // Two 128 KiB untypeds fill the 256 KiB arena.
    retype_into(&mut world, 1, ObjectType::Untyped, 17, 2, 2).unwrap();
    assert_eq!(
        retype_into(&mut world, 1, ObjectType::Frame4K, 0, 1, 4),
        Err(Error::NotEnoughMemory)
    );
    retype_into(&mut world, 2, ObjectType::Endpoint, 0, 1, 5).unwrap();
    ops::copy(world.root_slot(5), world.root_slot(6), Rights::READ).unwrap();
    revoke_fully(world.root_slot(1), &mut world.machine);
    for i in 2..=6 {
        assert!(
            world.root_slot(i).is_empty(),
            "slot {i} survived the revoke"
        );
    }
    retype_into(&mut world, 1, ObjectType::Untyped, 17, 2, 2).unwrap();
}

#[test]
fn deleting_an_untyped_destroys_what_was_made_from_it() {
    let mut world = World::new();
    retype_into(&mut world, 1, ObjectType::Untyped, 16, 1, 2).unwrap();
    retype_into(&mut world, 2, ObjectType::VSpace, 0, 2, 3).unwrap();
    assert_eq!(world.machine.pml4s.len(), 2);
    delete_fully(world.root_slot(2), &mut world.machine);
    assert!(world.root_slot(3).is_empty() && world.root_slot(4).is_empty());
    assert!(world.machine.pml4s.is_empty());
}

#[test]
fn a_deep_chain_of_cnodes_is_destroyed_without_recursion() {
    let mut world = World::new();
    const DEPTH: usize = 1500;
    // Slot 2 holds the head; each CNode's only slot holds the next one.
    retype_into(&mut world, 1, ObjectType::CNode, 1, 1, 2).unwrap();
    let mut tail = world.root_slot(2).cap();
    for _ in 1..DEPTH {
        retype_into(&mut world, 1, ObjectType::CNode, 1, 1, 3).unwrap();
        let next = world.root_slot(3).cap();
        ops::move_cap(world.root_slot(3), cnode::index_slot(tail, 1).unwrap()).unwrap();
        tail = next;
    }
    retype_into(&mut world, 1, ObjectType::Tcb, 0, 1, 3).unwrap();
    ops::move_cap(world.root_slot(3), cnode::index_slot(tail, 1).unwrap()).unwrap();
    delete_fully(world.root_slot(2), &mut world.machine);
    assert_eq!(
        world.machine.forgotten_threads.len(),
        1,
        "the TCB at the end of the chain died"
    );
    assert_eq!(
        world.root_slot(1).first_child(),
        None,
        "every CNode in the chain is gone"
    );
}

#[test]
fn guarded_two_level_addresses_resolve() {
    let mut world = World::new();
    retype_into(&mut world, 1, ObjectType::CNode, 4, 1, 2).unwrap();
    retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 3).unwrap();
    // A root whose guard leaves 5 + 4 bits: slot 2 holds the second level.
    let Cap::CNode { base, radix, .. } = world.root else {
        unreachable!()
    };
    let root = Cap::CNode {
        base,
        radix,
        guard: 0,
        guard_bits: 64 - radix - 4,
    };
    let second = world.root_slot(2).cap();
    ops::move_cap(world.root_slot(3), cnode::index_slot(second, 7).unwrap()).unwrap();
    let found = cnode::lookup(root, (2 << 4) | 7).unwrap();
    assert!(matches!(found.cap(), Cap::Endpoint { .. }));
    assert_eq!(
        cnode::lookup(root, (2 << 4) | 8).err(),
        Some(Error::InvalidCapability),
        "empty slot"
    );
    assert_eq!(
        cnode::lookup(root, 1 << 63).err(),
        Some(Error::InvalidCapability),
        "guard mismatch"
    );
    assert_eq!(
        cnode::lookup(root, 0).err(),
        Some(Error::InvalidCapability),
        "slot 0 is never a capability"
    );
}

/// What `cnode::resolve` should find, decoded the plain way: the address
/// as a string of 64 bits read from the top, a level's guard then its
/// index taken off the front (as 128-bit numbers, so no shift is ever
/// out of range).
fn resolve_by_the_book(root: Cap, address: u64) -> Result<SlotRef, Error> {
    let mut cnode = root;
    let mut left = 64u32;
    loop {
        let Cap::CNode {
            base,
            radix,
            guard,
            guard_bits,
        } = cnode
        else {
            return Err(Error::InvalidCapability);
        };
        let take = |count: u32, left: u32| -> Option<u64> {
            let rest = left.checked_sub(count)?;
            Some(((u128::from(address) >> rest) & ((1u128 << count) - 1)) as u64)
        };
        let g = take(u32::from(guard_bits), left).ok_or(Error::InvalidCapability)?;
        left -= u32::from(guard_bits);
        let index = take(u32::from(radix), left).ok_or(Error::InvalidCapability)?;
        left -= u32::from(radix);
        if g != guard || index == 0 {
            return Err(Error::InvalidCapability);
        }
        // SAFETY: `index` has `radix` bits: a slot of the CNode.
        let slot = unsafe { slot_at(base, index) };
        match slot.cap() {
            Cap::CNode { .. } if left > 0 => cnode = slot.cap(),
            _ => return Ok(slot),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    /// Two levels with any guards, any radix of the first, and addresses
    /// built to reach the second level or not: `resolve` agrees with the
    /// plain decoding on every one (hostile addresses included: guards
    /// that mismatch, bits that run out, levels that overflow 64 bits).
    #[test]
    fn resolve_agrees_with_the_plain_decoding(
        first_radix in 0u8..=ROOT_RADIX,
        first_guard_bits in 0u8..=70,
        first_guard in any::<u64>(),
        second_guard_bits in 0u8..=64,
        second_guard in any::<u64>(),
        parts in (any::<u64>(), any::<u64>(), 0u64..4, 0u64..16),
        build in any::<bool>(),
    ) {
        let mut world = World::new();
        retype_into(&mut world, 1, ObjectType::CNode, 4, 1, 2).unwrap();
        retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 3).unwrap();
        let Cap::CNode { base, .. } = world.root else { unreachable!() };
        let fit = |bits: u8, value: u64| value & u64::MAX.checked_shr(64 - u32::from(bits.min(64))).unwrap_or(0);
        let root = Cap::CNode {
            base,
            radix: first_radix,
            guard: fit(first_guard_bits, first_guard),
            guard_bits: first_guard_bits,
        };
        let second = world.root_slot(2);
        let Cap::CNode { base: b2, radix: r2, .. } = second.cap() else { unreachable!() };
        let guard2 = fit(second_guard_bits, second_guard);
        second.update_cap(Cap::CNode { base: b2, radix: r2, guard: guard2, guard_bits: second_guard_bits });
        ops::move_cap(world.root_slot(3), cnode::index_slot(second.cap(), 7).unwrap()).unwrap();
        let (noise, guard_noise, slot1, slot2) = parts;
        let address = if build {
            // Guard, slot 2 (or another), guard, slot 7 (or another), as
            // far as 64 bits go; the rest noise.
            let mut a = 0u128;
            let mut used = 0u32;
            for (value, bits) in [
                (if guard_noise % 3 == 0 { first_guard } else { root_guard(&root) }, u32::from(first_guard_bits)),
                (2 + slot1, u32::from(first_radix)),
                (guard2, u32::from(second_guard_bits)),
                (7 + slot2, u32::from(r2)),
            ] {
                a = (a << bits) | u128::from(value) & ((1u128 << bits.min(127)) - 1);
                used += bits;
            }
            let a = if used <= 64 { (a << (64 - used)) | u128::from(noise) & ((1u128 << (64 - used)) - 1) } else { a >> (used - 64) };
            a as u64
        } else {
            noise
        };
        let got = cnode::resolve(root, address);
        let want = resolve_by_the_book(root, address);
        prop_assert_eq!(got.map(SlotRef::addr), want.map(SlotRef::addr), "address {:#x}", address);
    }
}

fn root_guard(root: &Cap) -> u64 {
    let Cap::CNode { guard, .. } = root else {
        unreachable!()
    };
    *guard
}

#[test]
fn derivation_rules() {
    let mut world = World::new();
    assert_eq!(
        ops::copy(world.root_slot(1), world.root_slot(2), Rights::all()),
        Err(Error::NotCopyable)
    );
    retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 2).unwrap();
    ops::mint(world.root_slot(2), world.root_slot(3), Rights::READ, 7).unwrap();
    assert_eq!(
        world.root_slot(3).cap(),
        Cap::Endpoint {
            base: world.untyped_mem.base(),
            badge: 7,
            rights: Rights::READ
        }
    );
    assert_eq!(
        ops::mint(world.root_slot(3), world.root_slot(4), Rights::all(), 9),
        Err(Error::IllegalOperation)
    );
    ops::copy(world.root_slot(3), world.root_slot(4), Rights::all()).unwrap();
    assert_eq!(
        world.root_slot(4).cap().rights(),
        Rights::READ,
        "rights never grow"
    );
    assert_eq!(
        ops::copy(world.root_slot(2), world.root_slot(4), Rights::all()),
        Err(Error::SlotOccupied)
    );
    assert_eq!(
        retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 0),
        Err(Error::RangeError)
    );
    assert_eq!(
        retype_into(&mut world, 1, ObjectType::Endpoint, 0, 0, 5),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        retype_into(&mut world, 1, ObjectType::Endpoint, 0, 2, 31),
        Err(Error::RangeError)
    );
    assert_eq!(
        retype_into(&mut world, 1, ObjectType::Untyped, 40, 1, 5),
        Err(Error::NotEnoughMemory)
    );
}

#[test]
fn device_memory_only_becomes_frames_or_smaller_device_memory() {
    let mut world = World::new();
    let Cap::Untyped { base, .. } = world.root_slot(1).cap() else {
        unreachable!()
    };
    delete_fully(world.root_slot(1), &mut world.machine);
    world.root_slot(1).install_root(Cap::Untyped {
        base,
        size_bits: UNTYPED_BITS,
        device: true,
        watermark: 0,
        zeroed: 0,
    });
    assert_eq!(
        retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 2),
        Err(Error::InvalidArgument)
    );
    retype_into(&mut world, 1, ObjectType::Frame4K, 0, 1, 2).unwrap();
    assert!(matches!(
        world.root_slot(2).cap(),
        Cap::Frame { device: true, .. }
    ));
    retype_into(&mut world, 1, ObjectType::Untyped, 13, 1, 3).unwrap();
    assert!(
        matches!(world.root_slot(3).cap(), Cap::Untyped { device: true, .. }),
        "device memory split up stays device memory"
    );
    assert_eq!(
        retype_into(&mut world, 3, ObjectType::Tcb, 0, 1, 4),
        Err(Error::InvalidArgument)
    );
}

#[test]
fn reply_capabilities_stay_put_and_their_deletion_is_reported() {
    let mut world = World::new();
    let (caller, other_caller) = (thread(), thread());
    world.root_slot(2).install_root(Cap::Reply {
        caller: Some(caller),
    });
    for (name, result) in [
        (
            "copy",
            ops::copy(world.root_slot(2), world.root_slot(3), Rights::all()),
        ),
        (
            "mint",
            ops::mint(world.root_slot(2), world.root_slot(3), Rights::all(), 0),
        ),
    ] {
        assert_eq!(result, Err(Error::NotCopyable), "{name}");
    }
    assert_eq!(
        ops::move_cap(world.root_slot(2), world.root_slot(3)),
        Err(Error::IllegalOperation)
    );
    assert_eq!(
        ops::mutate(world.root_slot(2), world.root_slot(3), 0),
        Err(Error::IllegalOperation)
    );
    assert!(world.root_slot(3).is_empty(), "nothing was derived");
    revoke_fully(world.root_slot(2), &mut world.machine);
    assert_eq!(
        world.root_slot(2).cap(),
        Cap::Reply {
            caller: Some(caller)
        },
        "revoke leaves it (nothing derives from it)"
    );
    assert!(world.machine.dropped_replies.is_empty());
    delete_fully(world.root_slot(2), &mut world.machine);
    assert_eq!(world.machine.dropped_replies, [caller.addr()]);

    // A dead one (its caller gone) dies quietly; a live one in a CNode
    // that is destroyed is reported.
    world.root_slot(2).install_root(Cap::Reply { caller: None });
    delete_fully(world.root_slot(2), &mut world.machine);
    retype_into(&mut world, 1, ObjectType::CNode, 2, 1, 4).unwrap();
    let inner = cnode::index_slot(world.root_slot(4).cap(), 3).unwrap();
    inner.install_root(Cap::Reply {
        caller: Some(other_caller),
    });
    revoke_fully(world.root_slot(1), &mut world.machine);
    assert!(world.root_slot(4).is_empty());
    assert_eq!(
        world.machine.dropped_replies,
        [caller.addr(), other_caller.addr()]
    );
}

/// A thread in leaked host memory, for a reply capability to name.
fn thread() -> TcbRef {
    let tcb = Box::leak(Box::new(Tcb::new()));
    // SAFETY: a live TCB that is never freed.
    unsafe { TcbRef::from_addr(tcb as *mut Tcb as u64) }
}

/// A chain of copies (each the child of the one before) revoked from the
/// top in one go: the walk that finds the leaves goes on from where it
/// deleted, so the links followed grow with the chain, not with its
/// square. (A run stopped at a preemption point walks down from the top
/// again when it goes on: docs/security.md bounds that.)
#[test]
fn revoking_a_deep_chain_of_copies_is_linear() {
    const RADIX: u64 = 11;
    let mut world = World::new();
    world.machine.uninterrupted = true;
    retype_into(&mut world, 1, ObjectType::CNode, RADIX, 1, 2).unwrap();
    retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 3).unwrap();
    let big = world.root_slot(2).cap();
    let chain = (1u64 << RADIX) - 1;
    let mut prev = world.root_slot(3);
    for i in 1..=chain {
        let next = cnode::index_slot(big, i).unwrap();
        ops::copy(prev, next, Rights::all()).unwrap();
        prev = next;
    }
    let before = super::slot::tests::links_followed();
    revoke_fully(world.root_slot(3), &mut world.machine);
    let followed = super::slot::tests::links_followed() - before;
    assert!((1..=chain).all(|i| cnode::index_slot(big, i).unwrap().is_empty()));
    // Walking down from the top for every leaf would follow about
    // chain² / 2 = 2 million links.
    assert!(
        followed < 8 * chain,
        "revoking a chain of {chain} copies followed {followed} links"
    );
}

/// Deleting an untyped with many objects made from it goes the same way.
#[test]
fn deleting_an_untyped_walks_its_subtree_once() {
    const RADIX: u64 = 10;
    let mut world = World::new();
    world.machine.uninterrupted = true;
    retype_into(&mut world, 1, ObjectType::Untyped, 16, 1, 2).unwrap();
    retype_into(&mut world, 1, ObjectType::CNode, RADIX, 1, 3).unwrap();
    let big = world.root_slot(3).cap();
    retype_into(&mut world, 2, ObjectType::Endpoint, 0, 1, 4).unwrap();
    let mut prev = world.root_slot(4);
    for i in 1..(1u64 << RADIX) {
        let next = cnode::index_slot(big, i).unwrap();
        ops::copy(prev, next, Rights::all()).unwrap();
        prev = next;
    }
    let before = super::slot::tests::links_followed();
    delete_fully(world.root_slot(2), &mut world.machine);
    let followed = super::slot::tests::links_followed() - before;
    assert!(world.root_slot(4).is_empty());
    assert!(followed < 8 << RADIX, "followed {followed} links");
}

/// A retype stopped at a preemption point has made nothing and recorded
/// how far it zeroed; repeated, it goes on from there, and the objects it
/// finally makes are zero however dirty the memory was.
#[test]
fn a_preempted_retype_makes_nothing_until_it_has_zeroed_everything() {
    let mut world = World::new();
    let base = world.untyped_mem.base();
    // SAFETY: the arena is 2^UNTYPED_BITS bytes and nothing lives in it.
    unsafe { core::ptr::write_bytes(base as *mut u8, 0xa5, 1 << UNTYPED_BITS) };
    let root = world.root;
    let mut calls = 0;
    loop {
        calls += 1;
        let r = ops::retype(
            world.root_slot(1),
            ObjectType::Frame4K,
            0,
            16,
            root,
            2,
            &mut world.machine,
        );
        match r {
            Ok(Progress::Preempted) => {
                assert!(
                    (2..18).all(|i| world.root_slot(i).is_empty()),
                    "a preempted retype made objects"
                );
                let Cap::Untyped { zeroed, .. } = world.root_slot(1).cap() else {
                    unreachable!()
                };
                assert!(zeroed >= 4096 * calls, "no progress recorded");
            }
            r => {
                assert_eq!(r, Ok(Progress::Done));
                break;
            }
        }
    }
    assert!(
        calls > 4,
        "the recorder stops every other point: {calls} calls"
    );
    for i in 2..18 {
        let Cap::Frame { base, .. } = world.root_slot(i).cap() else {
            panic!("slot {i} holds no frame")
        };
        // SAFETY: a 4 KiB frame in the arena.
        let page = unsafe { core::slice::from_raw_parts(base as *const u8, 4096) };
        assert!(page.iter().all(|&b| b == 0), "frame {i} is not zero");
    }
}

/// The oracle's own violations, for the tests that break things on purpose.
fn oracle_findings(world: &World) -> Vec<&'static str> {
    let mut scratch = Box::new(oracle::Scratch::new());
    let mut found = Vec::new();
    oracle::check(
        &[world.root_slot(1)],
        &crate::sched::RunQueue::new(),
        &world.machine,
        &mut scratch,
        &mut |v| found.push(v.what),
    );
    found
}

/// A VSpace with a PDPT, page directory and page table at 0 and a frame
/// mapped through them: slots 2 (VSpace), 3 (PDPT), 4 (PD), 5 (PT), 6.
fn mapped_world() -> World {
    let mut world = World::new();
    for (ty, slot) in [
        (ObjectType::VSpace, 2),
        (ObjectType::Pdpt, 3),
        (ObjectType::PageDirectory, 4),
        (ObjectType::PageTable, 5),
        (ObjectType::Frame4K, 6),
    ] {
        retype_into(&mut world, 1, ty, 0, 1, slot).unwrap();
    }
    let Cap::VSpace { asid, .. } = world.root_slot(2).cap() else {
        unreachable!()
    };
    for slot in 3..=5 {
        ops::map_page_table(world.root_slot(slot), asid, 0, &mut world.machine).unwrap();
    }
    ops::map_frame(
        world.root_slot(6),
        asid,
        0,
        Rights::READ,
        &mut world.machine,
    )
    .unwrap();
    assert_eq!(oracle_findings(&world), Vec::<&str>::new());
    world
}

fn base_of(world: &World, slot: u64) -> u64 {
    match world.root_slot(slot).cap().object() {
        Some(ObjectId::Memory(base)) => base,
        _ => unreachable!(),
    }
}

#[test]
fn the_oracle_sees_a_table_that_maps_itself() {
    let world = mapped_world();
    let pd = base_of(&world, 4);
    // The page directory's entry 1 names the page directory: the aliasing
    // that made a table its own parent.
    write_pte(pd, 1, pd | pte::PRESENT | pte::TABLE);
    let found = oracle_findings(&world);
    assert!(
        found.contains(&"a table mapped at the wrong level"),
        "{found:?}"
    );
}

#[test]
fn the_oracle_sees_a_paging_structure_mapped_as_a_page() {
    let world = mapped_world();
    let (pt, pdpt) = (base_of(&world, 5), base_of(&world, 3));
    write_pte(
        pt,
        7,
        pdpt | pte::PRESENT | u64::from(Rights::READ.bits()) << pte::RIGHTS_SHIFT,
    );
    let found = oracle_findings(&world);
    assert!(
        found.contains(&"a user page no frame capability mapped there with those rights"),
        "{found:?}"
    );
}

#[test]
fn the_oracle_sees_more_rights_than_the_capability_gave() {
    let mut world = mapped_world();
    // A frame whose only capability is read-only, mapped read-only.
    retype_into(&mut world, 1, ObjectType::Frame4K, 0, 1, 10).unwrap();
    ops::copy(world.root_slot(10), world.root_slot(11), Rights::READ).unwrap();
    delete_fully(world.root_slot(10), &mut world.machine);
    let Cap::VSpace { asid, .. } = world.root_slot(2).cap() else {
        unreachable!()
    };
    ops::map_frame(
        world.root_slot(11),
        asid,
        0x1000,
        Rights::READ,
        &mut world.machine,
    )
    .unwrap();
    assert_eq!(oracle_findings(&world), Vec::<&str>::new());
    let (pt, frame) = (base_of(&world, 5), base_of(&world, 11));
    let rw = Rights::READ | Rights::WRITE;
    write_pte(
        pt,
        1,
        frame | pte::PRESENT | u64::from(rw.bits()) << pte::RIGHTS_SHIFT,
    );
    let found = oracle_findings(&world);
    assert!(
        found.contains(&"a user page no frame capability mapped there with those rights"),
        "{found:?}"
    );
}

#[test]
fn the_oracle_sees_a_broken_link() {
    let mut world = mapped_world();
    retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 7).unwrap();
    ops::copy(world.root_slot(7), world.root_slot(8), Rights::all()).unwrap();
    // Overwrite the copy with another object's capability, links kept.
    let other = world.root_slot(6).cap();
    // SAFETY: test-only corruption of a live slot's capability field.
    unsafe { (world.root_slot(8).addr() as *mut Cap).write(other) };
    let found = oracle_findings(&world);
    assert!(
        found.contains(&"a copy names another object than its parent"),
        "{found:?}"
    );
}

/// Found by the fuzzer: deleting a capability that had copies left its
/// slot empty but still linked into the tree; a reply capability saved
/// into that slot later became a child of the old parent, and deleting it
/// rewrote the parent's list of children.
#[test]
fn a_slot_emptied_by_deleting_a_copied_capability_is_unlinked() {
    let mut world = World::new();
    retype_into(&mut world, 1, ObjectType::Endpoint, 0, 1, 2).unwrap();
    ops::copy(world.root_slot(2), world.root_slot(3), Rights::all()).unwrap();
    ops::copy(world.root_slot(3), world.root_slot(4), Rights::all()).unwrap();
    delete_fully(world.root_slot(3), &mut world.machine);
    assert!(world.root_slot(3).is_clear());
    world.root_slot(3).install_root(Cap::Reply { caller: None });
    assert_eq!(world.root_slot(3).parent(), None);
    delete_fully(world.root_slot(3), &mut world.machine);
    assert_eq!(
        world.root_slot(2).first_child(),
        Some(world.root_slot(4)),
        "the endpoint's copies are intact"
    );
    assert_eq!(oracle_findings(&world), Vec::<&str>::new());
}
