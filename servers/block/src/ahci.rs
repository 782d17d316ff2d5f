//! A SATA disk behind an AHCI host bus adapter as a [`Device`] (Serial
//! ATA AHCI 1.3.1: §3 the registers, §4 the memory structures, §5 the
//! command flow; ATA8-ACS for the commands): q35's built-in ICH9
//! controller with QEMU's `-device ide-hd`, and a board's SATA port.
//!
//! At start the driver resets the adapter, turns AHCI mode on, takes the
//! first port with a disk attached (a link up, an ATA signature: not the
//! ATAPI CD-ROM q35 boots from), gives it a command list and a received
//! FIS area, starts it and runs IDENTIFY DEVICE: the disk must have
//! 48-bit addressing and 512-byte logical sectors; FLUSH CACHE EXT is
//! sent for a flush when it is supported and the write cache is on.
//! Each of the server's slots is one command slot: READ or WRITE DMA EXT
//! with one PRD entry for the buffer (used in place, so it must be where
//! the adapter reaches it, as `translate` says). A command is done when
//! the adapter clears its bit in PxCI. A task file error fails the
//! command the adapter was running (PxCMD.CCS); the port is restarted and
//! the other commands issued again.
//!
//! | memory | size | holds |
//! |---|---|---|
//! | command list | 1 KiB | 32 command headers |
//! | received FIS | 256 bytes | what the disk sends back |
//! | command tables | 256 bytes a slot | the command FIS, one PRD entry |
//! | identify | 512 bytes | IDENTIFY DEVICE's answer |

use crate::server::{Device, MAX_SLOTS, Slots, Transfer, wait_on};
pub use crate::words::Words;
use block_api::SECTOR_SIZE;
use core::sync::atomic::{Ordering, fence};
use libcap::Notification;
pub use virtio_pci::mmio::{Mmio, Registers};

/// Generic host control registers (§3.1).
pub mod reg {
    /// Capabilities.
    pub const CAP: u32 = 0x00;
    /// Global host control.
    pub const GHC: u32 = 0x04;
    /// Interrupt status (a bit per port).
    pub const IS: u32 = 0x08;
    /// Ports implemented.
    pub const PI: u32 = 0x0c;
    /// The first port's registers; each port's take 0x80 bytes.
    pub const PORTS: u32 = 0x100;
}

/// Port registers (§3.3), from the port's base.
pub mod port {
    /// Command list base (low, high).
    pub const CLB: u32 = 0x00;
    /// Received FIS base (low, high).
    pub const FB: u32 = 0x08;
    /// Interrupt status.
    pub const IS: u32 = 0x10;
    /// Interrupt enable.
    pub const IE: u32 = 0x14;
    /// Command and status.
    pub const CMD: u32 = 0x18;
    /// Task file data.
    pub const TFD: u32 = 0x20;
    /// Signature.
    pub const SIG: u32 = 0x24;
    /// SATA status.
    pub const SSTS: u32 = 0x28;
    /// SATA error.
    pub const SERR: u32 = 0x30;
    /// Command issue.
    pub const CI: u32 = 0x38;
}

mod bits {
    pub const GHC_HR: u32 = 1;
    pub const GHC_IE: u32 = 1 << 1;
    pub const GHC_AE: u32 = 1 << 31;
    pub const CMD_ST: u32 = 1;
    pub const CMD_FRE: u32 = 1 << 4;
    pub const CMD_FR: u32 = 1 << 14;
    pub const CMD_CR: u32 = 1 << 15;
    pub const TFD_BSY: u32 = 1 << 7;
    pub const TFD_DRQ: u32 = 1 << 3;
    /// Port interrupts: task file, host bus fatal, host bus data and
    /// interface fatal errors.
    pub const IS_ERRORS: u32 = (1 << 30) | (1 << 29) | (1 << 28) | (1 << 27);
    /// Port interrupts enabled: a D2H register FIS (a command done) and
    /// the errors.
    pub const IE: u32 = 1 | IS_ERRORS;
    /// An ATA disk's signature (an ATAPI device's is 0xeb140101).
    pub const SIG_ATA: u32 = 0x0000_0101;
    /// SSTS.DET: a device present and the link up.
    pub const DET_PRESENT: u32 = 3;
}

