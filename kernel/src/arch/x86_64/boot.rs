//! The boot sequence, from the entry code's jump to the higher half to the
//! boot summary.

use super::acpi::{Platform, SpcrUart};
use super::boot_info::{BootInfo, Firmware, Module};
use super::layout::{self, KERNEL_VIRT_OFFSET};
use super::paging::KernelPageTables;
use super::timer::{Timer, TimerMode};
use super::{
    apic, cpu, fpu, gdt, idt, ioapic, irq, pic, qemu, roottask, screen, serial, stacks, thread,
    timer, user, vspace,
};
use crate::cmdline::{Args, Console, SelfTest};
use crate::kprintln;
use crate::memory::{FrameAllocator, FreeMemory, PAGE_SIZE, PhysRange, RangeSet};
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

/// Capacity of the kernel's range tables (free memory, the direct map).
const RANGES: usize = 128;
/// Memory below 1 MiB stays untouched: real-mode structures, the EBDA, and
/// later the application processors' start-up code.
const LOW_MEMORY: PhysRange = PhysRange::new(0, 1 << 20);

static SELF_TEST: AtomicBool = AtomicBool::new(false);

/// Ends the kernel's run: in a self-test, QEMU exits with the result;
/// otherwise the CPU halts for good.
pub fn stop(success: bool) -> ! {
    if SELF_TEST.load(Ordering::Relaxed) {
        qemu::exit(if success {
            qemu::ExitCode::Success
        } else {
            qemu::ExitCode::Failure
        });
    }
    cpu::halt_forever()
}

/// Whether the kernel runs a self-test (`test=` on the command line).
pub fn in_self_test() -> bool {
    SELF_TEST.load(Ordering::Relaxed)
}

/// Stops with a message for a condition the kernel cannot get past.
pub fn fatal(what: fmt::Arguments<'_>) -> ! {
    serial::write_fmt_emergency(format_args!("\nBOOT FAILED: {what}\n"));
    stop(false)
}

/// Where there is no serial console, the text screen the loader left
/// (through the entry code's map of the first 4 GiB until the kernel's
/// own tables map it).
fn screen_without_serial(boot: &BootInfo) {
    if serial::present() || screen::on() {
        return;
    }
    if let Some(fb) = boot.console_framebuffer() {
        let (phys, _) = fb.range();
        // SAFETY: the entry code maps the first 4 GiB, which holds the
        // framebuffers the loaders give, at the direct map until the
        // kernel's own tables take over (then `screen::move_to`); only the
        // console writes it. One above 4 GiB is not used.
        if phys < 1 << 32 {
            unsafe { screen::init(fb, super::layout::phys_to_virt(phys) as usize) };
        }
    }
}

/// Moves the console to the UART the firmware's SPCR table names, if it
/// is one the kernel drives and it answers (else it stays where it is);
/// the pages a memory-mapped one's registers took, if it answered.
fn spcr_console<const N: usize>(
    spcr: Option<SpcrUart>,
    tables: &mut KernelPageTables,
    frames: &mut FrameAllocator<N>,
) -> Option<PhysRange> {
    match spcr {
        Some(SpcrUart::Port { port, baud }) => {
            let was = serial::present();
            if serial::use_port(Some(port), baud) {
                log::info!(
                    "console: the SPCR table's UART at I/O port {port:#x} ({baud} baud, 0: 115200)"
                );
            } else {
                // Back to COM1, if it was there.
                if was {
                    serial::use_port(Some(serial::COM1), 0);
                }
                log::warn!("console: the SPCR table's UART at I/O port {port:#x} does not answer");
            }
            None
        }
        Some(SpcrUart::Mmio {
            address,
            stride,
            dword,
            baud,
        }) => match mmio_console(address, stride, dword, baud, tables, frames) {
            Ok(pages) => {
                log::info!(
                    "console: the SPCR table's UART at {address:#x} ({baud} baud, 0: 115200)"
                );
                Some(pages)
            }
            Err(why) => {
                log::warn!("console: the SPCR table's UART {why}");
                None
            }
        },
        Some(SpcrUart::Other { interface, address }) => {
            log::warn!(
                "console: the SPCR table names a UART the kernel does not drive (interface {interface}, address {address:#x})"
            );
            None
        }
        None => None,
    }
}

/// Why a memory-mapped console UART is not used.
enum MmioConsoleError {
    Unmapped(u64, super::paging::MapError),
    Silent(u64),
}

