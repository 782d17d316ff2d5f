//! The random system calls: a seeded generator (the same seed gives the
//! same calls) of random, boundary and hostile values, shaped per
//! invocation label so that many calls get past the first check and reach
//! the kernel's deeper paths. Portable: tested on the host.

use libcap::abi::{MessageInfo, ObjectType, Syscall, label};

/// Slots of the sandbox CNode, the fuzzed threads' whole CSpace
/// (capability addresses 1 … 63).
pub const SLOTS: u64 = 64;
/// Sandbox slot 2 holds a copy of the sandbox CNode itself: the CNode
/// argument of slot operations.
pub const SANDBOX_CNODE: u64 = 2;
/// Priorities the calls may give threads: all below the fuzzer's own, so
/// that nothing they start can keep it from running.
pub const MAX_PRIORITY: u64 = 99;

/// The time-stamp counter (0 on the host, where the tests need no clock).
fn now() -> u64 {
    #[cfg(target_os = "none")]
    {
        libcap::time::rdtsc()
    }
    #[cfg(not(target_os = "none"))]
    {
        0
    }
}

/// splitmix64: a small, well-mixed generator; the state is the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (not 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// One system call, every register and IPC-buffer word a fuzzed thread
/// sets before it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Call {
    pub number: u64,
    pub cap: u64,
    pub info: u64,
    pub words: [u64; 4],
    /// IPC-buffer words 4 … 8 (message words past the registers).
    pub extra: [u64; 5],
    /// IPC-buffer words 120 … 122: the capability to send, the receive
    /// CNode and index.
    pub send_cap: u64,
    pub recv_cnode: u64,
    pub recv_index: u64,
    /// RFLAGS for the call.
    pub rflags: u64,
}

/// RFLAGS bits a thread can set (TF aside) or try to.
const NT: u64 = 1 << 14;
const AC: u64 = 1 << 18;
const DF: u64 = 1 << 10;
const TF: u64 = 1 << 8;
const IOPL: u64 = 3 << 12;
const IF_AND_ONE: u64 = 0x202;

/// Labels of every object type, and some no object knows.
const LABELS: [u64; 30] = [
    label::UNTYPED_RETYPE,
    label::CNODE_COPY,
    label::CNODE_MINT,
    label::CNODE_MOVE,
    label::CNODE_MUTATE,
    label::CNODE_DELETE,
    label::CNODE_REVOKE,
    label::TCB_CONFIGURE,
    label::TCB_SET_PRIORITY,
    label::TCB_WRITE_REGISTERS,
    label::TCB_READ_REGISTERS,
    label::TCB_RESUME,
    label::TCB_SUSPEND,
    label::TCB_SET_FAULT_ENDPOINT,
    label::TCB_BIND_NOTIFICATION,
    label::PAGE_TABLE_MAP,
    label::PAGE_TABLE_UNMAP,
    label::FRAME_MAP,
    label::FRAME_UNMAP,
    label::FRAME_GET_ADDRESS,
    label::IRQ_CONTROL_GET,
    label::IRQ_HANDLER_SET_NOTIFICATION,
    label::IRQ_HANDLER_ACK,
    label::IRQ_HANDLER_CLEAR,
    label::IRQ_CONTROL_GET_MSI,
    label::IRQ_HANDLER_MSI_MESSAGE,
    label::IO_PORT_ISSUE,
    label::IO_PORT_IN,
    label::IO_PORT_OUT,
    0x7777,
];

const TYPES: [ObjectType; 11] = [
    ObjectType::Untyped,
    ObjectType::Tcb,
    ObjectType::Endpoint,
    ObjectType::Notification,
    ObjectType::CNode,
    ObjectType::Frame4K,
    ObjectType::Frame2M,
    ObjectType::PageTable,
    ObjectType::VSpace,
    ObjectType::PageDirectory,
    ObjectType::Pdpt,
];

/// User addresses where mappings collide and share tables, the edges of
/// the user half, and kernel addresses.
const ADDRESSES: [u64; 10] = [
    0x0,
    0x1000,
    0x20_0000,
    0x4000_0000,
    0x80_0000_0000,
    0x7fff_ffff_e000,
    0x7fff_ffff_f000,
    0x8000_0000_0000,
    0xffff_8000_0000_0000,
    0xffff_ffff_8000_0000,
];

