//! An NVMe controller's first namespace as a [`Device`] (NVM Express Base
//! Specification 1.4: §3.1 the registers, §4 the queues, §5 the admin
//! commands, §6 the NVM command set): QEMU's `-device nvme` and real SSDs.
//!
//! At start the driver disables the controller, gives it an admin queue
//! pair, enables it, identifies the controller (its data transfer limit,
//! whether it has a volatile write cache) and namespace 1 (its size and
//! block size, which must be 512 bytes), and creates one I/O queue pair.
//! Each of the server's slots is one command identifier: a read or write
//! goes out with its data described by PRP entries (the buffer is used in
//! place: it must lie where the device reaches it, which `translate`
//! says), a flush as a Flush command (answered at once without a write
//! cache). Completions are taken by their phase bit and matched to slots
//! by command identifier; one the driver did not send is counted and
//! dropped, never trusted.
//!
//! | memory | size | holds |
//! |---|---|---|
//! | admin queue | 8 entries each way | commands 64 bytes, completions 16 |
//! | I/O queue | [`IO_ENTRIES`] each way | the same |
//! | identify page | 4 KiB | what Identify returns |
//! | PRP lists | 256 bytes a slot | the pages after the second of a transfer longer than two pages |
//!
//! Everything the controller writes (completions, identify data) is read
//! as atomic words; the registers through [`Registers`].

use crate::server::{Device, MAX_SLOTS, Slots, Transfer, wait_on};
pub use crate::words::Words;
use block_api::{MAX_SECTORS, SECTOR_SIZE};
use core::sync::atomic::{Ordering, fence};
use libcap::Notification;
pub use virtio_pci::mmio::{Mmio, Registers};

/// Entries of the I/O submission and completion queues (one stays empty:
/// [`IO_ENTRIES`] - 1 commands in flight).
pub const IO_ENTRIES: usize = 32;
/// Entries of the admin queues.
const ADMIN_ENTRIES: usize = 8;
/// The controller's memory page size the driver asks for (CC.MPS = 0).
pub const PAGE: usize = 4096;
/// The bytes of BAR 0 the driver touches: the registers and the first two
/// queues' doorbells at the largest stride it accepts.
pub const REGISTERS: usize = 0x1000 + 4 * (4 << MAX_STRIDE_SHIFT);
/// Doorbell strides past 2^(2 + this) bytes are refused.
const MAX_STRIDE_SHIFT: u32 = 4;
/// PRP entries a slot's list holds: a transfer of [`MAX_SECTORS`] needs
/// one per page after the first.
const PRP_LIST: usize = (MAX_SECTORS as usize * SECTOR_SIZE) / PAGE + 1;

/// Register offsets (§3.1).
pub mod reg {
    /// Controller capabilities (64 bits).
    pub const CAP: u32 = 0x00;
    /// Controller configuration.
    pub const CC: u32 = 0x14;
    /// Controller status.
    pub const CSTS: u32 = 0x1c;
    /// Admin queue attributes.
    pub const AQA: u32 = 0x24;
    /// Admin submission queue base (64 bits).
    pub const ASQ: u32 = 0x28;
    /// Admin completion queue base (64 bits).
    pub const ACQ: u32 = 0x30;
    /// The first doorbell.
    pub const DOORBELLS: u32 = 0x1000;
}

/// Opcodes.
mod op {
    pub const CREATE_SQ: u32 = 0x01;
    pub const CREATE_CQ: u32 = 0x05;
    pub const IDENTIFY: u32 = 0x06;
    pub const FLUSH: u32 = 0x00;
    pub const WRITE: u32 = 0x01;
    pub const READ: u32 = 0x02;
}

/// The memory the driver needs, each piece page-aligned, zeroed and the
/// controller's to reach (see the module's table).
#[derive(Debug)]
pub struct Memory {
    /// Admin submission queue: 8 commands (64 words).
    pub admin_sq: Words,
    /// Admin completion queue: 8 completions (16 words).
    pub admin_cq: Words,
    /// I/O submission queue: [`IO_ENTRIES`] commands.
    pub io_sq: Words,
    /// I/O completion queue: [`IO_ENTRIES`] completions.
    pub io_cq: Words,
    /// The identify page: 512 words.
    pub identify: Words,
    /// The PRP lists: `PRP_LIST` words per slot, [`MAX_SLOTS`] slots.
    pub prp: Words,
}