impl fmt::Display for MmioConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unmapped(address, e) => write!(f, "at {address:#x} cannot be mapped: {e:?}"),
            Self::Silent(address) => write!(f, "at {address:#x} does not answer"),
        }
    }
}

/// Maps the memory-mapped 16550 at `address` uncached and moves the
/// console to it, if it answers (else back to COM1, if that was there):
/// the pages it maps, or why not.
fn mmio_console<const N: usize>(
    address: u64,
    stride: u8,
    dword: bool,
    baud: u32,
    tables: &mut KernelPageTables,
    frames: &mut FrameAllocator<N>,
) -> Result<PhysRange, MmioConsoleError> {
    let first = address & !(PAGE_SIZE - 1);
    let end = (address + serial::Uart::span(stride)).next_multiple_of(PAGE_SIZE);
    let virt = tables
        .map_device(frames, first, end - first)
        .map_err(|e| MmioConsoleError::Unmapped(address, e))?;
    let uart = serial::Uart::Mmio {
        physical: address,
        virt: virt + (address - first),
        stride,
        dword,
    };
    let was = serial::present();
    // SAFETY: the registers were just mapped uncached, for the rest of the
    // program; the kernel keeps their pages out of the device memory it
    // gives the root task (`kernel_devices`), so nothing else maps them.
    if unsafe { serial::use_uart(Some(uart), baud) } {
        return Ok(PhysRange::new(first, end));
    }
    if was {
        serial::use_port(Some(serial::COM1), 0);
    }
    Err(MmioConsoleError::Silent(address))
}