/// Values at the edges of what arguments mean.
const BOUNDARIES: [u64; 12] = [
    0,
    1,
    2,
    63,
    64,
    255,
    256,
    0xffff,
    0x1_0000,
    1 << 63,
    u64::MAX - 1,
    u64::MAX,
];

/// What the fuzzer believes a sandbox slot holds. It learns from its own
/// successful calls and from probing the slots now and then, and forgets
/// what it cannot follow; it only guides the generator (a wrong guess is
/// one more refused call, which is worth making too).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Untyped,
    Tcb,
    Endpoint,
    Notification,
    CNode,
    Frame,
    /// A paging structure of level 1 (page table) to 3 (PDPT).
    Table(u8),
    VSpace,
    Irq,
    Port,
    /// Something: a capability arrived (a transfer, a saved reply).
    Unknown,
    /// The kids' own notifications: calls do not aim at them (they get
    /// hit by chance).
    Control,
}

impl Kind {
    fn of(ty: ObjectType) -> Self {
        match ty {
            ObjectType::Untyped => Self::Untyped,
            ObjectType::Tcb => Self::Tcb,
            ObjectType::Endpoint => Self::Endpoint,
            ObjectType::Notification => Self::Notification,
            ObjectType::CNode => Self::CNode,
            ObjectType::Frame4K | ObjectType::Frame2M => Self::Frame,
            ObjectType::VSpace => Self::VSpace,
            t => Self::Table(t.page_table_level().unwrap_or(1)),
        }
    }

    /// Labels that mean something for this kind (a label listed twice is
    /// made twice as often: mapping more than unmapping, so that paths of
    /// tables get built and pages mapped through them).
    fn labels(self) -> &'static [u64] {
        match self {
            Self::Untyped => &[label::UNTYPED_RETYPE],
            Self::Tcb => &[
                label::TCB_CONFIGURE,
                label::TCB_SET_PRIORITY,
                label::TCB_WRITE_REGISTERS,
                label::TCB_READ_REGISTERS,
                label::TCB_RESUME,
                label::TCB_SUSPEND,
                label::TCB_SET_FAULT_ENDPOINT,
                label::TCB_BIND_NOTIFICATION,
            ],
            Self::CNode => &[
                label::CNODE_COPY,
                label::CNODE_MINT,
                label::CNODE_MOVE,
                label::CNODE_MUTATE,
                label::CNODE_DELETE,
                label::CNODE_REVOKE,
            ],
            Self::Frame => &[
                label::FRAME_MAP,
                label::FRAME_MAP,
                label::FRAME_UNMAP,
                label::FRAME_GET_ADDRESS,
            ],
            Self::Table(_) => &[
                label::PAGE_TABLE_MAP,
                label::PAGE_TABLE_MAP,
                label::PAGE_TABLE_MAP,
                label::PAGE_TABLE_MAP,
                label::PAGE_TABLE_MAP,
                label::PAGE_TABLE_MAP,
                label::PAGE_TABLE_MAP,
                label::PAGE_TABLE_UNMAP,
            ],
            Self::Irq => &[
                label::IRQ_HANDLER_SET_NOTIFICATION,
                label::IRQ_HANDLER_ACK,
                label::IRQ_HANDLER_CLEAR,
                label::IRQ_HANDLER_MSI_MESSAGE,
            ],
            Self::Port => &[label::IO_PORT_IN, label::IO_PORT_OUT],
            Self::Endpoint | Self::Notification | Self::VSpace | Self::Unknown | Self::Control => {
                &LABELS
            }
        }
    }
}

/// What a fresh sandbox holds in slots 1, 2, …: untyped memory, its own
/// CNode, the kids' TCBs, the IRQ handler, the port, an endpoint, a
/// notification, an address space, a PDPT, a page directory, a page table
/// and two frames.
pub const SEEDED: [Kind; 15] = [
    Kind::Untyped,
    Kind::CNode,
    Kind::Tcb,
    Kind::Tcb,
    Kind::Tcb,
    Kind::Irq,
    Kind::Port,
    Kind::Endpoint,
    Kind::Notification,
    Kind::VSpace,
    Kind::Table(3),
    Kind::Table(2),
    Kind::Table(1),
    Kind::Frame,
    Kind::Frame,
];

