//! The AHCI driver against a simulated adapter: registers as the AHCI
//! specification defines them, an ATAPI drive on port 0, nothing on port
//! 1 and a disk on port 2, commands run from the command list and tables
//! (IDENTIFY, READ and WRITE DMA EXT through the PRD entry, FLUSH CACHE
//! EXT) when the test says, a task file error on demand. The oracle: a
//! RAM copy of what the disk should hold.

extern crate std;

use super::*;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

/// Where the simulated adapter finds each piece of the driver's memory.
const PHYS: [u64; 4] = [0x10_0000, 0x11_0000, 0x12_0000, 0x13_0000];
const DISK_PORT: u32 = 2;

struct Adapter {
    regs: Vec<u32>,
    memory: [&'static [AtomicU64]; 4],
    disk: Vec<u8>,
    /// Commands wait for `run` instead of running when issued.
    defer: bool,
    /// The slot whose command fails next, with a task file error.
    fail: Option<usize>,
    flushes: usize,
    /// IDENTIFY's answer: LBA48, logical sector size in bytes, write
    /// cache on.
    lba48: bool,
    sector: u32,
    cache: bool,
    stuck: bool,
}

fn at(p: u32, r: u32) -> usize {
    ((reg::PORTS + 0x80 * p + r) / 4) as usize
}

impl Adapter {
    fn new(sectors: usize) -> Self {
        let mut regs = vec![0u32; 0x1100 / 4];
        // 32 command slots, 64-bit addressing, three ports.
        regs[reg::CAP as usize / 4] = (31 << 8) | (1 << 31) | 2;
        regs[reg::PI as usize / 4] = 0b111;
        // The signatures show once a port receives FISes (FRE).
        for p in 0..3 {
            regs[at(p, port::SIG)] = u32::MAX;
        }
        regs[at(0, port::SSTS)] = 0x113;
        regs[at(DISK_PORT, port::SSTS)] = 0x113;
        Adapter {
            regs,
            memory: [&[]; 4],
            disk: vec![0; sectors * SECTOR_SIZE],
            defer: false,
            fail: None,
            flushes: 0,
            lba48: true,
            sector: 512,
            cache: true,
            stuck: false,
        }
    }

    fn port(&self, r: u32) -> u32 {
        self.regs[at(DISK_PORT, r)]
    }

    /// Runs the issued commands, highest slot first.
    fn run(&mut self) {
        let ci = self.port(port::CI);
        for slot in (0..32).rev().filter(|s| ci >> s & 1 == 1) {
            if self.port(port::CMD) & bits::CMD_ST == 0 {
                return;
            }
            if self.fail == Some(slot) {
                self.fail = None;
                self.regs[at(DISK_PORT, port::TFD)] = 0x41; // ERR, DRDY
                self.regs[at(DISK_PORT, port::IS)] |= 1 << 30;
                let cmd = &mut self.regs[at(DISK_PORT, port::CMD)];
                *cmd = (*cmd & !(0x1f << 8)) | (slot as u32) << 8;
                return;
            }
            self.execute(slot);
            self.regs[at(DISK_PORT, port::CI)] &= !(1 << slot);
            self.regs[at(DISK_PORT, port::IS)] |= 1;
        }
    }

