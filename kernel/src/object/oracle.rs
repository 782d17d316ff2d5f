//! The invariant oracle: a full check of the kernel's state for the
//! adversarial fuzzer (`DebugCheck`, self-test mode only) and the host
//! tests. It looks at everything made from some untyped capabilities (a
//! fuzzer's sandbox), reading the kernel's structures directly:
//!
//! - the derivation tree: every link has its partner, a copy names the
//!   same object as its parent, an object made from untyped memory lies
//!   inside it and below its watermark, and no two objects share memory;
//! - the address spaces: every table reachable from a VSpace is a live
//!   table of the level below, mapped once, whose capabilities say where;
//!   every page reachable is a frame whose capability mapped it there with
//!   at least the entry's rights, so no kernel memory and no paging
//!   structure is reachable from user mode; the kernel half is the
//!   kernel's;
//! - the queues: every thread waiting on an endpoint or notification is
//!   on that object's queue exactly once, linked both ways; every other
//!   thread is on none; the runnable ones are scheduled and the run
//!   queues are consistent.
//!
//! It is portable: page tables are read through [`PageTables`] (the MMU's
//! format in the kernel, the test recorder's on the host), and its working
//! memory is the caller's [`Scratch`] (the kernel allocates nothing).

use super::cap::{Cap, Mapping, ObjectId};
use super::objref::{EndpointRef, NotificationRef, TcbRef};
use super::slot::SlotRef;
use super::tcb::{Tcb, ThreadState};
use crate::sched::RunQueue;
use basalt_abi::Rights;

/// One entry of a paging structure, as the oracle needs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PageEntry {
    Empty,
    /// The next level's table.
    Table(u64),
    /// A page: the frame's kernel address, whether it is a 2 MiB page, and
    /// the rights the entry gives.
    Frame {
        base: u64,
        large: bool,
        rights: Rights,
    },
}

/// How the oracle reads paging structures.
pub trait PageTables {
    /// Entry `index` of the table at `table`, of `level` (4: PML4).
    fn entry(&self, table: u64, level: u8, index: usize) -> PageEntry;
    /// Whether the PML4 at `pml4` maps the kernel half exactly as the
    /// kernel's own tables do, and nothing there for user mode.
    fn kernel_half_intact(&self, pml4: u64) -> bool;
}

/// A broken invariant: what, and the kernel address it concerns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Violation {
    pub what: &'static str,
    pub at: u64,
}

/// What a check found.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Report {
    pub violations: u64,
    /// Capabilities looked at.
    pub capabilities: u64,
    /// The scratch space was too small: the check stopped early.
    pub overflow: bool,
}

/// Capabilities one check can look at.
pub const CAPACITY: usize = 4096;

#[derive(Clone, Copy)]
struct Seen {
    slot: u64,
    cap: Cap,
    /// Queue memberships (TCBs), or times reached (tables).
    count: u32,
}

/// The oracle's working memory.
pub struct Scratch {
    seen: [Seen; CAPACITY],
    len: usize,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub const fn new() -> Self {
        Self {
            seen: [Seen {
                slot: 0,
                cap: Cap::Null,
                count: 0,
            }; CAPACITY],
            len: 0,
        }
    }

    fn push(&mut self, slot: SlotRef) -> bool {
        if self.len == CAPACITY {
            return false;
        }
        self.seen[self.len] = Seen {
            slot: slot.addr(),
            cap: slot.cap(),
            count: 0,
        };
        self.len += 1;
        true
    }
}

/// The base address and size of a memory object (`None` for untyped
/// memory and for capabilities to no memory).
fn extent(cap: &Cap) -> Option<(u64, u64)> {
    let bits = match *cap {
        Cap::Endpoint { .. } | Cap::Notification { .. } => super::objects::ENDPOINT_BITS,
        Cap::Tcb { .. } => super::objects::TCB_BITS,
        Cap::CNode { radix, .. } => super::cnode::cnode_size_bits(radix),
        Cap::VSpace { .. } | Cap::PageTable { .. } => 12,
        Cap::Frame { large, .. } => {
            if large {
                21
            } else {
                12
            }
        }
        _ => return None,
    };
    let Some(ObjectId::Memory(base)) = cap.object() else {
        return None;
    };
    Some((base, 1 << bits))
}