/// The fuzzer's picture of the sandbox CNode.
pub struct Guess {
    slots: [Option<Kind>; SLOTS as usize],
}

impl Guess {
    /// The sandbox as the fuzzer fills it (see [`SEEDED`]), with the
    /// kids' notifications in slots 60-62.
    pub fn seeded() -> Self {
        let mut slots = [None; SLOTS as usize];
        for (i, k) in SEEDED.into_iter().enumerate() {
            slots[i + 1] = Some(k);
        }
        for s in &mut slots[60..63] {
            *s = Some(Kind::Control);
        }
        Self { slots }
    }

    fn get(&self, index: u64) -> Option<Kind> {
        self.slots.get(index as usize).copied().flatten()
    }

    fn set(&mut self, index: u64, k: Option<Kind>) {
        if let Some(s) = self.slots.get_mut(index as usize)
            && index != 0
        {
            *s = k;
        }
    }

    /// What probing found: slot `index` holds something or not.
    pub fn probed(&mut self, index: u64, occupied: bool) {
        match (occupied, self.get(index)) {
            (false, _) => self.set(index, None),
            (true, None) => self.set(index, Some(Kind::Unknown)),
            (true, Some(_)) => {}
        }
    }

    /// What `call` did, if it succeeded. True when it may have emptied
    /// slots the fuzzer cannot name (a deletion or a revoke): then it
    /// should probe them.
    pub fn learn(&mut self, c: &Call) -> bool {
        let info = MessageInfo(c.info);
        if c.number == Syscall::SaveReply as u64 {
            self.set(c.cap, Some(Kind::Unknown));
        }
        if info.has_cap() && c.recv_cnode == SANDBOX_CNODE {
            self.set(c.recv_index, Some(Kind::Unknown));
        }
        if c.number != Syscall::Call as u64 {
            return false;
        }
        let [w0, w1, w2, w3] = c.words;
        // A slot operation's destination is in the invoked CNode, its
        // source in the one word 1 names: the sandbox's, or another.
        let (dest, src) = (c.cap == SANDBOX_CNODE, w1 == SANDBOX_CNODE);
        match info.label() {
            label::UNTYPED_RETYPE if w3 == SANDBOX_CNODE => {
                if let Some(ty) = ObjectType::from_raw(w0) {
                    for i in 0..w2.min(SLOTS) {
                        self.set(c.extra[0].wrapping_add(i), Some(Kind::of(ty)));
                    }
                }
            }
            label::CNODE_COPY | label::CNODE_MINT if dest => {
                let k = if src {
                    self.get(w2)
                } else {
                    Some(Kind::Unknown)
                };
                self.set(w0, k);
            }
            label::CNODE_MOVE | label::CNODE_MUTATE => {
                let k = if src {
                    self.get(w2)
                } else {
                    Some(Kind::Unknown)
                };
                if src {
                    self.set(w2, None);
                }
                if dest {
                    self.set(w0, k);
                }
            }
            label::CNODE_DELETE | label::CNODE_REVOKE => return true,
            _ => {}
        }
        false
    }

    /// A slot holding (so the fuzzer believes) something `wanted` accepts
    /// (never a kid's own notification).
    fn slot(&self, rng: &mut Rng, wanted: impl Fn(Kind) -> bool) -> Option<u64> {
        let wanted = |k: Kind| k != Kind::Control && wanted(k);
        let n = self.slots.iter().filter(|k| k.is_some_and(&wanted)).count();
        if n == 0 {
            return None;
        }
        let pick = rng.below(n as u64) as usize;
        (0..SLOTS)
            .filter(|&i| self.get(i).is_some_and(&wanted))
            .nth(pick)
    }

    /// A slot the fuzzer believes empty.
    fn empty(&self, rng: &mut Rng) -> Option<u64> {
        let n = (1..SLOTS).filter(|&i| self.get(i).is_none()).count();
        if n == 0 {
            return None;
        }
        (1..SLOTS)
            .filter(|&i| self.get(i).is_none())
            .nth(rng.below(n as u64) as usize)
    }
}

impl Rng {
    /// A capability address: mostly a sandbox slot.
    fn cap(&mut self) -> u64 {
        match self.below(16) {
            0 => 0,
            1 => self.next(),
            2 => self.pick(&BOUNDARIES),
            _ => 1 + self.below(SLOTS - 1),
        }
    }

