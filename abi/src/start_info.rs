//! How `init` starts a component: the start-info page and the component's
//! capability slots. `libcap`'s runtime reads it; `init` writes it.
//!
//! A component starts with `rip` at its ELF entry, `rsp` at the top of its
//! stack (16-byte aligned, a guard page below the stack), and `rdi` = the
//! address of its [`StartInfo`] page, mapped read-only. Its heap is mapped
//! read-write at [`StartInfo::heap_base`] for [`StartInfo::heap_size`]
//! bytes, its IPC buffer at [`IPC_BUFFER_ADDR`].

/// Where a component's start-info page is mapped.
pub const START_INFO_ADDR: u64 = 0x7fff_f000_0000;
/// Where a component's IPC buffer is mapped.
pub const IPC_BUFFER_ADDR: u64 = 0x7fff_f000_1000;
/// Where a component's heap starts.
pub const HEAP_BASE: u64 = 0x1000_0000_0000;
/// Where shared regions are mapped, one after the other (each aligned to
/// 2 MiB), in the order of [`StartInfo::caps`].
pub const REGIONS_BASE: u64 = 0x2000_0000_0000;
/// The top of the stack (it grows down from here).
pub const STACK_TOP: u64 = 0x7fff_e000_0000;

/// Value of [`StartInfo::magic`].
pub const MAGIC: u64 = 0x5452_4154_534c_5342; // "BSLSTART"
/// Layout version of the start-info page.
pub const VERSION: u64 = 2;

/// Bytes of a name (UTF-8, zero-padded).
pub const NAME_BYTES: usize = 32;
/// Most capabilities a component is given.
pub const MAX_CAPS: usize = 40;
/// Bytes of the arguments text.
pub const ARGS_BYTES: usize = 1024;
/// Bytes of [`StartInfo::last_exit`].
pub const LAST_EXIT_BYTES: usize = 80;

/// Root-CNode radix of a component: addresses 1..256 are slot numbers.
pub const COMPONENT_CNODE_BITS: u8 = 8;

/// Well-known slots of every component's CSpace.
pub mod slot {
    /// The component's IPC buffer frame.
    pub const IPC_BUFFER: u64 = 1;
    /// The kernel console (for `DebugWrite`, which `libcap`'s logging uses).
    pub const CONSOLE: u64 = 2;
    /// The first slot of the capabilities listed in [`StartInfo::caps`]
    /// (entry `i` is in slot `FIRST_GRANTED + i`).
    ///
    /// [`StartInfo::caps`]: super::StartInfo::caps
    pub const FIRST_GRANTED: u64 = 8;
    /// The first of the slots `init` leaves empty, up to the last slot
    /// (`2^COMPONENT_CNODE_BITS - 1`): the component's own, for
    /// capabilities it makes itself, such as saved replies
    /// (`Syscall::SaveReply`).
    pub const FIRST_FREE: u64 = FIRST_GRANTED + super::MAX_CAPS as u64;
    /// How many free slots there are ([`FIRST_FREE`] and up).
    pub const FREE_COUNT: u64 = (1 << super::COMPONENT_CNODE_BITS) - FIRST_FREE;
}

/// What kind of capability a [`CapEntry`] names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum CapKind {
    /// Unused entry.
    None = 0,
    /// The endpoint of a channel this component serves (receive rights).
    ServedChannel = 1,
    /// A channel this component uses, badged for it (call rights).
    UsedChannel = 2,
    /// A notification this component waits on.
    Notification = 3,
    /// A notification of another component this one may signal.
    Signal = 4,
    /// A shared memory region, mapped at [`CapEntry::address`]; the slot
    /// holds nothing.
    Region = 5,
    /// An IRQ handler (the IRQ number in [`CapEntry::value`]).
    Irq = 6,
    /// An I/O-port range (`value` = first port | last port << 16).
    IoPorts = 7,
    /// A device memory frame range (PCI BAR), mapped at `address`.
    DeviceMemory = 8,
}

impl CapKind {
    /// Decodes a raw kind byte.
    pub const fn from_raw(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::None,
            1 => Self::ServedChannel,
            2 => Self::UsedChannel,
            3 => Self::Notification,
            4 => Self::Signal,
            5 => Self::Region,
            6 => Self::Irq,
            7 => Self::IoPorts,
            8 => Self::DeviceMemory,
            _ => return None,
        })
    }
}

/// One capability (or mapping) a component was given, by the name the
/// config uses for it.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct CapEntry {
    /// A [`CapKind`] as a byte.
    pub kind: u8,
    pub _reserved: [u8; 7],
    /// The name of the channel, region, notification or device.
    pub name: [u8; NAME_BYTES],
    /// Where a region or device memory is mapped (0 otherwise).
    pub address: u64,
    /// Size in bytes of a region or device memory; IRQ number; port range.
    pub value: u64,
    /// The physical address of a region or device memory (0 otherwise). A
    /// region's frames are physically contiguous, so a driver can hand
    /// device DMA addresses inside it.
    pub physical: u64,
    /// For a region exactly two components share: the client badge (its
    /// component index + 1, as on its channel capabilities) of the other
    /// one, so a server knows which client a region belongs to. 0 otherwise.
    pub peer_badge: u64,
}

/// The start-info page.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct StartInfo {
    pub magic: u64,
    pub version: u64,
    /// How many times init has started this component (1 the first time).
    pub generation: u64,
    pub heap_base: u64,
    pub heap_size: u64,
    /// The component's name.
    pub name: [u8; NAME_BYTES],
    /// Entries in use in [`caps`](Self::caps).
    pub cap_count: u64,
    pub caps: [CapEntry; MAX_CAPS],
    /// The config's arguments, as `key=value` lines (UTF-8, zero-padded).
    pub args: [u8; ARGS_BYTES],
    /// The time-stamp counter's frequency in Hz (from the kernel's
    /// calibration; 0 if unknown): `rdtsc` divided by it is seconds.
    pub tsc_hz: u64,
    /// The wall-clock time the kernel read at boot (`unix_ms` 0 if none).
    pub wall_clock: crate::boot_info::WallClock,
    /// How the previous generation ended, as init logged it (`page fault
    /// at 0x…, address 0x…`, `exited with status 1`; UTF-8, zero-padded,
    /// cut to fit); empty for generation 1.
    pub last_exit: [u8; LAST_EXIT_BYTES],
}

const _: () = assert!(size_of::<StartInfo>() <= 4096);

/// The text of a zero-padded name field.
pub fn name_str(name: &[u8; NAME_BYTES]) -> &str {
    let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
    core::str::from_utf8(&name[..len]).unwrap_or("")
}
