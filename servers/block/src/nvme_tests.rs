//! The NVMe driver against a simulated controller: registers as the
//! specification defines them, an admin queue that answers Identify and
//! creates the I/O queues, and an I/O queue whose commands move data
//! between a RAM disk and the buffers their PRP entries name, completed
//! in whatever order the test says. The oracle: a RAM copy of what the
//! disk should hold, compared after every read.

extern crate std;

use super::*;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

/// Where the simulated controller finds each piece of the driver's
/// memory (made-up physical addresses; data buffers are found at their
/// own addresses: `translate` is the identity).
const PHYS: [u64; 6] = [
    0x10_0000, 0x11_0000, 0x12_0000, 0x13_0000, 0x14_0000, 0x15_0000,
];

struct Controller {
    regs: Vec<u32>,
    memory: [&'static [AtomicU64]; 6],
    disk: Vec<u8>,
    /// Commands taken from the I/O queue, not yet completed.
    pending: Vec<(u16, u32)>,
    sq_head: [usize; 2],
    cq_tail: [usize; 2],
    phase: [bool; 2],
    /// The admin commands it ran: opcode, CDW10, CDW11.
    admin: Vec<(u32, u32, u32)>,
    flushes: usize,
    /// Identify answers: MDTS, VWC, LBADS.
    mdts: u8,
    vwc: bool,
    lbads: u8,
    /// Never becomes ready.
    dead: bool,
}

impl Controller {
    fn new(blocks: usize) -> Self {
        let mut regs = vec![0u32; REGISTERS / 4];
        // MQES 63, TO 1, DSTRD 0, NVM command set, MPSMIN 0.
        regs[0] = 63 | (1 << 24);
        regs[1] = 1 << 5;
        Controller {
            regs,
            memory: [&[]; 6],
            disk: vec![0; blocks * SECTOR_SIZE],
            pending: Vec::new(),
            sq_head: [0; 2],
            cq_tail: [0; 2],
            phase: [true; 2],
            admin: Vec::new(),
            flushes: 0,
            mdts: 7,
            vwc: true,
            lbads: 9,
            dead: false,
        }
    }

    fn piece(&self, phys: u64) -> (&'static [AtomicU64], usize) {
        let i = PHYS.iter().rposition(|&p| p <= phys).expect("a piece");
        (self.memory[i], (phys - PHYS[i]) as usize)
    }

    fn command(&self, qid: usize, i: usize) -> [u64; 8] {
        let sq = self.memory[if qid == 0 { 0 } else { 2 }];
        core::array::from_fn(|w| sq[i * 8 + w].load(Ordering::Acquire))
    }

    /// Posts a completion of `cid` with `status` on queue `qid`.
    fn complete(&mut self, qid: usize, cid: u16, status: u32) {
        let (cq, entries) = if qid == 0 {
            (self.memory[1], ADMIN_ENTRIES)
        } else {
            (self.memory[3], IO_ENTRIES)
        };
        let t = self.cq_tail[qid];
        let dw3 = u64::from(cid) | u64::from(self.phase[qid]) << 16 | u64::from(status) << 17;
        cq[t * 2].store(0, Ordering::Relaxed);
        cq[t * 2 + 1].store(self.sq_head[qid] as u64 | dw3 << 32, Ordering::Release);
        self.cq_tail[qid] = (t + 1) % entries;
        if self.cq_tail[qid] == 0 {
            self.phase[qid] = !self.phase[qid];
        }
    }

    fn write_identify(&self, bytes: &[(usize, u8)], nsze: Option<u64>) {
        let page = self.memory[4];
        for w in page {
            w.store(0, Ordering::Relaxed);
        }
        if let Some(n) = nsze {
            page[0].store(n, Ordering::Relaxed);
        }
        for &(at, b) in bytes {
            let w = &page[at / 8];
            let shift = 8 * (at % 8);
            let v = w.load(Ordering::Relaxed) & !(0xff << shift) | u64::from(b) << shift;
            w.store(v, Ordering::Relaxed);
        }
    }