/// ATA commands.
mod ata {
    pub const READ_DMA_EXT: u8 = 0x25;
    pub const WRITE_DMA_EXT: u8 = 0x35;
    pub const FLUSH_CACHE_EXT: u8 = 0xea;
    pub const IDENTIFY: u8 = 0xec;
}

/// Bytes of a command table: the command FIS, the ATAPI command, and one
/// PRD entry at 0x80 (128-byte aligned).
pub const TABLE: usize = 256;

/// The memory the driver needs, each piece zeroed and the adapter's to
/// reach, aligned as the table says (1 KiB for the command list, 256
/// bytes for the rest: page-aligned pieces do).
#[derive(Debug)]
pub struct Memory {
    /// 32 command headers (128 words).
    pub commands: Words,
    /// The received FIS area (32 words).
    pub fis: Words,
    /// [`MAX_SLOTS`] command tables of [`TABLE`] bytes.
    pub tables: Words,
    /// IDENTIFY DEVICE's 512 bytes (64 words).
    pub identify: Words,
}

impl Memory {
    /// Words each piece needs, in the order of the fields.
    pub const WORDS: [usize; 4] = [128, 32, MAX_SLOTS * TABLE / 8, 64];
}

/// Why the adapter or its disk cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AhciError {
    /// A piece of memory is not the size the driver needs.
    BadMemory,
    /// The adapter's reset did not end.
    ResetTimeout,
    /// No implemented port has an ATA disk: each port's SSTS and SIG.
    NoDisk,
    /// The port did not stop, or its disk stayed busy.
    PortTimeout {
        /// PxCMD, PxTFD when the wait ended.
        cmd: u32,
        /// See `cmd`.
        tfd: u32,
    },
    /// IDENTIFY DEVICE failed: PxTFD.
    Identify(u32),
    /// The disk has no 48-bit addressing.
    NoLba48,
    /// The disk's logical sectors are not 512 bytes: their size in bytes.
    SectorSize(u32),
}

/// What IDENTIFY DEVICE said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The port the disk is on.
    pub port: u32,
    /// Sectors (512 bytes).
    pub sectors: u64,
    /// A write cache is on and FLUSH CACHE EXT is sent for a flush.
    pub flush: bool,
}

/// How long a wait for the adapter may last, in register reads.
const POLLS: usize = 10_000_000;

/// A disk behind an AHCI adapter.
pub struct Ahci<R: Registers> {
    regs: R,
    memory: Memory,
    identity: Identity,
    /// The port's registers' base.
    base: u32,
    slots: usize,
    /// Slots issued and not yet done.
    issued: u32,
    started: [Option<Transfer>; MAX_SLOTS],
    /// Slots answered without the disk (a flush with no write cache).
    done_now: Slots,
    /// Slots that failed (a task file error), to report.
    failed: Slots,
    translate: fn(usize, usize) -> Option<u64>,
    interrupt: Option<Notification>,
    /// Ports restarted after errors.
    pub restarts: u64,
}