/// Entered from `entry.rs` on the boot stack, in the higher half, with the
/// loader's EAX and EBX.
pub extern "C" fn kernel_main(magic: u32, boot_info_phys: u32) -> ! {
    serial::init();
    crate::console::init(log::LevelFilter::Info);

    // SAFETY: `magic` and the address come straight from the loader, and the
    // entry code's tables map the first 4 GiB (where both loaders put the
    // information) at the direct map.
    let boot = match unsafe { BootInfo::load(magic, u64::from(boot_info_phys)) } {
        Ok(b) => b,
        Err(e) => fatal(format_args!(
            "unusable boot information: {e:?}; boot Basalt with a Multiboot2 loader (GRUB) \
             or QEMU's -kernel with a module archive as -initrd (cargo xtask run --direct)"
        )),
    };
    let args = Args::parse(boot.command_line(), |u| {
        log::warn!("ignoring unknown kernel argument `{}`", u.0)
    });
    match args.console {
        Console::Serial(port) => {
            serial::use_port(Some(port), 0);
        }
        Console::Screen => {
            serial::use_port(None, 0);
        }
        // A memory-mapped UART once the kernel's own tables can map it
        // uncached; COM1 until then.
        Console::Auto | Console::Mmio { .. } => {}
    }
    screen_without_serial(&boot);
    SELF_TEST.store(args.self_test.is_some(), Ordering::Relaxed);
    crate::console::init(args.log_level);
    log::info!(
        "Basalt {} starting (command line: `{}`)",
        env!("CARGO_PKG_VERSION"),
        boot.command_line()
    );

    let selectors = gdt::init();
    idt::init(selectors.kernel_code);
    user::init();
    fpu::init();
    let features = cpu::Features::detect();

    let (mut frames, memory) = memory(&boot);
    let tables = match build_page_tables(&boot, &mut frames) {
        Ok(t) => t,
        Err(e) => fatal(format_args!("cannot build the kernel page tables: {e:?}")),
    };
    // SAFETY: the new tables map the kernel image (minus only the stack
    // guard pages, which nothing touches) and the direct map, which is all
    // the kernel uses from here on.
    unsafe { tables.activate() };
    features.enable_protections();
    vspace::init(tables.pml4(), features.pcid);
    let mut tables = tables;
    // The screen's framebuffer, in the kernel's own tables now.
    if screen::on()
        && let Some(fb) = boot.console_framebuffer()
    {
        let (phys, len) = fb.range();
        match tables.map_device(&mut frames, phys, len) {
            // SAFETY: the framebuffer, mapped uncached for the rest of the
            // program; only the console writes it.
            Ok(virt) => unsafe { screen::move_to(virt as usize) },
            Err(e) => fatal(format_args!("cannot map the screen's framebuffer: {e:?}")),
        }
    }

    let Some(root) = boot.acpi_root() else {
        fatal(format_args!(
            "the boot loader passed no valid ACPI RSDP; the interrupt controllers cannot be found"
        ))
    };
    // SAFETY: the root comes from a checksummed RSDP; the direct map covers
    // every region of the firmware memory map, which holds the tables.
    let platform = match unsafe { Platform::read(root) } {
        Ok(p) => p,
        Err(e) => fatal(format_args!("cannot read the ACPI tables: {e:?}")),
    };
    // The page(s) of a memory-mapped console UART: the kernel's, kept out
    // of the device memory init is given.
    let uart_pages = match args.console {
        Console::Auto => spcr_console(platform.spcr, &mut tables, &mut frames),
        Console::Mmio { address, dword } => {
            let stride = if dword { 4 } else { 1 };
            mmio_console(address, stride, dword, 0, &mut tables, &mut frames)
                .map_err(|why| log::warn!("console: `console=` {why}"))
                .ok()
        }
        Console::Serial(_) | Console::Screen => None,
    };

    pic::disable();
    let apic_mode = if features.x2apic {
        apic::Mode::X2Apic
    } else {
        match tables.map_device(&mut frames, platform.local_apic_address, 4096) {
            Ok(virt) => apic::Mode::XApic(virt),
            Err(e) => fatal(format_args!("cannot map the local APIC: {e:?}")),
        }
    };
    apic::init(apic_mode);
    let mut ioapic_inputs = [0u32; 8];
    for (i, io) in platform.ioapics.as_slice().iter().enumerate() {
        let virt = match tables.map_device(&mut frames, io.address, 4096) {
            Ok(v) => v,
            Err(e) => fatal(format_args!("cannot map IOAPIC {}: {e:?}", io.id)),
        };
        // SAFETY: `virt` maps this IOAPIC's registers uncached; the kernel
        // is its only driver.
        let io_apic = unsafe { ioapic::IoApic::new(virt) };
        io_apic.mask_all();
        ioapic_inputs[i] = io_apic.inputs();
        if i == 0 {
            irq::init(
                io_apic,
                io.gsi_base,
                platform.overrides.as_slice(),
                apic::id(),
            );
        }
    }
    let timer = timer::start(&features);

    let root_task = boot
        .modules()
        .find(|m| m.name == roottask::MODULE_NAME)
        .map(|module| {
            // The local APIC, the IOAPICs and a memory-mapped console
            // UART (two pages at most).
            let mut kernel_devices = [platform.local_apic_address; 11];
            for (slot, io) in kernel_devices[1..9]
                .iter_mut()
                .zip(platform.ioapics.as_slice())
            {
                *slot = io.address;
            }
            if let Some(pages) = uart_pages {
                kernel_devices[9] = pages.start;
                kernel_devices[10] = pages.end - PAGE_SIZE;
            }
            let devices = roottask::device_space(&memory.ram, &kernel_devices);
            let others = boot.modules().filter(|m| m.name != roottask::MODULE_NAME);
            match roottask::create(
                &module,
                others,
                &mut frames,
                &devices,
                platform.segment0_ecam(),
                platform.aml_tables.as_slice(),
            ) {
                Ok(r) => r,
                Err(e) => fatal(format_args!(
                    "cannot start the root task (module `{}`): {e}",
                    module.name
                )),
            }
        });

    let summary = Summary {
        boot: &boot,
        memory: &memory,
        frames: &frames,
        platform: &platform,
        ioapic_inputs: &ioapic_inputs,
        apic_mode,
        timer,
        features,
        root_task: root_task.as_ref(),
        console: (serial::uart(), screen::on()),
    };
    kprintln!("{summary}");

    x86_64::instructions::interrupts::enable();
    match (args.self_test, root_task) {
        (Some(SelfTest::Boot), _) => self_test_boot(),
        (Some(SelfTest::PageFault), _) => self_test_page_fault(),
        (_, Some(root)) => {
            let k = super::state::enter();
            thread::resume(k, root.tcb);
            thread::schedule(k)
        }
        (Some(SelfTest::RootTask), None) => fatal(format_args!(
            "test=roottask needs a boot module named `{}`",
            roottask::MODULE_NAME
        )),
        (None, None) => {
            log::info!(
                "no root task (boot module `{}`); idling",
                roottask::MODULE_NAME
            );
            loop {
                x86_64::instructions::hlt();
            }
        }
    }
}