    fn run_admin(&mut self, tail: usize) {
        while self.sq_head[0] != tail {
            let c = self.command(0, self.sq_head[0]);
            self.sq_head[0] = (self.sq_head[0] + 1) % ADMIN_ENTRIES;
            let opcode = (c[0] & 0xff) as u32;
            let cid = (c[0] >> 16) as u16;
            let (cdw10, cdw11) = (c[5] as u32, (c[5] >> 32) as u32);
            self.admin.push((opcode, cdw10, cdw11));
            match (opcode, cdw10) {
                (op::IDENTIFY, 1) => {
                    self.write_identify(&[(77, self.mdts), (525, u8::from(self.vwc))], None)
                }
                (op::IDENTIFY, 0) => {
                    let blocks = (self.disk.len() / SECTOR_SIZE) as u64;
                    self.write_identify(&[(26, 0), (130, self.lbads)], Some(blocks));
                }
                _ => {}
            }
            self.complete(0, cid, 0);
        }
    }

    /// Takes the I/O commands up to `tail` (they complete when the test
    /// says).
    fn take_io(&mut self, tail: usize) {
        while self.sq_head[1] != tail {
            let c = self.command(1, self.sq_head[1]);
            self.sq_head[1] = (self.sq_head[1] + 1) % IO_ENTRIES;
            let status = self.execute(&c);
            self.pending.push(((c[0] >> 16) as u16, status));
        }
    }

    /// Moves a read's or write's data; its status.
    fn execute(&mut self, c: &[u64; 8]) -> u32 {
        let opcode = (c[0] & 0xff) as u32;
        if opcode == op::FLUSH {
            self.flushes += 1;
            return 0;
        }
        let sector = c[5];
        let blocks = (c[6] & 0xffff) as usize + 1;
        let len = blocks * SECTOR_SIZE;
        let at = sector as usize * SECTOR_SIZE;
        if at + len > self.disk.len() {
            return 0x80; // LBA out of range
        }
        // The pages, as the PRP entries name them.
        let (prp1, prp2) = (c[3], c[4]);
        let first = PAGE - prp1 as usize % PAGE;
        let mut pieces = vec![(prp1, first.min(len))];
        let mut left = len - first.min(len);
        if left > 0 && left <= PAGE {
            pieces.push((prp2, left));
        } else if left > 0 {
            let (list, offset) = self.piece(prp2);
            let mut i = offset / 8;
            while left > 0 {
                pieces.push((list[i].load(Ordering::Relaxed), left.min(PAGE)));
                left -= left.min(PAGE);
                i += 1;
            }
        }
        let mut pos = at;
        for (addr, n) in pieces {
            // SAFETY: `addr` is the address of a buffer the test leaked
            // (`translate` is the identity) and passed to `start`; the
            // driver does not touch it until the slot completes.
            let mem = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, n) };
            match opcode {
                op::READ => mem.copy_from_slice(&self.disk[pos..pos + n]),
                _ => self.disk[pos..pos + n].copy_from_slice(mem),
            }
            pos += n;
        }
        0
    }
}

impl Registers for Controller {
    fn read(&self, offset: u32) -> u32 {
        self.regs[offset as usize / 4]
    }

    fn write(&mut self, offset: u32, value: u32) {
        self.regs[offset as usize / 4] = value;
        match offset {
            reg::CC => self.regs[reg::CSTS as usize / 4] = u32::from(value & 1 == 1 && !self.dead),
            // The admin queue's tail doorbell; the I/O queue's.
            0x1000 => self.run_admin(value as usize),
            0x1008 => self.take_io(value as usize),
            _ => {}
        }
    }
}