impl<R: Registers> Ahci<R> {
    /// Resets the adapter and sets the first disk up in `memory`;
    /// `translate` finds transfers' buffers.
    pub fn new(
        mut regs: R,
        memory: Memory,
        translate: fn(usize, usize) -> Option<u64>,
    ) -> Result<Self, AhciError> {
        let pieces = [
            &memory.commands,
            &memory.fis,
            &memory.tables,
            &memory.identify,
        ];
        if pieces
            .iter()
            .zip(Memory::WORDS)
            .any(|(m, words)| m.words.len() != words || !m.phys.is_multiple_of(1024))
        {
            return Err(AhciError::BadMemory);
        }
        regs.write(reg::GHC, bits::GHC_AE);
        regs.write(reg::GHC, bits::GHC_AE | bits::GHC_HR);
        if !(0..POLLS).any(|_| regs.read(reg::GHC) & bits::GHC_HR == 0) {
            return Err(AhciError::ResetTimeout);
        }
        regs.write(reg::GHC, bits::GHC_AE);
        let cap = regs.read(reg::CAP);
        let implemented = regs.read(reg::PI);
        let slots = MAX_SLOTS.min((cap >> 8 & 0x1f) as usize + 1);
        let mut ahci = Self {
            regs,
            memory,
            identity: Identity {
                port: 0,
                sectors: 0,
                flush: false,
            },
            base: reg::PORTS,
            slots,
            issued: 0,
            started: [None; MAX_SLOTS],
            done_now: Slots::default(),
            failed: Slots::default(),
            translate,
            interrupt: None,
            restarts: 0,
        };
        // A port's signature is known once it receives FISes: each port
        // with a link up is tried in turn, and the first disk kept.
        let disk = (0..32)
            .filter(|p| implemented >> p & 1 == 1)
            .find(|&p| {
                ahci.base = reg::PORTS + 0x80 * p;
                let linked = ahci.read(port::SSTS) & 0xf == bits::DET_PRESENT;
                if linked && ahci.receive().is_ok() && ahci.read(port::SIG) == bits::SIG_ATA {
                    return true;
                }
                let cmd = ahci.read(port::CMD);
                ahci.write(port::CMD, cmd & !(bits::CMD_ST | bits::CMD_FRE));
                false
            })
            .ok_or(AhciError::NoDisk)?;
        ahci.identity.port = disk;
        ahci.run();
        ahci.identify()?;
        Ok(ahci)
    }

    /// What IDENTIFY DEVICE said, and the port.
    pub const fn identity(&self) -> Identity {
        self.identity
    }

    /// Interrupts on (the adapter's MSI, which the caller set up, signals
    /// `notification`): [`Device::wait`] waits on it.
    pub fn wait_for_interrupts(&mut self, notification: Notification) {
        self.write(port::IE, bits::IE);
        let ghc = self.regs.read(reg::GHC);
        self.regs.write(reg::GHC, ghc | bits::GHC_IE);
        self.interrupt = Some(notification);
    }

    fn read(&self, r: u32) -> u32 {
        self.regs.read(self.base + r)
    }

    fn write(&mut self, r: u32, v: u32) {
        self.regs.write(self.base + r, v);
    }

    /// Stops the port (§10.1.2), gives it the command list and FIS area,
    /// clears its errors and lets it receive FISes; waits until its disk
    /// is not busy (its signature is then known).
    fn receive(&mut self) -> Result<(), AhciError> {
        let cmd = self.read(port::CMD);
        self.write(port::CMD, cmd & !(bits::CMD_ST | bits::CMD_FRE));
        self.wait_port(|cmd, _| cmd & (bits::CMD_CR | bits::CMD_FR) == 0)?;
        for (r, phys) in [
            (port::CLB, self.memory.commands.phys),
            (port::FB, self.memory.fis.phys),
        ] {
            self.write(r, phys as u32);
            self.write(r + 4, (phys >> 32) as u32);
        }
        self.write(port::SERR, u32::MAX);
        self.write(port::IS, u32::MAX);
        let cmd = self.read(port::CMD);
        self.write(port::CMD, cmd | bits::CMD_FRE);
        self.wait_port(|_, tfd| tfd & (bits::TFD_BSY | bits::TFD_DRQ) == 0)
    }

    /// Starts the port's command engine.
    fn run(&mut self) {
        let cmd = self.read(port::CMD);
        self.write(port::CMD, cmd | bits::CMD_ST);
    }