impl Memory {
    /// Words each piece needs, in the order of the fields.
    pub const WORDS: [usize; 6] = [
        ADMIN_ENTRIES * 8,
        ADMIN_ENTRIES * 2,
        IO_ENTRIES * 8,
        IO_ENTRIES * 2,
        PAGE / 8,
        PRP_LIST * MAX_SLOTS,
    ];
}

/// Why the controller could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NvmeError {
    /// A piece of memory is not the size the driver needs.
    BadMemory,
    /// CAP says no NVM command set, 4 KiB pages it cannot use, a doorbell
    /// stride past 64 bytes, or queues shorter than the driver's: CAP.
    Unsupported(u64),
    /// The controller did not become ready (or stopped being) in time;
    /// CSTS.CFS set: it reported a fatal error.
    NotReady {
        /// CSTS when the wait ended.
        csts: u32,
    },
    /// An admin command failed: its opcode and status field.
    Admin {
        /// The opcode.
        opcode: u32,
        /// The completion's status field (0 would be success).
        status: u32,
    },
    /// An admin command got no completion in time: its opcode.
    AdminTimeout(u32),
    /// Namespace 1 has no blocks.
    NoNamespace,
    /// Namespace 1's blocks are not 512 bytes: log2 of their size.
    BlockSize(u8),
    /// The controller moves less than a request of [`MAX_SECTORS`] in
    /// one command: its MDTS (log2 of pages; 0 is no limit).
    TransferLimit(u8),
}

/// Sizes of what the controller reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Namespace 1's blocks (512 bytes each).
    pub blocks: u64,
    /// The controller has a volatile write cache (Flush is sent).
    pub write_cache: bool,
}

/// How long a wait for the controller may last, in register reads (QEMU
/// answers at once; CAP.TO allows a real controller up to minutes, which
/// the server does not wait for at start).
const POLLS: usize = 10_000_000;

/// An NVMe controller, namespace 1.
pub struct Nvme<R: Registers> {
    regs: R,
    memory: Memory,
    /// The doorbell stride in bytes.
    stride: u32,
    identity: Identity,
    /// The next admin command's entry, and the admin completion head
    /// and phase.
    admin: Queue,
    io: Queue,
    /// What each slot started, and whether it is waiting.
    started: [Option<Transfer>; MAX_SLOTS],
    /// Slots answered without the controller (a flush with no cache).
    done_now: Slots,
    /// How a virtual address of a transfer's buffer is found physically:
    /// `None` where the controller cannot reach it.
    translate: fn(usize, usize) -> Option<u64>,
    interrupt: Option<Notification>,
    /// Completions that named no command in flight.
    pub strays: u64,
}

/// A queue pair's positions.
#[derive(Clone, Copy, Debug, Default)]
struct Queue {
    /// The submission tail (the next entry to fill).
    tail: usize,
    /// The completion head (the next entry to read) and the phase bit a
    /// new entry there carries.
    head: usize,
    phase: bool,
    /// The submission head as the controller last reported it.
    sq_head: usize,
}

