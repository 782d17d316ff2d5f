//! Random system calls against a sandbox: 20,000 invocations with
//! random labels, capabilities and arguments. The kernel must answer each
//! with success or a known error and never fault, hang or panic. Every
//! capability the calls can name lives in a range of root-CNode slots the
//! sandbox owns (made from an untyped of its own), so nothing random can
//! reach the suite's own capabilities; the sandbox is revoked at the end.

use crate::harness::{CNODE, Suite};
use libcap::abi::{MessageInfo, ObjectType, Syscall, label};
use libcap::{Error, invoke, syscall};

/// Slots the sandbox owns.
const SLOTS: u64 = 48;
/// Random system calls made.
const ROUNDS: u32 = 20_000;

/// xorshift64: a fixed seed, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Labels worth trying, plus one nobody uses.
const LABELS: [u64; 26] = [
    label::UNTYPED_RETYPE,
    label::CNODE_COPY,
    label::CNODE_MINT,
    label::CNODE_MOVE,
    label::CNODE_MUTATE,
    label::CNODE_DELETE,
    label::CNODE_REVOKE,
    label::PAGE_TABLE_MAP,
    label::PAGE_TABLE_UNMAP,
    label::FRAME_MAP,
    label::FRAME_UNMAP,
    label::FRAME_GET_ADDRESS,
    label::IRQ_HANDLER_ACK,
    label::IO_PORT_IN,
    label::TCB_CONFIGURE,
    label::TCB_READ_REGISTERS,
    label::TCB_RESUME,
    label::TCB_SUSPEND,
    label::TCB_SET_PRIORITY,
    label::TCB_WRITE_REGISTERS,
    label::TCB_BIND_NOTIFICATION,
    label::TCB_SET_FAULT_ENDPOINT,
    label::IRQ_CONTROL_GET,
    label::IRQ_CONTROL_GET_MSI,
    label::IRQ_HANDLER_MSI_MESSAGE,
    0x7777,
];

/// Object types a retype may make. Endpoints are left out (a `Call` on one
/// would block the suite forever, which is correct but untestable), and so
/// are TCBs (a started thread of random priority could starve the suite).
const TYPES: [ObjectType; 9] = [
    ObjectType::Untyped,
    ObjectType::Notification,
    ObjectType::CNode,
    ObjectType::Frame4K,
    ObjectType::Frame2M,
    ObjectType::PageTable,
    ObjectType::PageDirectory,
    ObjectType::Pdpt,
    ObjectType::VSpace,
];

pub fn cases(t: &mut Suite) {
    let first = t.slots(SLOTS);
    let sandbox = first;
    if let Err(e) = invoke::untyped_retype(t.memory, ObjectType::Untyped, 22, 1, CNODE, sandbox) {
        t.check(
            "fuzz: a 4 MiB sandbox untyped",
            false,
            format_args!("Ok"),
            format_args!("{e:?}"),
        );
        return;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // A capability address: mostly a sandbox slot, sometimes nothing.
    let cap = |rng: &mut Rng| match rng.below(10) {
        0 => 0,
        1 => rng.next(),
        _ => first + rng.below(SLOTS),
    };
    // A word: small numbers, sandbox slots, user addresses, or anything.
    let word = |rng: &mut Rng| match rng.below(6) {
        0 => rng.below(16),
        1 => first + rng.below(SLOTS),
        2 => rng.below(SLOTS),
        3 => 0x1000_0000 + (rng.below(64) << 12),
        4 => TYPES[rng.below(TYPES.len() as u64) as usize] as u64,
        _ => rng.next(),
    };
    let (mut ok, mut failed, mut unknown) = (0u32, 0u32, 0u32);
    for _ in 0..ROUNDS {
        let number = match rng.below(20) {
            0 => Syscall::NbSend as u64,
            1 => Syscall::NbRecv as u64,
            2 => Syscall::Yield as u64,
            _ => Syscall::Call as u64,
        };
        let label = LABELS[rng.below(LABELS.len() as u64) as usize];
        let mut words = [
            word(&mut rng),
            word(&mut rng),
            word(&mut rng),
            word(&mut rng),
        ];
        if label == label::UNTYPED_RETYPE {
            words[0] = TYPES[rng.below(TYPES.len() as u64) as usize] as u64;
            words[1] = match words[0] {
                t if t == ObjectType::Untyped as u64 => 12 + rng.below(8),
                t if t == ObjectType::CNode as u64 => 1 + rng.below(5),
                _ => 0,
            };
            words[2] = 1 + rng.below(3);
        }
        if label == label::TCB_SET_PRIORITY {
            // Never above the suite's own thread.
            words[0] = rng.below(50);
        }
        // Word 4 (retype's slot index, mint's badge) comes from the IPC
        // buffer.
        libcap::ipc_buffer::write_extra_words(&[rng.below(64)]);
        let info = MessageInfo::new(label, rng.below(6) as usize);
        let reply = syscall::raw(number, cap(&mut rng), info, words);
        match reply.error {
            0 => ok += 1,
            e if Error::from_raw(e).is_some() => failed += 1,
            _ => unknown += 1,
        }
    }
    t.check(
        "fuzz: random invocations on a sandbox, each answered with success or a known error",
        unknown == 0 && ok + failed == ROUNDS,
        format_args!("no unknown error codes"),
        format_args!("{ok} succeeded, {failed} failed, {unknown} unknown codes"),
    );
    libcap::println!("roottest: fuzz: {ok} succeeded, {failed} refused with known errors");
    // Tear the sandbox down: everything it made goes, its memory is free.
    let revoked = invoke::cnode_revoke(CNODE, sandbox);
    let again = invoke::untyped_retype(sandbox, ObjectType::Untyped, 22, 1, CNODE, first + 1);
    let clean = (first + 2..first + SLOTS)
        .all(|s| invoke::cnode_delete(CNODE, s) == Err(Error::InvalidCapability));
    t.check(
        "fuzz: revoking the sandbox removes what it made; its memory is whole again",
        revoked.is_ok() && again.is_ok() && clean,
        format_args!("Ok, a full-size retype, empty slots"),
        format_args!("{revoked:?}, {again:?}, slots empty: {clean}"),
    );
    let _ = invoke::cnode_revoke(CNODE, sandbox);
    let _ = invoke::cnode_delete(CNODE, sandbox);
}