    /// A slot index of the sandbox CNode, sometimes out of range.
    fn index(&mut self) -> u64 {
        match self.below(12) {
            0 => self.pick(&BOUNDARIES),
            _ => 1 + self.below(SLOTS - 1),
        }
    }

    /// The CNode argument of a slot operation: mostly the sandbox's.
    fn cnode(&mut self) -> u64 {
        if self.one_in(6) {
            self.cap()
        } else {
            SANDBOX_CNODE
        }
    }

    fn rights(&mut self) -> u64 {
        match self.below(4) {
            0 => self.next(),
            _ => self.below(32),
        }
    }

    /// A user address: an edge, noise, or a page of the first 2 MiB (the
    /// reach of the tables the sandbox is seeded with, where maps succeed).
    fn address(&mut self) -> u64 {
        match self.below(8) {
            0 => self.next(),
            1 => self.pick(&ADDRESSES) + 1,
            2 | 3 => self.below(512) << 12,
            _ => self.pick(&ADDRESSES),
        }
    }

    /// Anything: small numbers, slots, addresses, edges, noise.
    fn word(&mut self) -> u64 {
        match self.below(6) {
            0 => self.below(16),
            1 => self.index(),
            2 => self.address(),
            3 => self.pick(&BOUNDARIES),
            _ => self.next(),
        }
    }

    fn rflags(&mut self) -> u64 {
        IF_AND_ONE
            | match self.below(16) {
                0 => NT,
                1 => AC,
                2 => DF,
                3 => NT | AC | DF | IOPL,
                4 => IOPL,
                5 if self.one_in(8) => TF,
                _ => 0,
            }
    }

    /// A slot of a kind `wanted` accepts, as far as the fuzzer knows;
    /// now and then any capability address.
    fn of_kind(&mut self, g: &Guess, wanted: impl Fn(Kind) -> bool) -> u64 {
        if self.one_in(5) {
            return self.cap();
        }
        g.slot(self, wanted).unwrap_or_else(|| self.cap())
    }

    /// A slot the fuzzer believes holds something.
    fn occupied(&mut self, g: &Guess) -> u64 {
        self.of_kind(g, |_| true)
    }

    /// A slot the fuzzer believes empty (now and then any index).
    fn vacant(&mut self, g: &Guess) -> u64 {
        if self.one_in(5) {
            return self.index();
        }
        g.empty(self).unwrap_or_else(|| self.index())
    }