struct Checker<'a, P: PageTables> {
    scratch: &'a mut Scratch,
    pages: &'a P,
    report: Report,
    on_violation: &'a mut dyn FnMut(Violation),
}

impl<P: PageTables> Checker<'_, P> {
    fn fail(&mut self, what: &'static str, at: u64) {
        self.report.violations += 1;
        (self.on_violation)(Violation { what, at });
    }

    fn expect(&mut self, ok: bool, what: &'static str, at: u64) {
        if !ok {
            self.fail(what, at);
        }
    }

    fn record(&mut self, slot: SlotRef) -> bool {
        if !self.scratch.push(slot) {
            self.report.overflow = true;
            return false;
        }
        self.report.capabilities += 1;
        true
    }

    /// The links of `node` agree with their partners'.
    fn links(&mut self, node: SlotRef) {
        let at = node.addr();
        match node.prev() {
            Some(p) => self.expect(p.next() == Some(node), "a sibling link has no partner", at),
            None => {
                if let Some(parent) = node.parent() {
                    self.expect(
                        parent.first_child() == Some(node),
                        "a first child its parent does not name",
                        at,
                    );
                }
            }
        }
        if let Some(n) = node.next() {
            self.expect(n.prev() == Some(node), "a sibling link has no partner", at);
            self.expect(
                n.parent() == node.parent(),
                "siblings with different parents",
                at,
            );
        }
        if let Some(p) = node.parent() {
            self.expect(!p.is_empty(), "a parent link to an empty slot", at);
        }
    }

    /// What `child` may be, given its `parent`.
    fn derivation(&mut self, parent: SlotRef, child: SlotRef) {
        let (p, c, at) = (parent.cap(), child.cap(), child.addr());
        match p {
            Cap::Untyped {
                base,
                size_bits,
                device,
                watermark,
                ..
            } => {
                let (start, end) = match c {
                    Cap::Untyped {
                        base: b,
                        size_bits: s,
                        device: d,
                        ..
                    } => {
                        self.expect(d == device, "device memory became RAM or back", at);
                        (b, b + (1 << s))
                    }
                    other => match extent(&other) {
                        Some((b, len)) => (b, b + len),
                        None => {
                            self.fail("untyped memory issued a non-memory capability", at);
                            return;
                        }
                    },
                };
                self.expect(
                    base <= start && end <= base + watermark && end <= base + (1 << size_bits),
                    "an object outside its untyped memory's handed-out part",
                    at,
                );
                if device {
                    self.expect(
                        matches!(c, Cap::Frame { .. } | Cap::Untyped { .. }),
                        "device memory became something other than frames",
                        at,
                    );
                }
            }
            Cap::IrqControl => self.expect(
                matches!(c, Cap::IrqHandler { .. }),
                "IRQ control issued something else",
                at,
            ),
            Cap::IoPortControl => self.expect(
                matches!(c, Cap::IoPort { .. }),
                "I/O-port control issued something else",
                at,
            ),
            // (A copy may have more rights than its parent: when a
            // capability is deleted, its first copy takes its place and
            // adopts the others, which it may have fewer rights than.
            // Rights are fixed when a capability is made.)
            _ => self.expect(
                c.object() == p.object(),
                "a copy names another object than its parent",
                at,
            ),
        }
    }

    /// Walks the subtree under `root` (root included), depth first,
    /// without recursion.
    fn subtree(&mut self, root: SlotRef) {
        if !self.record(root) {
            return;
        }
        self.links(root);
        let mut node = root;
        loop {
            let next = match node.first_child() {
                Some(child) => Some(child),
                None => {
                    // Up until a node with a next sibling (or the root).
                    let mut up = node;
                    loop {
                        if up == root {
                            break None;
                        }
                        if let Some(n) = up.next() {
                            break Some(n);
                        }
                        match up.parent() {
                            Some(p) => up = p,
                            None => break None,
                        }
                    }
                }
            };
            let Some(n) = next else {
                return;
            };
            if self.report.capabilities as usize >= CAPACITY {
                self.report.overflow = true;
                return;
            }
            let Some(parent) = n.parent() else {
                self.fail("a child without a parent link", n.addr());
                return;
            };
            if n.is_empty() {
                self.fail("an empty slot in the derivation tree", n.addr());
                return;
            }
            self.links(n);
            self.derivation(parent, n);
            if !self.record(n) {
                return;
            }
            node = n;
        }
    }
}