    fn execute(&mut self, slot: usize) {
        let header = self.memory[0][slot * 4].load(Ordering::Acquire);
        let table = self.memory[0][slot * 4 + 1].load(Ordering::Acquire);
        assert_eq!(header & 0x1f, 5, "a 5-dword FIS");
        let t = &self.memory[2][((table - PHYS[2]) / 8) as usize..];
        let fis = t[0].load(Ordering::Acquire).to_le_bytes();
        let fis1 = t[1].load(Ordering::Acquire).to_le_bytes();
        assert_eq!((fis[0], fis[1], fis[7]), (0x27, 0x80, 0x40));
        let lba = u64::from_le_bytes([fis[4], fis[5], fis[6], fis1[0], fis1[1], fis1[2], 0, 0]);
        let count = usize::from(u16::from_le_bytes([fis1[4], fis1[5]]));
        let prds = header >> 16 & 0xffff;
        let (addr, len) = match prds {
            0 => (0, 0),
            _ => (
                t[16].load(Ordering::Acquire),
                ((t[17].load(Ordering::Acquire) >> 32) & 0x3f_ffff) as usize + 1,
            ),
        };
        match fis[2] {
            ata::IDENTIFY => self.identify(addr),
            ata::FLUSH_CACHE_EXT => self.flushes += 1,
            command => {
                assert_eq!(len, count * SECTOR_SIZE, "the PRD covers the count");
                assert_eq!(header >> 6 & 1 == 1, command == ata::WRITE_DMA_EXT);
                let pos = lba as usize * SECTOR_SIZE;
                // SAFETY: `addr` is the address of a buffer the test
                // leaked (`translate` is the identity) and passed to
                // `start`; the driver leaves it alone until it is done.
                let mem = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) };
                match command {
                    ata::READ_DMA_EXT => mem.copy_from_slice(&self.disk[pos..pos + len]),
                    _ => self.disk[pos..pos + len].copy_from_slice(mem),
                }
            }
        }
    }

    fn identify(&mut self, addr: u64) {
        assert_eq!(addr, PHYS[3]);
        let words = self.memory[3];
        let mut id = [0u16; 256];
        id[83] = u16::from(self.lba48) << 10 | 1 << 13;
        id[85] = u16::from(self.cache) << 5;
        let sectors = (self.disk.len() / SECTOR_SIZE) as u64;
        for i in 0..4 {
            id[100 + i] = (sectors >> (16 * i)) as u16;
        }
        if self.sector != 512 {
            id[106] = 0x4000 | 1 << 12;
            id[117] = (self.sector / 2) as u16;
        }
        for (i, w) in words.iter().enumerate() {
            let v = (0..4).fold(0u64, |v, j| v | u64::from(id[i * 4 + j]) << (16 * j));
            w.store(v, Ordering::Release);
        }
    }
}

impl Registers for Adapter {
    fn read(&self, offset: u32) -> u32 {
        self.regs[offset as usize / 4]
    }

    fn write(&mut self, offset: u32, value: u32) {
        let i = offset as usize / 4;
        let disk = |r| at(DISK_PORT, r);
        match offset {
            reg::GHC if value & bits::GHC_HR != 0 && !self.stuck => {
                self.regs[i] = value & !bits::GHC_HR;
            }
            reg::IS => self.regs[i] &= !value,
            _ if i == disk(port::IS) || i == disk(port::SERR) => self.regs[i] &= !value,
            // Port 0, the CD-ROM: its signature once it receives FISes.
            _ if i == at(0, port::CMD) => {
                self.regs[i] = value;
                if value & bits::CMD_FRE != 0 {
                    self.regs[at(0, port::SIG)] = 0xeb14_0101;
                }
            }
            _ if i == disk(port::CMD) => {
                if value & bits::CMD_FRE != 0 {
                    self.regs[disk(port::SIG)] = bits::SIG_ATA;
                }
                // The engines follow ST and FRE at once; a stopped port
                // clears its issued commands.
                let mut v = value & !(bits::CMD_CR | bits::CMD_FR);
                if v & bits::CMD_ST != 0 {
                    v |= bits::CMD_CR;
                } else {
                    self.regs[disk(port::CI)] = 0;
                    self.regs[disk(port::TFD)] = 0x40;
                }
                if v & bits::CMD_FRE != 0 {
                    v |= bits::CMD_FR;
                }
                self.regs[i] = v;
            }
            _ if i == disk(port::CI) => {
                self.regs[i] |= value;
                if !self.defer {
                    self.run();
                }
            }
            _ => self.regs[i] = value,
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
        commands: next(0),
        fis: next(1),
        tables: next(2),
        identify: next(3),
    }
}

fn identity(virt: usize, _len: usize) -> Option<u64> {
    Some(virt as u64)
}

fn on(mut a: Adapter) -> Result<Ahci<Adapter>, AhciError> {
    let m = memory();
    a.memory = [
        m.commands.words,
        m.fis.words,
        m.tables.words,
        m.identify.words,
    ];
    Ahci::new(a, m, identity)
}

fn buffer(len: usize, offset: usize) -> &'static mut [u8] {
    let mem: &'static mut [u8] = Box::leak(vec![0u8; len + offset + 4096].into_boxed_slice());
    &mut mem[offset..offset + len]
}

#[test]
fn bring_up_takes_the_disk_and_not_the_cd_rom() {
    let ahci = on(Adapter::new(4096)).unwrap();
    assert_eq!(
        ahci.identity(),
        Identity {
            port: DISK_PORT,
            sectors: 4096,
            flush: true
        }
    );
    let a = &ahci.regs;
    assert_eq!(a.regs[reg::GHC as usize / 4], bits::GHC_AE);
    assert_eq!(a.port(port::CLB), PHYS[0] as u32);
    assert_eq!(a.port(port::FB), PHYS[1] as u32);
    let cmd = a.port(port::CMD);
    assert_eq!(
        cmd & (bits::CMD_ST | bits::CMD_FRE),
        bits::CMD_ST | bits::CMD_FRE
    );
    assert_eq!(ahci.slots(), 32);
}