/// Free memory and the boot frame allocator, from the loader's memory map.
fn memory(boot: &BootInfo) -> (FrameAllocator<RANGES>, FreeMemory<RANGES>) {
    let mut reserved = [PhysRange::new(0, 0); 64];
    reserved[0] = LOW_MEMORY;
    reserved[1] = layout::kernel_image();
    reserved[2] = boot.own_range();
    let mut n = 3;
    for module in boot.modules() {
        match reserved.get_mut(n) {
            Some(slot) => *slot = module.range,
            None => fatal(format_args!(
                "more than {} boot modules",
                reserved.len() - 3
            )),
        }
        n += 1;
    }
    let map = match boot.memory_map() {
        Ok(m) => m,
        Err(e) => fatal(format_args!("{e:?}: the boot loader passed no memory map")),
    };
    for region in map.clone() {
        log::debug!(
            "memory map: {:#014x} +{:#x} {:?}",
            region.start,
            region.len,
            region.kind
        );
    }
    let memory = match FreeMemory::from_map(map, &reserved[..n]) {
        Ok(m) => m,
        Err(e) => fatal(format_args!("memory map: {e:?}")),
    };
    (FrameAllocator::new(memory.free.clone()), memory)
}

/// The kernel image with W^X and guard pages, plus the direct map of every
/// range the firmware's memory map lists.
fn build_page_tables(
    boot: &BootInfo,
    frames: &mut FrameAllocator<RANGES>,
) -> Result<KernelPageTables, super::paging::MapError> {
    let mut tables = KernelPageTables::new(frames)?;
    let guards = stacks::guard_pages();
    for section in layout::kernel_sections() {
        tables.map_section(frames, &section, KERNEL_VIRT_OFFSET, &guards)?;
    }
    let mut direct: RangeSet<RANGES> = RangeSet::new();
    let map = boot
        .memory_map()
        .map_err(|_| super::paging::MapError::OutOfFrames)?;
    for region in map {
        let start = crate::memory::page_floor(region.start);
        let end = crate::memory::page_ceil(region.start.saturating_add(region.len));
        if direct.insert(PhysRange::new(start, end)).is_err() {
            fatal(format_args!(
                "the memory map has more than {RANGES} separate ranges"
            ));
        }
    }
    for range in direct.as_slice() {
        tables.map_direct(frames, *range)?;
    }
    Ok(tables)
}

fn self_test_boot() -> ! {
    const WANTED_TICKS: u64 = 5;
    let deadline = timer::nanos_since_boot() + 5_000_000_000;
    while timer::ticks() < WANTED_TICKS {
        timer::arm(Some(timer::slice_end()));
        if timer::nanos_since_boot() > deadline {
            fatal(format_args!(
                "self-test boot: the timer delivered {} ticks in 5 s",
                timer::ticks()
            ));
        }
        x86_64::instructions::hlt();
    }
    kprintln!("self-test boot: passed ({} timer ticks)", timer::ticks());
    stop(true)
}

fn self_test_page_fault() -> ! {
    let target = stacks::BOOT_STACK.guard_page();
    kprintln!("self-test pagefault: reading the boot stack's guard page at {target:#018x}");
    // SAFETY: deliberately unsound: the page is unmapped and the read must
    // fault; the fault handler reports it and stops the machine.
    let value = unsafe { (target as *const u64).read_volatile() };
    fatal(format_args!(
        "self-test pagefault: reading the guard page returned {value:#x} instead of faulting"
    ))
}

/// FNV-1a, to identify a boot module's contents in the summary.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

struct Mib(u64);

impl fmt::Display for Mib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} MiB", self.0 >> 20)
    }
}