/// Checks everything made from (and derived from) the capabilities in
/// `roots`; `rq` is the scheduler's state. Calls `on_violation` for each
/// broken invariant.
pub fn check<P: PageTables>(
    roots: &[SlotRef],
    rq: &RunQueue,
    pages: &P,
    scratch: &mut Scratch,
    on_violation: &mut dyn FnMut(Violation),
) -> Report {
    scratch.len = 0;
    let mut c = Checker {
        scratch,
        pages,
        report: Report::default(),
        on_violation,
    };
    for &root in roots {
        if !root.is_empty() {
            c.subtree(root);
        }
    }
    // Slots of the CNodes found hold capabilities from elsewhere too (a
    // handler from IRQ control, a copy of a thread): their links must
    // hold as well.
    let found = c.scratch.len;
    c.scratch.seen[..found].sort_unstable_by_key(|e| e.slot);
    for i in 0..found {
        let Cap::CNode { base, radix, .. } = c.scratch.seen[i].cap else {
            continue;
        };
        for index in 1..1u64 << radix {
            // SAFETY: a live CNode (a capability names it) of 2^radix
            // slots.
            let s = unsafe { super::cnode::slot_at(base, index) };
            // Recorded in the subtree walk (sorted), or from a CNode named
            // twice (a few, unsorted).
            if s.is_empty() {
                c.expect(s.is_clear(), "an empty slot keeps links", s.addr());
                continue;
            }
            let known = c.scratch.seen[..found]
                .binary_search_by_key(&s.addr(), |e| e.slot)
                .is_ok()
                || c.scratch.seen[found..c.scratch.len]
                    .iter()
                    .any(|e| e.slot == s.addr());
            if !known {
                c.links(s);
                if !c.record(s) {
                    break;
                }
            }
        }
    }
    let len = c.scratch.len;
    c.scratch.seen[..len].sort_unstable_by_key(|e| {
        let base = extent(&e.cap).map_or(u64::MAX, |(b, _)| b);
        (base, e.slot)
    });
    memory(&mut c);
    address_spaces(&mut c);
    queues(&mut c, rq);
    c.report
}

/// No two objects share memory.
fn memory<P: PageTables>(c: &mut Checker<'_, P>) {
    let mut last: Option<(u64, u64, Cap)> = None;
    for i in 0..c.scratch.len {
        let e = c.scratch.seen[i];
        let Some((base, len)) = extent(&e.cap) else {
            continue;
        };
        if let Some((b, l, cap)) = last {
            let same = b == base && cap.object() == e.cap.object() && same_kind(&cap, &e.cap);
            if !same {
                c.expect(b + l <= base, "two objects share memory", base);
            }
        }
        last = Some((base, len, e.cap));
    }
}

fn same_kind(a: &Cap, b: &Cap) -> bool {
    core::mem::discriminant(a) == core::mem::discriminant(b)
}

/// The index range in the (sorted) scratch of the capabilities to the
/// memory object at `base`.
fn caps_at(s: &Scratch, base: u64) -> core::ops::Range<usize> {
    let key = |e: &Seen| extent(&e.cap).map_or(u64::MAX, |(b, _)| b);
    let seen = &s.seen[..s.len];
    let start = seen.partition_point(|e| key(e) < base);
    let end = seen.partition_point(|e| key(e) <= base);
    start..end
}