    /// Waits until `done(PxCMD, PxTFD)`.
    fn wait_port(&self, done: impl Fn(u32, u32) -> bool) -> Result<(), AhciError> {
        for _ in 0..POLLS {
            if done(self.read(port::CMD), self.read(port::TFD)) {
                return Ok(());
            }
        }
        Err(AhciError::PortTimeout {
            cmd: self.read(port::CMD),
            tfd: self.read(port::TFD),
        })
    }

    /// IDENTIFY DEVICE in slot 0, waited for.
    fn identify(&mut self) -> Result<(), AhciError> {
        let phys = self.memory.identify.phys;
        self.fill(0, ata::IDENTIFY, 0, 0, Some((phys, 512)), false);
        self.issue(1);
        let ok = (0..POLLS).any(|_| self.read(port::CI) & 1 == 0);
        let failed = self.read(port::IS) & bits::IS_ERRORS != 0;
        self.issued = 0;
        if !ok || failed {
            return Err(AhciError::Identify(self.read(port::TFD)));
        }
        let id = &self.memory.identify;
        let word = |w: usize| id.half(2 * w);
        if word(83) & (1 << 10) == 0 {
            return Err(AhciError::NoLba48);
        }
        let sectors = (0..4).fold(0u64, |n, i| n | u64::from(word(100 + i)) << (16 * i));
        // Word 106: valid (bit 14 set, 15 clear) and bit 12: logical
        // sectors longer than 256 words, their size in words 117-118.
        let w106 = word(106);
        if w106 & 0xc000 == 0x4000 && w106 & (1 << 12) != 0 {
            let words = u32::from(word(117)) | u32::from(word(118)) << 16;
            if words as usize * 2 != SECTOR_SIZE {
                return Err(AhciError::SectorSize(words * 2));
            }
        }
        let flush_ext = word(83) & (1 << 13) != 0;
        let cache_on = word(85) & (1 << 5) != 0;
        self.identity.sectors = sectors;
        self.identity.flush = flush_ext && cache_on;
        self.write(port::IS, u32::MAX);
        Ok(())
    }

    /// Fills slot `slot`'s command header and table: ATA `command` on
    /// `count` sectors from `lba`, the data at `data` (physical address
    /// and bytes) moving to the disk if `write`.
    fn fill(
        &mut self,
        slot: usize,
        command: u8,
        lba: u64,
        count: u16,
        data: Option<(u64, usize)>,
        write: bool,
    ) {
        let table = self.memory.tables.phys + (slot * TABLE) as u64;
        let t = &self.memory.tables.words[slot * TABLE / 8..(slot + 1) * TABLE / 8];
        // The register FIS, host to device (§10.3.? / SATA 10.5.5): type
        // 0x27, C set, the command, LBA mode, 48-bit LBA and count.
        let b = lba.to_le_bytes();
        let fis0 = u64::from_le_bytes([0x27, 0x80, command, 0, b[0], b[1], b[2], 0x40]);
        let c = count.to_le_bytes();
        let fis1 = u64::from_le_bytes([b[3], b[4], b[5], 0, c[0], c[1], 0, 0]);
        t[0].store(fis0, Ordering::Relaxed);
        t[1].store(fis1, Ordering::Relaxed);
        t[2].store(0, Ordering::Relaxed);
        let prds = match data {
            Some((phys, len)) => {
                t[16].store(phys, Ordering::Relaxed);
                // Byte count less one; no interrupt per entry.
                t[17].store(((len - 1) as u64) << 32, Ordering::Relaxed);
                1
            }
            None => 0,
        };
        // Header: a 5-dword FIS, write flag, the PRD entries; the table.
        let h = &self.memory.commands.words[slot * 4..slot * 4 + 4];
        let dw0 = 5 | u32::from(write) << 6 | prds << 16;
        h[0].store(u64::from(dw0), Ordering::Relaxed);
        h[1].store(table, Ordering::Relaxed);
        h[2].store(0, Ordering::Relaxed);
        h[3].store(0, Ordering::Relaxed);
    }