#[test]
fn reads_and_writes_land_where_they_should() {
    let sectors = 8192;
    let mut ahci = on(Adapter::new(sectors)).unwrap();
    ahci.regs.defer = true;
    let mut model = vec![0u8; sectors * SECTOR_SIZE];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..300u64 {
        let n = 1 + (next() % 8) as usize;
        let mut batch = Vec::new();
        for slot in 0..n {
            let count = 1 + (next() % 256) as usize;
            let sector = next() % (sectors - count) as u64;
            let buf = buffer(count * SECTOR_SIZE, (next() % 4096) as usize & !1);
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
            assert!(unsafe { ahci.start(slot, t) });
            batch.push((slot, sector as usize, write, buf));
        }
        assert_eq!(ahci.poll(), None, "nothing done yet");
        // The adapter runs them highest slot first: the model follows.
        ahci.regs.run();
        let mut wanted = Vec::new();
        for (slot, sector, write, buf) in batch.iter().rev() {
            let range = sector * SECTOR_SIZE..sector * SECTOR_SIZE + buf.len();
            if *write {
                model[range].copy_from_slice(buf);
            } else {
                wanted.push((*slot, model[range].to_vec()));
            }
        }
        let mut done = Vec::new();
        while let Some((slot, ok)) = ahci.poll() {
            assert!(ok);
            done.push(slot);
        }
        done.sort();
        assert_eq!(done, (0..n).collect::<Vec<_>>());
        for (slot, w) in wanted {
            assert!(
                batch[slot].3[..] == w[..],
                "round {round}: slot {slot} read wrong data"
            );
        }
        assert!(ahci.regs.disk == model, "round {round}: the disk differs");
    }
}

#[test]
fn a_task_file_error_fails_one_command_and_the_port_restarts() {
    let mut ahci = on(Adapter::new(64)).unwrap();
    ahci.regs.defer = true;
    let bufs: Vec<&'static mut [u8]> = (0..3).map(|_| buffer(SECTOR_SIZE, 0)).collect();
    for (slot, buf) in bufs.into_iter().enumerate() {
        let t = Transfer::Write {
            sector: slot as u64,
            buf: NonNull::from(buf),
        };
        // SAFETY: leaked buffers.
        assert!(unsafe { ahci.start(slot, t) });
    }
    // Slot 2 runs first and succeeds; slot 1 fails; slot 0 is still issued.
    ahci.regs.fail = Some(1);
    ahci.regs.run();
    ahci.regs.defer = false;
    let mut got = Vec::new();
    while let Some(r) = ahci.poll() {
        got.push(r);
    }
    got.sort();
    assert_eq!(got, [(0, true), (1, false), (2, true)]);
    assert_eq!(ahci.restarts, 1);
    // The port works on.
    // SAFETY: no buffer.
    assert!(unsafe { ahci.start(5, Transfer::Flush) });
    assert_eq!(ahci.poll(), Some((5, true)));
    assert_eq!(ahci.regs.flushes, 1);
}

#[test]
fn disks_the_driver_cannot_use_are_refused() {
    let mut a = Adapter::new(64);
    a.regs[at(DISK_PORT, port::SSTS)] = 0;
    assert_eq!(on(a).err(), Some(AhciError::NoDisk));
    let mut a = Adapter::new(64);
    a.lba48 = false;
    assert_eq!(on(a).err(), Some(AhciError::NoLba48));
    let mut a = Adapter::new(64);
    a.sector = 4096;
    assert_eq!(on(a).err(), Some(AhciError::SectorSize(4096)));
    let mut a = Adapter::new(64);
    a.stuck = true;
    assert_eq!(on(a).err(), Some(AhciError::ResetTimeout));
    // Without a write cache a flush is answered at once.
    let mut a = Adapter::new(64);
    a.cache = false;
    let mut ahci = on(a).unwrap();
    // SAFETY: no buffer.
    assert!(unsafe { ahci.start(0, Transfer::Flush) });
    assert_eq!(ahci.poll(), Some((0, true)));
    assert_eq!(ahci.regs.flushes, 0);
}