fn address_spaces<P: PageTables>(c: &mut Checker<'_, P>) {
    let mut last = u64::MAX;
    for i in 0..c.scratch.len {
        let Cap::VSpace { base, asid } = c.scratch.seen[i].cap else {
            continue;
        };
        if base == last {
            continue;
        }
        last = base;
        c.expect(
            c.pages.kernel_half_intact(base),
            "an address space's kernel half differs from the kernel's",
            base,
        );
        // Depth-first over the user half: (table, level, index, vaddr).
        let mut stack = [(0u64, 0u8, 0usize, 0u64); 4];
        stack[0] = (base, 4, 0, 0);
        let mut depth = 1;
        while depth > 0 {
            let (table, level, index, from) = stack[depth - 1];
            let end = if level == 4 { 256 } else { 512 };
            if index == end {
                depth -= 1;
                continue;
            }
            stack[depth - 1].2 += 1;
            let vaddr = from + ((index as u64) << (12 + 9 * (u32::from(level) - 1)));
            match c.pages.entry(table, level, index) {
                PageEntry::Empty => {}
                PageEntry::Table(child) => {
                    if level == 1 {
                        c.fail("a page table entry names a table", child);
                        continue;
                    }
                    if table_reached(c, child, level - 1, Mapping::new(asid, vaddr)) {
                        stack[depth] = (child, level - 1, 0, vaddr);
                        depth += 1;
                    }
                }
                PageEntry::Frame {
                    base: frame,
                    large,
                    rights,
                } => page_reached(c, frame, large, rights, level, Mapping::new(asid, vaddr)),
            }
        }
    }
}

/// A table reached from an address space: it must be a live table of
/// `level`, reached once, whose capabilities say it is mapped `there`.
/// Whether to walk it.
fn table_reached<P: PageTables>(
    c: &mut Checker<'_, P>,
    table: u64,
    level: u8,
    there: Mapping,
) -> bool {
    let range = caps_at(c.scratch, table);
    let mut ok = false;
    for i in range.clone() {
        if let Cap::PageTable {
            level: l, mapping, ..
        } = c.scratch.seen[i].cap
        {
            ok = true;
            c.expect(l == level, "a table mapped at the wrong level", table);
            c.expect(
                mapping == Some(there),
                "a table's capability does not say where it is mapped",
                table,
            );
        }
    }
    if !ok {
        c.fail(
            "an address space reaches a table no capability names (kernel memory, or a freed table)",
            table,
        );
        return false;
    }
    let first = range.start;
    c.scratch.seen[first].count += 1;
    if c.scratch.seen[first].count > 1 {
        c.fail("a table is mapped twice", table);
        return false;
    }
    true
}

/// A page reached from an address space: some capability to that frame
/// mapped it `there` with at least `rights`.
fn page_reached<P: PageTables>(
    c: &mut Checker<'_, P>,
    frame: u64,
    large: bool,
    rights: Rights,
    level: u8,
    there: Mapping,
) {
    c.expect(
        level == if large { 2 } else { 1 },
        "a page at the wrong level",
        frame,
    );
    let backed = caps_at(c.scratch, frame).any(|i| {
        matches!(c.scratch.seen[i].cap, Cap::Frame { large: l, rights: r, mapping: Some(m), .. }
            if l == large && m == there && r.contains(rights))
    });
    c.expect(
        backed,
        "a user page no frame capability mapped there with those rights",
        frame,
    );
}

/// The address of the object `tcb` waits on (0: none).
fn waiting_on(tcb: &Tcb) -> u64 {
    tcb.ipc.blocked_on.map_or(0, |w| w.addr())
}