fn memory() -> Memory {
    let mut words = Memory::WORDS.iter().map(|&n| -> &'static [AtomicU64] {
        Box::leak((0..n).map(|_| AtomicU64::new(0)).collect())
    });
    let mut next = |i: usize| Words {
        words: words.next().unwrap(),
        phys: PHYS[i],
    };
    Memory {
        admin_sq: next(0),
        admin_cq: next(1),
        io_sq: next(2),
        io_cq: next(3),
        identify: next(4),
        prp: next(5),
    }
}

fn identity(virt: usize, _len: usize) -> Option<u64> {
    Some(virt as u64)
}

fn nothing(_: usize, _: usize) -> Option<u64> {
    None
}

fn on(mut c: Controller) -> Result<Nvme<Controller>, NvmeError> {
    let m = memory();
    c.memory = [
        m.admin_sq.words,
        m.admin_cq.words,
        m.io_sq.words,
        m.io_cq.words,
        m.identify.words,
        m.prp.words,
    ];
    Nvme::new(c, m, identity)
}

/// A buffer of `len` bytes starting `offset` bytes into a page.
fn buffer(len: usize, offset: usize) -> &'static mut [u8] {
    let pages = (offset + len).div_ceil(PAGE) + 1;
    let mem: &'static mut [u8] = Box::leak(vec![0u8; pages * PAGE].into_boxed_slice());
    let start = mem.as_ptr() as usize;
    let aligned = start.next_multiple_of(PAGE) - start;
    &mut mem[aligned + offset..aligned + offset + len]
}

#[test]
fn bring_up_follows_the_specification() {
    let nvme = on(Controller::new(4096)).unwrap();
    assert_eq!(
        nvme.identity(),
        Identity {
            blocks: 4096,
            write_cache: true
        }
    );
    let c = &nvme.regs;
    assert_eq!(c.regs[reg::AQA as usize / 4], 0x0007_0007);
    assert_eq!(c.regs[reg::ASQ as usize / 4], PHYS[0] as u32);
    assert_eq!(c.regs[reg::ACQ as usize / 4], PHYS[1] as u32);
    assert_eq!(c.regs[reg::CC as usize / 4], 0x0046_0001);
    let io = ((IO_ENTRIES - 1) << 16 | 1) as u32;
    assert_eq!(
        c.admin,
        [
            (op::IDENTIFY, 1, 0),
            (op::IDENTIFY, 0, 0),
            (op::CREATE_CQ, io, 0b11),
            (op::CREATE_SQ, io, 1 << 16 | 1),
        ]
    );
    assert_eq!(nvme.slots(), IO_ENTRIES - 1);
}

#[test]
fn reads_and_writes_of_every_shape_land_where_they_should() {
    let blocks = 8192;
    let mut nvme = on(Controller::new(blocks)).unwrap();
    let mut model = vec![0u8; blocks * SECTOR_SIZE];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..300u64 {
        // A batch of requests in flight at once, completed in reverse.
        let n = 1 + (next() % 8) as usize;
        let mut batch = Vec::new();
        for slot in 0..n {
            let sectors = 1 + (next() % MAX_SECTORS) as usize;
            let sector = next() % (blocks - sectors) as u64;
            let offset = (next() % 8) as usize * SECTOR_SIZE;
            let buf = buffer(sectors * SECTOR_SIZE, offset);
            let write = next() % 2 == 0 || round < 3;
            if write {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = (i as u64 ^ round ^ sector) as u8;
                }
            }
            let ptr = NonNull::from(&mut *buf);
            let t = if write {
                Transfer::Write { sector, buf: ptr }
            } else {
                Transfer::Read { sector, buf: ptr }
            };
            // SAFETY: the buffer is leaked and not used until the slot
            // completes.
            assert!(unsafe { nvme.start(slot, t) }, "slot {slot} started");
            // The controller runs each command as it takes it: a read sees
            // the writes submitted before it.
            let at = sector as usize * SECTOR_SIZE;
            let range = at..at + sectors * SECTOR_SIZE;
            let wanted = if write {
                model[range].copy_from_slice(buf);
                None
            } else {
                Some(model[range].to_vec())
            };
            batch.push((slot, wanted, buf));
        }
        assert_eq!(nvme.poll(), None, "nothing completed yet");
        let pending: Vec<_> = core::mem::take(&mut nvme.regs.pending);
        for &(cid, status) in pending.iter().rev() {
            nvme.regs.complete(1, cid, status);
        }
        let mut done = Vec::new();
        while let Some((slot, ok)) = nvme.poll() {
            assert!(ok);
            done.push(slot);
        }
        let expected: Vec<usize> = (0..n).rev().collect();
        assert_eq!(done, expected, "matched by command identifier");
        for (slot, wanted, buf) in &batch {
            if let Some(w) = wanted {
                assert!(
                    buf[..] == w[..],
                    "round {round}: slot {slot} read the wrong data"
                );
            }
        }
        assert!(nvme.regs.disk == model, "round {round}: the disk differs");
    }
    assert_eq!(nvme.strays, 0);
}