    /// Message words for an invocation with `label`, and IPC-buffer word 4.
    fn invocation(&mut self, label: u64, g: &Guess) -> ([u64; 4], u64) {
        let w = |r: &mut Self| r.word();
        match label {
            label::UNTYPED_RETYPE => {
                let ty = if self.one_in(12) {
                    self.word()
                } else {
                    self.pick(&TYPES) as u64
                };
                let bits = match ObjectType::from_raw(ty) {
                    Some(ObjectType::Untyped) => 12 + self.below(9),
                    Some(ObjectType::CNode) => 1 + self.below(4),
                    _ if self.one_in(8) => self.word(),
                    _ => 0,
                };
                let count = if self.one_in(10) {
                    self.pick(&BOUNDARIES)
                } else {
                    1 + self.below(3)
                };
                ([ty, bits, count, self.cnode()], self.vacant(g))
            }
            label::CNODE_COPY | label::CNODE_MINT | label::CNODE_MOVE | label::CNODE_MUTATE => (
                [
                    self.vacant(g),
                    self.cnode(),
                    self.occupied(g),
                    self.rights(),
                ],
                if self.one_in(3) {
                    self.next()
                } else {
                    self.below(4)
                },
            ),
            label::CNODE_DELETE | label::CNODE_REVOKE => ([self.occupied(g), w(self), 0, 0], 0),
            label::TCB_CONFIGURE => {
                let cspace = if self.one_in(2) {
                    SANDBOX_CNODE
                } else {
                    self.of_kind(g, |k| k == Kind::CNode)
                };
                let buffer = if self.one_in(2) {
                    self.pick(&ADDRESSES)
                } else {
                    self.word()
                };
                (
                    [
                        cspace,
                        self.of_kind(g, |k| k == Kind::VSpace),
                        self.of_kind(g, |k| k == Kind::Frame),
                        buffer,
                    ],
                    0,
                )
            }
            label::TCB_SET_PRIORITY => {
                let p = if self.one_in(8) {
                    self.pick(&[256, 1000, u64::MAX])
                } else {
                    self.below(MAX_PRIORITY + 1)
                };
                ([p, 0, 0, 0], 0)
            }
            label::TCB_WRITE_REGISTERS => ([self.address(), self.address(), w(self), w(self)], 0),
            label::TCB_SET_FAULT_ENDPOINT => {
                let target = if self.one_in(5) {
                    0
                } else {
                    self.of_kind(g, |k| k == Kind::Endpoint)
                };
                ([target, 0, 0, 0], 0)
            }
            label::TCB_BIND_NOTIFICATION | label::IRQ_HANDLER_SET_NOTIFICATION => {
                let target = if self.one_in(5) {
                    0
                } else {
                    self.of_kind(g, |k| k == Kind::Notification)
                };
                ([target, 0, 0, 0], 0)
            }
            label::PAGE_TABLE_MAP => (
                [self.of_kind(g, |k| k == Kind::VSpace), self.address(), 0, 0],
                0,
            ),
            label::FRAME_MAP => {
                let rights = if self.one_in(3) {
                    self.rights()
                } else {
                    self.pick(&[1, 3, 5])
                };
                (
                    [
                        self.of_kind(g, |k| k == Kind::VSpace),
                        self.address(),
                        rights,
                        0,
                    ],
                    0,
                )
            }
            label::IO_PORT_IN | label::IO_PORT_OUT => {
                let port = self.pick(&[0x80, 0x80, 0x7f, 0x81, 0x3f8, u64::MAX, u64::MAX - 2]);
                let width = self.pick(&[1, 2, 4, 0, 3, 8]);
                ([port, width, self.below(256), 0], 0)
            }
            _ => ([w(self), w(self), w(self), w(self)], w(self)),
        }
    }