impl<R: Registers> Nvme<R> {
    /// Resets the controller and sets it up in `memory` (see the module
    /// documentation); `translate` finds transfers' buffers.
    pub fn new(
        mut regs: R,
        memory: Memory,
        translate: fn(usize, usize) -> Option<u64>,
    ) -> Result<Self, NvmeError> {
        let pieces = [
            &memory.admin_sq,
            &memory.admin_cq,
            &memory.io_sq,
            &memory.io_cq,
            &memory.identify,
            &memory.prp,
        ];
        if pieces
            .iter()
            .zip(Memory::WORDS)
            .any(|(m, words)| m.words.len() != words || !m.phys.is_multiple_of(PAGE as u64))
        {
            return Err(NvmeError::BadMemory);
        }
        let cap = u64::from(regs.read(reg::CAP)) | u64::from(regs.read(reg::CAP + 4)) << 32;
        let mqes = (cap & 0xffff) as usize + 1;
        let stride_shift = ((cap >> 32) & 0xf) as u32;
        let nvm = cap >> 37 & 1 == 1;
        let page_min = (cap >> 48) & 0xf;
        if !nvm || page_min > 0 || stride_shift > MAX_STRIDE_SHIFT || mqes < IO_ENTRIES {
            return Err(NvmeError::Unsupported(cap));
        }
        // Disabled, then the admin queues, then enabled.
        regs.write(reg::CC, 0);
        wait_ready(&regs, false)?;
        let aqa = ((ADMIN_ENTRIES - 1) << 16 | (ADMIN_ENTRIES - 1)) as u32;
        regs.write(reg::AQA, aqa);
        for (register, q) in [(reg::ASQ, &memory.admin_sq), (reg::ACQ, &memory.admin_cq)] {
            regs.write(register, q.phys as u32);
            regs.write(register + 4, (q.phys >> 32) as u32);
        }
        // NVM command set, 4 KiB pages, round robin, 64-byte commands,
        // 16-byte completions, enabled.
        regs.write(reg::CC, (4 << 20) | (6 << 16) | 1);
        wait_ready(&regs, true)?;
        let mut nvme = Self {
            regs,
            memory,
            stride: 4 << stride_shift,
            identity: Identity {
                blocks: 0,
                write_cache: false,
            },
            admin: Queue {
                phase: true,
                ..Queue::default()
            },
            io: Queue {
                phase: true,
                ..Queue::default()
            },
            started: [None; MAX_SLOTS],
            done_now: Slots::default(),
            translate,
            interrupt: None,
            strays: 0,
        };
        nvme.identify()?;
        nvme.create_io_queues()?;
        Ok(nvme)
    }

    /// What the controller reported.
    pub const fn identity(&self) -> Identity {
        self.identity
    }

    /// Makes [`Device::wait`] wait on `notification`, which the
    /// controller's MSI-X entry 0 signals (the I/O completion queue
    /// interrupts on it).
    pub fn wait_for_interrupts(&mut self, notification: Notification) {
        self.interrupt = Some(notification);
    }

    /// Identify Controller (transfer limit, write cache), then Identify
    /// Namespace 1 (size, block size).
    fn identify(&mut self) -> Result<(), NvmeError> {
        let page = self.memory.identify.phys;
        self.admin_command(op::IDENTIFY, 0, page, [1, 0, 0])?;
        let id = &self.memory.identify;
        let mdts = id.byte(77);
        let vwc = id.byte(525) & 1 == 1;
        // MDTS is in pages of CAP.MPSMIN (4 KiB here): a request of
        // MAX_SECTORS must fit.
        let needed = (MAX_SECTORS as usize * SECTOR_SIZE / PAGE).trailing_zeros() as u8;
        if mdts != 0 && mdts < needed {
            return Err(NvmeError::TransferLimit(mdts));
        }
        self.admin_command(op::IDENTIFY, 1, page, [0, 0, 0])?;
        let id = &self.memory.identify;
        let blocks = id.words[0].load(Ordering::Acquire);
        let format = usize::from(id.byte(26) & 0xf);
        let lbads = id.byte(128 + 4 * format + 2);
        if blocks == 0 {
            return Err(NvmeError::NoNamespace);
        }
        if 1usize.checked_shl(u32::from(lbads)) != Some(SECTOR_SIZE) {
            return Err(NvmeError::BlockSize(lbads));
        }
        self.identity = Identity {
            blocks,
            write_cache: vwc,
        };
        Ok(())
    }

    /// Creates I/O completion queue 1 (interrupts on MSI-X entry 0) and
    /// I/O submission queue 1 on it.
    fn create_io_queues(&mut self) -> Result<(), NvmeError> {
        let size = ((IO_ENTRIES - 1) << 16 | 1) as u32;
        let cq = self.memory.io_cq.phys;
        // Physically contiguous, interrupts enabled, vector 0.
        self.admin_command(op::CREATE_CQ, 0, cq, [size, 0b11, 0])?;
        let sq = self.memory.io_sq.phys;
        // Physically contiguous, on completion queue 1.
        self.admin_command(op::CREATE_SQ, 0, sq, [size, 1 << 16 | 1, 0])
    }

