//! The boot manifest: the system `init` builds, as `cargo xtask compose`
//! wrote it from a config tree (`config/<system>/`, see `docs/config.md`).
//!
//! The manifest travels as the GRUB boot module named [`MODULE_NAME`]. Its
//! bytes are [`MAGIC`], [`VERSION`] as a little-endian `u32`, then the
//! [postcard] encoding of a [`Manifest`]. [`Manifest::encode`] writes them
//! (on the host) and [`Manifest::decode`] reads them (in `init`, which is
//! `no_std` with a heap: the crate needs only `alloc`).
//!
//! Components are named by their index in [`Manifest::components`]
//! wherever another part of the manifest refers to one.
//!
//! [postcard]: https://docs.rs/postcard

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

/// The first eight bytes of an encoded manifest.
pub const MAGIC: [u8; 8] = *b"BSLTMANI";
/// The encoding version this crate writes and reads.
pub const VERSION: u32 = 4;
/// Bytes before the postcard encoding: [`MAGIC`] and [`VERSION`].
pub const HEADER_BYTES: usize = MAGIC.len() + 4;

/// The boot module that holds the encoded manifest.
pub const MODULE_NAME: &str = "manifest";
/// The boot module that holds `init`'s ELF (the kernel's root task).
pub const ROOT_TASK_MODULE: &str = "roottask";
/// Component binaries travel as boot modules named `bin/<binary>`.
pub const BINARY_MODULE_PREFIX: &str = "bin/";

/// Why [`Manifest::decode`] refused a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The blob does not start with [`MAGIC`].
    BadMagic,
    /// The blob is a manifest of another version (the number it carries).
    UnsupportedVersion(u32),
    /// The header is cut short, or the body is not a well-formed
    /// [`Manifest`] (truncated, corrupt, or followed by stray bytes).
    Malformed,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a Basalt manifest (bad magic)"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "manifest version {v} is not supported (this build reads version {VERSION})"
            ),
            Self::Malformed => write!(f, "malformed manifest"),
        }
    }
}

/// A whole system: what `init` starts and how it connects the parts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The system's name (`name` in `system.toml`).
    pub system: String,
    /// The components; the others refer to them by index in this list.
    pub components: Vec<Component>,
    /// Synchronous RPC channels.
    pub channels: Vec<Channel>,
    /// Notifications (asynchronous signals).
    pub notifications: Vec<NotificationDecl>,
    /// Shared-memory regions.
    pub regions: Vec<Region>,
}

/// One program `init` starts, in its own address space and CSpace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// The component's name (its config file's name without `.toml`).
    pub name: String,
    /// The program to run: the ELF in boot module `bin/<binary>`.
    pub binary: String,
    /// Scheduling priority, 0–254 (255 is `init`'s own).
    pub priority: u8,
    /// The heap mapped at `start_info::HEAP_BASE`.
    pub heap: Heap,
    /// Bytes of stack below `start_info::STACK_TOP` (a multiple of 4 KiB).
    pub stack_bytes: u64,
    /// What `init` does when the component ends.
    pub restart: Restart,
    /// Arguments, as `key = value` pairs in the config's order; the
    /// component reads them as `key=value` lines in its start-info page.
    pub args: Vec<(String, String)>,
    /// Hardware the component may drive.
    pub devices: Vec<Device>,
    /// When `init` starts the component: 0 first, then 1, and so on (a
    /// permutation of `0..components.len()`). Servers start before the
    /// components that call them.
    pub start_order: u32,
}

impl Component {
    /// The boot module that holds this component's ELF: `bin/<binary>`.
    pub fn module_name(&self) -> String {
        let mut name = String::from(BINARY_MODULE_PREFIX);
        name.push_str(&self.binary);
        name
    }
}

/// How large a component's heap is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Heap {
    /// This many bytes (a multiple of 4 KiB), whatever the machine.
    Bytes(u64),
    /// This percentage (1-100) of the memory left once `init` has placed
    /// every fixed-size part of the system (kernel objects, stacks, fixed
    /// heaps, regions), in whole 2 MiB frames: the heap grows with the
    /// machine. Every share is of the same remainder; the config check
    /// keeps their sum at most 100.
    Share {
        /// The percentage.
        percent: u8,
    },
}

impl Heap {
    /// The bytes of a fixed heap; 0 for a share (it has no size until
    /// `init` sees the machine).
    pub const fn fixed_bytes(self) -> u64 {
        match self {
            Heap::Bytes(b) => b,
            Heap::Share { .. } => 0,
        }
    }
}

impl Default for Heap {
    fn default() -> Self {
        Heap::Bytes(0)
    }
}

/// What `init` does when a component ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restart {
    /// Leave it stopped.
    #[default]
    Never,
    /// Start it again after a fault or a failing exit, within `budget`;
    /// leave it stopped after a clean exit.
    OnFailure {
        /// How often, and what happens past that.
        budget: Budget,
    },
    /// Start it again whenever it ends, however it ends.
    Always,
}