fn queues<P: PageTables>(c: &mut Checker<'_, P>, rq: &RunQueue) {
    let threads = (0..c.scratch.len)
        .filter(|&i| matches!(c.scratch.seen[i].cap, Cap::Tcb { .. }))
        .count();
    let limit = threads + CAPACITY;
    if let Err((what, at)) = rq.check(limit) {
        c.fail(what, at);
    }
    // Walk every endpoint's and notification's queue, counting members.
    let mut last = u64::MAX;
    for i in 0..c.scratch.len {
        let (base, is_endpoint) = match c.scratch.seen[i].cap {
            Cap::Endpoint { base, .. } => (base, true),
            Cap::Notification { base, .. } => (base, false),
            _ => continue,
        };
        if base == last {
            continue;
        }
        last = base;
        let (head, tail, receivers) = if is_endpoint {
            // SAFETY: a live endpoint (a capability in a live slot names it).
            let ep = unsafe { EndpointRef::from_addr(base) };
            ep.with(|e| (e.queue.head, e.queue.tail, e.receivers))
        } else {
            // SAFETY: a live notification, likewise.
            let ntfn = unsafe { NotificationRef::from_addr(base) };
            ntfn.with(|n| (n.queue.head, n.queue.tail, false))
        };
        let (mut at, mut prev, mut n) = (head, None, 0);
        while let Some(t) = at {
            n += 1;
            if n > limit {
                c.fail("a wait queue does not end (a cycle?)", base);
                break;
            }
            let at_addr = t.addr();
            let (state, blocked_on, links) =
                t.with(|tcb: &mut Tcb| (tcb.state, waiting_on(tcb), tcb.wait));
            let want = match (is_endpoint, receivers) {
                (false, _) => ThreadState::BlockedOnNotification,
                (true, true) => ThreadState::BlockedOnReceive,
                (true, false) => ThreadState::BlockedOnSend,
            };
            c.expect(
                state == want,
                "a queued thread waits for something else",
                at_addr,
            );
            c.expect(
                blocked_on == base,
                "a queued thread names another object",
                at_addr,
            );
            c.expect(
                links.prev == prev,
                "a wait-queue back link is wrong",
                at_addr,
            );
            let range = caps_at(c.scratch, at_addr);
            if let Some(first) = range
                .clone()
                .find(|&j| matches!(c.scratch.seen[j].cap, Cap::Tcb { .. }))
            {
                c.scratch.seen[first].count += 1;
            }
            prev = at;
            at = links.next;
        }
        c.expect(
            tail == prev,
            "a wait queue's tail is not its last thread",
            base,
        );
    }
    // Every thread: on exactly one queue while it waits, else on none.
    let mut last = u64::MAX;
    for i in 0..c.scratch.len {
        let Cap::Tcb { base } = c.scratch.seen[i].cap else {
            continue;
        };
        if base == last {
            continue;
        }
        last = base;
        let count = c.scratch.seen[i].count;
        // SAFETY: a live TCB (a capability in a live slot names it).
        let t = unsafe { TcbRef::from_addr(base) };
        let (state, blocked_on, links) =
            t.with(|tcb: &mut Tcb| (tcb.state, waiting_on(tcb), tcb.wait));
        let waiting = matches!(
            state,
            ThreadState::BlockedOnSend
                | ThreadState::BlockedOnReceive
                | ThreadState::BlockedOnNotification
        );
        if waiting {
            // Its object is checked only if it is among the capabilities
            // looked at; a thread of the sandbox may wait elsewhere.
            let known = caps_at(c.scratch, blocked_on).next().is_some();
            if known {
                c.expect(
                    count == 1,
                    "a waiting thread is not on exactly one queue",
                    base,
                );
            }
            c.expect(blocked_on != 0, "a waiting thread names no object", base);
        } else {
            c.expect(
                count == 0,
                "a thread that waits for nothing is on a wait queue",
                base,
            );
            c.expect(
                links.next.is_none() && links.prev.is_none() && blocked_on == 0,
                "a thread that waits for nothing has wait links",
                base,
            );
        }
        let scheduled = rq.is_scheduled(t);
        c.expect(
            scheduled == (state == ThreadState::Runnable),
            "a thread's state and the scheduler disagree",
            base,
        );
    }
}