#[test]
fn flush_is_sent_only_to_a_write_cache() {
    let mut nvme = on(Controller::new(64)).unwrap();
    // SAFETY: a flush has no buffer.
    assert!(unsafe { nvme.start(3, Transfer::Flush) });
    assert_eq!(nvme.regs.flushes, 1);
    let (cid, status) = nvme.regs.pending.pop().unwrap();
    nvme.regs.complete(1, cid, status);
    assert_eq!(nvme.poll(), Some((3, true)));
    let mut c = Controller::new(64);
    c.vwc = false;
    let mut nvme = on(c).unwrap();
    // SAFETY: as above.
    assert!(unsafe { nvme.start(5, Transfer::Flush) });
    assert_eq!(nvme.regs.flushes, 0, "nothing to write back");
    assert_eq!(nvme.poll(), Some((5, true)));
}

#[test]
fn what_a_controller_gets_wrong_is_not_trusted() {
    let mut nvme = on(Controller::new(64)).unwrap();
    let buf = buffer(SECTOR_SIZE, 0);
    let t = Transfer::Read {
        sector: 1,
        buf: NonNull::from(&mut *buf),
    };
    // SAFETY: leaked buffer.
    assert!(unsafe { nvme.start(0, t) });
    // A completion for a command never sent, then the real one failing.
    nvme.regs.pending.clear();
    nvme.regs.complete(1, 17, 0);
    nvme.regs.complete(1, 0, 0x02); // Invalid Field in Command
    assert_eq!(nvme.poll(), Some((0, false)));
    assert_eq!(nvme.strays, 1);
    assert_eq!(nvme.poll(), None);
    // A slot in use, or past the slots, is refused.
    let mut start = |slot| {
        // SAFETY: the buffer is leaked, and the test does not touch it
        // while a slot holds it.
        unsafe { nvme.start(slot, t) }
    };
    assert!(start(1));
    assert!(!start(1));
    assert!(!start(IO_ENTRIES));
    // A buffer the controller cannot reach is refused, nothing sent.
    nvme.translate = nothing;
    let sent = nvme.regs.pending.len();
    // SAFETY: as above.
    assert!(!unsafe { nvme.start(2, t) });
    assert_eq!(nvme.regs.pending.len(), sent);
}

#[test]
fn a_controller_the_driver_cannot_use_is_refused_with_why() {
    let mut c = Controller::new(64);
    c.dead = true;
    assert!(matches!(on(c), Err(NvmeError::NotReady { .. })));
    let mut c = Controller::new(64);
    c.lbads = 12;
    assert_eq!(on(c).err(), Some(NvmeError::BlockSize(12)));
    let mut c = Controller::new(64);
    c.mdts = 3;
    assert_eq!(on(c).err(), Some(NvmeError::TransferLimit(3)));
    let c = Controller::new(0);
    assert_eq!(on(c).err(), Some(NvmeError::NoNamespace));
    let mut c = Controller::new(64);
    c.regs[1] = 0; // no NVM command set
    assert!(matches!(on(c), Err(NvmeError::Unsupported(_))));
}