    /// Runs one admin command (namespace `nsid`, its data at `prp1`,
    /// command dwords 10-12) and waits for its completion.
    fn admin_command(
        &mut self,
        opcode: u32,
        nsid: u32,
        prp1: u64,
        cdw: [u32; 3],
    ) -> Result<(), NvmeError> {
        let cid = self.admin.tail as u16;
        write_command(
            &self.memory.admin_sq,
            self.admin.tail,
            Command {
                opcode,
                cid,
                nsid,
                prp: [prp1, 0],
                cdw: [cdw[0], cdw[1], cdw[2]],
            },
        );
        self.admin.tail = (self.admin.tail + 1) % ADMIN_ENTRIES;
        fence(Ordering::SeqCst);
        self.regs
            .write(self.doorbell(0, false), self.admin.tail as u32);
        for _ in 0..POLLS {
            let Some(c) = take_completion(&self.memory.admin_cq, ADMIN_ENTRIES, &mut self.admin)
            else {
                continue;
            };
            self.regs
                .write(self.doorbell(0, true), self.admin.head as u32);
            if c.cid != cid {
                self.strays += 1;
                continue;
            }
            return match c.status {
                0 => Ok(()),
                status => Err(NvmeError::Admin { opcode, status }),
            };
        }
        Err(NvmeError::AdminTimeout(opcode))
    }

    /// The doorbell of queue `qid`'s submission tail, or its completion
    /// head.
    fn doorbell(&self, qid: u32, completion: bool) -> u32 {
        reg::DOORBELLS + (2 * qid + u32::from(completion)) * self.stride
    }

    /// The PRP entries of `len` bytes at virtual `virt` for slot `slot`:
    /// PRP1, and PRP2 (the second page, or the slot's list of the pages
    /// after the first). `None` if some of it is where the controller
    /// cannot reach.
    fn prps(&self, slot: usize, virt: usize, len: usize) -> Option<[u64; 2]> {
        let phys = (self.translate)(virt, len)?;
        let first = PAGE - (phys as usize % PAGE);
        if len <= first {
            return Some([phys, 0]);
        }
        // The buffer is physically contiguous (`translate` said so for
        // all of it): the pages after the first follow one another.
        let next = phys + first as u64;
        let pages = (len - first).div_ceil(PAGE);
        if pages == 1 {
            return Some([phys, next]);
        }
        if pages > PRP_LIST {
            return None;
        }
        let list = &self.memory.prp.words[slot * PRP_LIST..(slot + 1) * PRP_LIST];
        for (i, entry) in list.iter().take(pages).enumerate() {
            entry.store(next + (i * PAGE) as u64, Ordering::Relaxed);
        }
        let at = self.memory.prp.phys + (slot * PRP_LIST * 8) as u64;
        Some([phys, at])
    }
}

/// Waits for CSTS.RDY to be `ready`; a fatal status ends the wait.
fn wait_ready<R: Registers>(regs: &R, ready: bool) -> Result<(), NvmeError> {
    for _ in 0..POLLS {
        let csts = regs.read(reg::CSTS);
        if csts & 2 != 0 || csts == u32::MAX {
            return Err(NvmeError::NotReady { csts });
        }
        if (csts & 1 == 1) == ready {
            return Ok(());
        }
    }
    Err(NvmeError::NotReady {
        csts: regs.read(reg::CSTS),
    })
}

/// A command as the driver fills it.
struct Command {
    opcode: u32,
    cid: u16,
    nsid: u32,
    prp: [u64; 2],
    cdw: [u32; 3],
}