/// How many restarts `init` makes at once: at most `limit` in any
/// `window_s` seconds; past that, `exhausted` says what happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Restarts in a window (at least 1).
    pub limit: u32,
    /// The window, in seconds (at least 1).
    pub window_s: u32,
    /// What a failure past the limit brings.
    pub exhausted: Exhausted,
}

/// What `init` does with a component that failed more often than its
/// [`Budget`] allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exhausted {
    /// Restart it after a delay that doubles with each such failure in a
    /// row, from 1 s up to the window: it comes back, slower.
    #[default]
    BackOff,
    /// Leave it stopped for good.
    Stop,
}

/// A piece of hardware granted to one component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Device {
    /// An interrupt line: the component gets an IRQ handler capability.
    Irq {
        /// The name the component looks the capability up by.
        name: String,
        /// The IRQ number.
        irq: u8,
    },
    /// A range of I/O ports: the component gets an I/O-port capability.
    IoPorts {
        /// The name the component looks the capability up by.
        name: String,
        /// The first port of the range.
        first: u16,
        /// The last port of the range (inclusive, `>= first`).
        last: u16,
    },
    /// A PCI function, found by its IDs: `init` maps its memory BARs.
    Pci {
        /// The name the component looks the capability up by.
        name: String,
        /// The functions the driver takes, in the order `init` looks for
        /// them: the first present is granted (a driver of several cards,
        /// such as the net server's, lists them all).
        ids: Vec<PciId>,
        /// The interrupt the component gets for it.
        interrupt: PciInterrupt,
    },
}

/// A PCI function's vendor and device IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciId {
    /// The vendor ID.
    pub vendor: u16,
    /// The device ID.
    pub device: u16,
}

impl fmt::Display for PciId {
    /// `1af4:1000`, as `lspci -n` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.device)
    }
}

/// The interrupt a PCI device's driver is given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PciInterrupt {
    /// None: the driver polls.
    #[default]
    None,
    /// A message-signalled line (`IRQ_CONTROL_GET_MSI`), granted as the
    /// IRQ handler `<name>.msi`; the driver programs the device's MSI or
    /// MSI-X capability with the message the handler gives.
    Msi,
    /// As [`Msi`](Self::Msi) where the function has an MSI or MSI-X
    /// capability; otherwise its INTx pin's line, as the firmware's ACPI
    /// tables route it, granted as the IRQ handler `<name>.intx` (a
    /// level-triggered line: the kernel masks it at each interrupt, the
    /// driver's acknowledgement unmasks it).
    Any,
}

impl Device {
    /// The name the component looks the device's capability up by.
    pub fn name(&self) -> &str {
        match self {
            Self::Irq { name, .. } | Self::IoPorts { name, .. } | Self::Pci { name, .. } => name,
        }
    }
}

/// A synchronous RPC channel: one server, any number of clients.
///
/// `init` makes one endpoint for it, gives the server a copy with READ and
/// WRITE rights, and each client a copy with CALL and WRITE rights minted
/// with badge [`client_badge`]`(client)`, so the server knows who calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The channel's name, which both ends look it up by.
    pub name: String,
    /// The component (index) that receives and answers calls.
    pub server: u32,
    /// The components (indices) that call it, in increasing order.
    pub clients: Vec<u32>,
}

/// The badge a client's copy of a channel's endpoint carries: its
/// component index plus one (0 is an unbadged capability).
pub const fn client_badge(client: u32) -> u64 {
    client as u64 + 1
}

/// A notification: one component waits on it, others signal it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDecl {
    /// The notification's name, which every holder looks it up by.
    pub name: String,
    /// The component (index) that waits on it (READ rights).
    pub owner: u32,
    /// The components (indices) that may signal it (WRITE rights).
    pub signallers: Vec<u32>,
}

/// A shared-memory region that `init` allocates and maps into its users.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// The region's name, which every user looks it up by.
    pub name: String,
    /// Its size in bytes (a multiple of 4 KiB).
    pub size: u64,
    /// Who maps it: `(component index, writable)`, in increasing index
    /// order; a user that is not writable maps it read-only.
    pub users: Vec<(u32, bool)>,
}

impl Manifest {
    /// The manifest's bytes: [`MAGIC`], [`VERSION`] (little-endian `u32`),
    /// then the postcard encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::from(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        postcard::to_extend(self, out).expect("encoding into a Vec cannot fail")
    }

    /// Reads a manifest written by [`encode`](Self::encode).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = bytes
            .get(MAGIC.len()..HEADER_BYTES)
            .ok_or(DecodeError::Malformed)?;
        let version = u32::from_le_bytes(version.try_into().expect("four bytes"));
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        match postcard::take_from_bytes::<Self>(&bytes[HEADER_BYTES..]) {
            Ok((manifest, [])) => Ok(manifest),
            _ => Err(DecodeError::Malformed),
        }
    }

    /// The index of the component called `name`.
    pub fn component_index(&self, name: &str) -> Option<u32> {
        self.components
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u32)
    }

    /// Component indices in the order `init` starts them.
    pub fn start_sequence(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.components.len() as u32).collect();
        order.sort_by_key(|&i| (self.components[i as usize].start_order, i));
        order
    }
}

#[cfg(test)]
mod tests;