    /// Issues the slots in `mask`.
    fn issue(&mut self, mask: u32) {
        // The header and table before the bit that hands them over.
        fence(Ordering::SeqCst);
        self.issued |= mask;
        self.write(port::CI, mask);
    }

    /// After an error: the command the port was running failed; the port
    /// restarts and the others are issued again.
    fn recover(&mut self) {
        let running = (self.read(port::CMD) >> 8 & 0x1f) as usize;
        let bit = 1u32 << running;
        if self.issued & bit != 0 {
            self.failed.add(running);
            self.issued &= !bit;
        } else if self.issued != 0 {
            // CCS names no command of ours: fail the lowest, so that the
            // port cannot loop on it.
            let lowest = self.issued & self.issued.wrapping_neg();
            self.failed.add_mask(u64::from(lowest));
            self.issued &= !lowest;
        }
        self.restarts += 1;
        let again = self.issued;
        self.issued = 0;
        // A port that does not come back fails what it held.
        if self.receive().is_err() {
            self.failed.add_mask(u64::from(again));
            return;
        }
        self.run();
        if again != 0 {
            self.issue(again);
        }
    }
}

impl<R: Registers> Device for Ahci<R> {
    fn capacity(&self) -> u64 {
        self.identity.sectors
    }

    fn slots(&self) -> usize {
        self.slots
    }

    unsafe fn start(&mut self, slot: usize, transfer: Transfer) -> bool {
        if slot >= self.slots || self.started[slot].is_some() {
            return false;
        }
        match transfer {
            Transfer::Flush if !self.identity.flush => {
                self.started[slot] = Some(transfer);
                self.done_now.add(slot);
                return true;
            }
            Transfer::Flush => self.fill(slot, ata::FLUSH_CACHE_EXT, 0, 0, None, false),
            Transfer::Read { sector, buf } | Transfer::Write { sector, buf } => {
                let len = buf.len();
                let count = len / SECTOR_SIZE;
                if count == 0 || count > usize::from(u16::MAX) || len > 4 << 20 {
                    return false;
                }
                let Some(phys) = (self.translate)(buf.cast::<u8>().as_ptr() as usize, len) else {
                    return false;
                };
                let write = matches!(transfer, Transfer::Write { .. });
                let command = if write {
                    ata::WRITE_DMA_EXT
                } else {
                    ata::READ_DMA_EXT
                };
                self.fill(
                    slot,
                    command,
                    sector,
                    count as u16,
                    Some((phys, len)),
                    write,
                );
            }
        }
        self.started[slot] = Some(transfer);
        self.issue(1 << slot);
        true
    }

    fn poll(&mut self) -> Option<(usize, bool)> {
        if let Some(slot) = self.done_now.take() {
            self.started[slot] = None;
            return Some((slot, true));
        }
        // Acknowledge what the port raised, so that the next event
        // interrupts again; then look.
        let raised = self.read(port::IS);
        if raised != 0 {
            self.write(port::IS, raised);
            let global = self.identity.port;
            self.regs.write(reg::IS, 1 << global);
        }
        if raised & bits::IS_ERRORS != 0 {
            self.recover();
        }
        if let Some(slot) = self.failed.take() {
            self.started[slot] = None;
            return Some((slot, false));
        }
        let done = self.issued & !self.read(port::CI);
        if done == 0 {
            return None;
        }
        let slot = done.trailing_zeros() as usize;
        self.issued &= !(1 << slot);
        self.started[slot] = None;
        Some((slot, true))
    }

    /// Waits for the adapter's interrupt (a command done, an error); one
    /// that came since the last wait returns at once.
    fn wait(&mut self) {
        wait_on(self.interrupt);
    }
}

#[cfg(test)]
#[path = "ahci_tests.rs"]
mod tests;