    /// The next system call, made for the sandbox as `g` pictures it.
    pub fn call(&mut self, g: &Guess) -> Call {
        let mut c = Call {
            rflags: self.rflags(),
            recv_cnode: if self.one_in(2) { 0 } else { SANDBOX_CNODE },
            recv_index: self.vacant(g),
            send_cap: self.occupied(g),
            ..Call::default()
        };
        let ipc = |k: Kind| matches!(k, Kind::Endpoint | Kind::Notification);
        let (number, cap, label) = match self.below(40) {
            0..=1 => (Syscall::Send, self.of_kind(g, ipc), self.below(8)),
            2..=3 => (Syscall::NbSend, self.of_kind(g, ipc), self.below(8)),
            4..=5 => (Syscall::Recv, self.of_kind(g, ipc), 0),
            6..=7 => (Syscall::NbRecv, self.of_kind(g, ipc), 0),
            8 => (Syscall::Reply, 0, self.below(4)),
            9..=10 => (Syscall::ReplyRecv, self.of_kind(g, ipc), self.below(4)),
            11 => (Syscall::Yield, 0, 0),
            12 => (Syscall::SaveReply, self.vacant(g), 0),
            13 => (Syscall::Null, 0, 0),
            14 => (Syscall::DebugWrite, self.cap(), 0),
            15 => (Syscall::Exit, 0, 0),
            16..=17 => (Syscall::RecvTimed, self.of_kind(g, ipc), 0),
            _ => {
                // Mostly a capability the fuzzer knows, with one of its
                // kind's labels.
                match g.slot(self, |k| k != Kind::Unknown) {
                    Some(slot) if !self.one_in(4) => {
                        let kind = g.get(slot).unwrap_or(Kind::Unknown);
                        let label = self.pick(kind.labels());
                        (Syscall::Call, slot, label)
                    }
                    _ => (Syscall::Call, self.cap(), self.pick(&LABELS)),
                }
            }
        };
        // Now and then a system call that does not exist (DebugExit, which
        // ends the run, and DebugCheck are never made).
        c.number = if self.one_in(100) {
            self.pick(&[0, 16, 99, u64::MAX])
        } else {
            number as u64
        };
        c.cap = cap;
        let (mut words, fifth) = self.invocation(label, g);
        if number == Syscall::RecvTimed {
            // A deadline: passed, soon (the guest's TSC runs at a few GHz),
            // far away, or anything.
            words[0] = match self.below(4) {
                0 => self.below(1 << 20),
                1 => crate::calls::now().wrapping_add(self.below(1 << 24)),
                2 => u64::MAX,
                _ => self.next(),
            };
        }
        c.words = words;
        c.extra = [fifth, self.word(), self.word(), self.word(), self.word()];
        // Invocations mostly carry the words their label takes (five for
        // retype and mint, four at most for the rest: more do no harm).
        let arity = if matches!(label, label::UNTYPED_RETYPE | label::CNODE_MINT) {
            5
        } else {
            4
        };
        let length = match self.below(10) {
            0 => self.below(128) as usize,
            1 => self.below(arity + 1) as usize,
            2..=3 => 4 + self.below(6) as usize,
            _ => arity as usize,
        };
        let mut info = MessageInfo::new(label, length);
        if self.one_in(8) {
            info = info.with_cap();
        }
        c.info = if self.one_in(50) { self.next() } else { info.0 };
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_calls() {
        let g = Guess::seeded();
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..1000 {
            assert_eq!(a.call(&g), b.call(&g));
        }
        let mut c = Rng::new(43);
        assert_ne!(Rng::new(42).call(&g), c.call(&g));
    }

    #[test]
    fn calls_never_end_the_run_or_outrank_the_fuzzer() {
        let (mut r, g) = (Rng::new(7), Guess::seeded());
        for _ in 0..100_000 {
            let c = r.call(&g);
            assert_ne!(c.number, Syscall::DebugExit as u64);
            assert_ne!(c.number, Syscall::DebugCheck as u64);
            if c.number == Syscall::Call as u64
                && MessageInfo(c.info).label() == label::TCB_SET_PRIORITY
                && c.words[0] < 256
            {
                assert!(c.words[0] <= MAX_PRIORITY);
            }
        }
    }

    #[test]
    fn most_calls_name_sandbox_slots_and_every_label_comes_up() {
        let (mut r, g) = (Rng::new(1), Guess::seeded());
        let calls: Vec<Call> = (0..50_000).map(|_| r.call(&g)).collect();
        let in_sandbox = calls.iter().filter(|c| (1..SLOTS).contains(&c.cap)).count();
        assert!(in_sandbox > calls.len() * 3 / 4);
        for l in LABELS {
            assert!(
                calls
                    .iter()
                    .any(|c| c.number == Syscall::Call as u64 && MessageInfo(c.info).label() == l),
                "label {l} never made"
            );
        }
    }

    #[test]
    fn the_guess_follows_retypes_copies_moves_and_deletes() {
        let mut g = Guess::seeded();
        let retype = Call {
            number: Syscall::Call as u64,
            cap: 1,
            info: MessageInfo::new(label::UNTYPED_RETYPE, 5).0,
            words: [ObjectType::PageDirectory as u64, 0, 2, SANDBOX_CNODE],
            extra: [20, 0, 0, 0, 0],
            ..Call::default()
        };
        assert!(!g.learn(&retype));
        assert_eq!(g.get(20), Some(Kind::Table(2)));
        assert_eq!(g.get(21), Some(Kind::Table(2)));
        let op = |l, words| Call {
            number: Syscall::Call as u64,
            cap: SANDBOX_CNODE,
            info: MessageInfo::new(l, 4).0,
            words,
            ..Call::default()
        };
        g.learn(&op(label::CNODE_COPY, [30, SANDBOX_CNODE, 8, 0]));
        assert_eq!(g.get(30), Some(Kind::Endpoint));
        g.learn(&op(label::CNODE_MOVE, [31, SANDBOX_CNODE, 30, 0]));
        assert_eq!((g.get(30), g.get(31)), (None, Some(Kind::Endpoint)));
        assert!(
            g.learn(&op(label::CNODE_DELETE, [31, 0, 0, 0])),
            "a deletion asks for a probe"
        );
        g.probed(40, true);
        assert_eq!(g.get(40), Some(Kind::Unknown));
        g.probed(8, false);
        assert_eq!(g.get(8), None);
    }
}