/// Writes `c` into entry `i` of submission queue `q`.
fn write_command(q: &Words, i: usize, c: Command) {
    let w = &q.words[i * 8..(i + 1) * 8];
    let dword = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
    w[0].store(
        dword(c.opcode | u32::from(c.cid) << 16, c.nsid),
        Ordering::Relaxed,
    );
    w[1].store(0, Ordering::Relaxed);
    w[2].store(0, Ordering::Relaxed);
    w[3].store(c.prp[0], Ordering::Relaxed);
    w[4].store(c.prp[1], Ordering::Relaxed);
    w[5].store(dword(c.cdw[0], c.cdw[1]), Ordering::Relaxed);
    w[6].store(dword(c.cdw[2], 0), Ordering::Relaxed);
    w[7].store(0, Ordering::Relaxed);
}

/// A completion as the driver reads it.
struct Completion {
    cid: u16,
    /// The status field (0: success).
    status: u32,
}

/// The completion at `q`'s head, if the controller posted it (its phase
/// bit is the one expected); the head moves past it.
fn take_completion(memory: &Words, entries: usize, q: &mut Queue) -> Option<Completion> {
    let high = memory.words[q.head * 2 + 1].load(Ordering::Acquire);
    let dw3 = (high >> 32) as u32;
    if (dw3 >> 16 & 1 == 1) != q.phase {
        return None;
    }
    q.sq_head = (high & 0xffff) as usize % entries;
    q.head += 1;
    if q.head == entries {
        q.head = 0;
        q.phase = !q.phase;
    }
    Some(Completion {
        cid: dw3 as u16,
        status: dw3 >> 17,
    })
}

impl<R: Registers> Device for Nvme<R> {
    fn capacity(&self) -> u64 {
        self.identity.blocks
    }

    fn slots(&self) -> usize {
        MAX_SLOTS.min(IO_ENTRIES - 1)
    }

    unsafe fn start(&mut self, slot: usize, transfer: Transfer) -> bool {
        if slot >= self.slots() || self.started[slot].is_some() {
            return false;
        }
        if (self.io.tail + 1) % IO_ENTRIES == self.io.sq_head {
            return false;
        }
        let (opcode, prp, cdw) = match transfer {
            Transfer::Flush if !self.identity.write_cache => {
                self.started[slot] = Some(transfer);
                self.done_now.add(slot);
                return true;
            }
            Transfer::Flush => (op::FLUSH, [0, 0], [0, 0, 0]),
            Transfer::Read { sector, buf } | Transfer::Write { sector, buf } => {
                let len = buf.len();
                let blocks = len / SECTOR_SIZE;
                if blocks == 0 || blocks > 1 << 16 {
                    return false;
                }
                let Some(prp) = self.prps(slot, buf.cast::<u8>().as_ptr() as usize, len) else {
                    return false;
                };
                let code = match transfer {
                    Transfer::Read { .. } => op::READ,
                    _ => op::WRITE,
                };
                let cdw = [sector as u32, (sector >> 32) as u32, (blocks - 1) as u32];
                (code, prp, cdw)
            }
        };
        write_command(
            &self.memory.io_sq,
            self.io.tail,
            Command {
                opcode,
                cid: slot as u16,
                nsid: 1,
                prp,
                cdw,
            },
        );
        self.started[slot] = Some(transfer);
        self.io.tail = (self.io.tail + 1) % IO_ENTRIES;
        // The command (and its PRP list) before the doorbell.
        fence(Ordering::SeqCst);
        self.regs
            .write(self.doorbell(1, false), self.io.tail as u32);
        true
    }

    fn poll(&mut self) -> Option<(usize, bool)> {
        if let Some(slot) = self.done_now.take() {
            self.started[slot] = None;
            return Some((slot, true));
        }
        loop {
            let c = take_completion(&self.memory.io_cq, IO_ENTRIES, &mut self.io)?;
            self.regs.write(self.doorbell(1, true), self.io.head as u32);
            let slot = usize::from(c.cid);
            match self.started.get_mut(slot).and_then(Option::take) {
                Some(_) => return Some((slot, c.status == 0)),
                // Not a command in flight: a broken controller's.
                None => self.strays += 1,
            }
        }
    }

    /// Waits for the interrupt, which comes after the completions the
    /// controller posts; one that came since the last wait returns at
    /// once.
    fn wait(&mut self) {
        wait_on(self.interrupt);
    }
}

#[cfg(test)]
#[path = "nvme_tests.rs"]
mod tests;