/// The one block of boot facts `cargo xtask test` checks.
struct Summary<'a> {
    boot: &'a BootInfo,
    memory: &'a FreeMemory<RANGES>,
    frames: &'a FrameAllocator<RANGES>,
    platform: &'a Platform,
    ioapic_inputs: &'a [u32],
    apic_mode: apic::Mode,
    timer: Timer,
    features: cpu::Features,
    root_task: Option<&'a roottask::RootTask>,
    /// The console UART, and whether the screen is the console: read
    /// before the summary is printed (printing holds the console).
    console: (Option<serial::Uart>, bool),
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.platform;
        let kernel = layout::kernel_image();
        writeln!(f, "Basalt {} boot summary", env!("CARGO_PKG_VERSION"))?;
        let firmware = match self.boot.firmware() {
            Firmware::Bios => "BIOS",
            Firmware::Uefi => "UEFI",
        };
        writeln!(
            f,
            "  firmware   {firmware}, loaded by {}",
            self.boot.loader_name()
        )?;
        match self.console {
            (Some(uart), _) => write!(f, "  console    16550 UART at {uart}")?,
            (None, true) => write!(f, "  console    the screen (no serial port)")?,
            (None, false) => write!(f, "  console    none")?,
        }
        match self.boot.framebuffer() {
            Some((kind, address, width, height, bpp)) => writeln!(
                f,
                "; framebuffer {width}x{height} {kind}, {bpp} bpp at {address:#x}"
            )?,
            None => writeln!(f, "; no framebuffer described")?,
        }
        writeln!(
            f,
            "  memory     {} total, {} usable in {} ranges; kernel image {kernel}, {} KiB of kernel page tables and boot objects",
            Mib(self.memory.ram.total()),
            Mib(self.memory.free.total()),
            self.memory.free.as_slice().len(),
            self.frames.handed_out() >> 10,
        )?;
        let mode = match self.apic_mode {
            apic::Mode::X2Apic => "x2APIC",
            apic::Mode::XApic(_) => "xAPIC",
        };
        write!(f, "  cpus       {} (APIC ids", p.cpus.as_slice().len())?;
        for id in p.cpus.as_slice() {
            write!(f, " {id}")?;
        }
        writeln!(f, "), boot CPU {} in {mode} mode", apic::id())?;
        write!(f, "  ioapics    {}:", p.ioapics.as_slice().len())?;
        for (io, inputs) in p.ioapics.as_slice().iter().zip(self.ioapic_inputs) {
            write!(
                f,
                " id {} at {:#x} GSIs {}-{};",
                io.id,
                io.address,
                io.gsi_base,
                io.gsi_base + inputs - 1
            )?;
        }
        write!(
            f,
            " {} interrupt source overrides:",
            p.overrides.as_slice().len()
        )?;
        for o in p.overrides.as_slice() {
            write!(
                f,
                " irq{}->gsi{}{}{}",
                o.isa_irq,
                o.gsi,
                if o.active_low { "/low" } else { "" },
                if o.level_triggered { "/level" } else { "" }
            )?;
        }
        writeln!(
            f,
            "; legacy PICs {}",
            if p.has_legacy_pics {
                "masked"
            } else {
                "absent"
            }
        )?;
        write!(f, "  pci        ")?;
        if p.ecam.as_slice().is_empty() {
            write!(f, "no ECAM (MCFG absent); legacy configuration ports only")?;
        }
        for e in p.ecam.as_slice() {
            write!(
                f,
                "ECAM at {:#x} segment {} buses {}-{}; ",
                e.base, e.segment, e.first_bus, e.last_bus
            )?;
        }
        writeln!(f, "ACPI revision {}", p.revision)?;
        let aml = p.aml_tables.as_slice();
        write!(
            f,
            "  aml        {} tables (DSDT, SSDTs), {} bytes, copied for the root task",
            aml.len(),
            aml.iter().map(|t| u64::from(t.length)).sum::<u64>()
        )?;
        match p.aml_tables.dropped {
            0 => writeln!(f)?,
            n => writeln!(f, "; {n} more SSDTs left out")?,
        }
        let timer_mode = match self.timer.mode {
            TimerMode::TscDeadline => "TSC-deadline",
            TimerMode::OneShot => "one-shot",
        };
        writeln!(
            f,
            "  timer      local APIC {timer_mode}, tickless when idle, {} ms slices; TSC {} MHz{}, APIC timer {} kHz",
            timer::SLICE_US / 1000,
            self.timer.tsc_hz / 1_000_000,
            if self.features.invariant_tsc {
                " (invariant)"
            } else {
                ""
            },
            self.timer.apic_hz / 1000,
        )?;
        write!(f, "  hardening  NX W^X stack-guards")?;
        let optional = [
            (self.features.smep, "SMEP"),
            (self.features.smap, "SMAP"),
            (self.features.pcid, "PCID"),
        ];
        for (_, name) in optional.iter().filter(|(present, _)| *present) {
            write!(f, " {name}")?;
        }
        writeln!(f)?;
        let modules = self.boot.modules().count();
        writeln!(f, "  modules    {modules}")?;
        for Module { name, range } in self.boot.modules() {
            let module = Module { name, range };
            writeln!(
                f,
                "    \"{name}\" at {range}, {} bytes, fnv1a {:#018x}",
                range.len(),
                fnv1a(module.bytes())
            )?;
        }
        match self.root_task {
            Some(r) => writeln!(
                f,
                "  roottask   entry {:#x}; {} untyped capabilities ({} of RAM, {} of them device memory)",
                r.entry,
                r.untyped,
                Mib(r.untyped_bytes),
                r.device_untyped
            )?,
            None => writeln!(
                f,
                "  roottask   none (no boot module named `{}`)",
                roottask::MODULE_NAME
            )?,
        }
        write!(f, "Basalt: boot complete")
    }
}
