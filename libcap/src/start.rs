//! What a component learns at start: the start-info page that `init`
//! writes ([`basalt_abi::start_info`]), checked and wrapped as [`Start`],
//! with lookups by the names the config uses.
//!
//! ```no_run
//! fn run(start: &'static libcap::Start) -> ! {
//!     let served = start.served("greeter").expect("config grants channel greeter");
//!     let port: u16 = start.arg("port").and_then(|p| p.parse().ok()).unwrap_or(6379);
//!     libcap::log::info!("{} generation {} on port {port}", start.name(), start.generation());
//!     # let _ = served;
//!     loop {}
//! }
//! libcap::component!(run);
//! ```

use crate::cap::{Endpoint, IoPorts, IrqHandler, Notification};
use basalt_abi::start_info::{self, CapEntry, CapKind, StartInfo};
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

/// Why a start-info page was refused.
///
/// ```
/// use libcap::start::{Start, StartError};
/// let info: &'static libcap::abi::start_info::StartInfo =
///     Box::leak(Box::new(unsafe { core::mem::zeroed() }));
/// assert!(matches!(Start::new(info), Err(StartError::BadMagic(0))));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StartError {
    /// The address in `rdi` is null or not 8-byte aligned.
    BadAddress(u64),
    /// [`StartInfo::magic`] is not [`start_info::MAGIC`]: this is not a
    /// start-info page (a root task started with `component!`?).
    BadMagic(u64),
    /// A layout version this library does not know.
    BadVersion(u64),
    /// [`StartInfo::cap_count`] is larger than [`start_info::MAX_CAPS`].
    TooManyCaps(u64),
}

impl fmt::Display for StartError {
    /// ```
    /// assert_eq!(
    ///     libcap::start::StartError::BadVersion(9).to_string(),
    ///     "start-info layout version 9, expected 2"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadAddress(a) => write!(f, "no usable start-info address in rdi: {a:#x}"),
            Self::BadMagic(m) => write!(
                f,
                "start-info magic {m:#x}, expected {:#x}",
                start_info::MAGIC
            ),
            Self::BadVersion(v) => write!(
                f,
                "start-info layout version {v}, expected {}",
                start_info::VERSION
            ),
            Self::TooManyCaps(n) => write!(
                f,
                "start info lists {n} capabilities, at most {} fit",
                start_info::MAX_CAPS
            ),
        }
    }
}

/// One capability (or mapping) the component was given, as listed in the
/// start-info page.
///
/// ```
/// # use libcap::start::{Start, testing};
/// # let start = testing::start();
/// for grant in start.grants() {
///     println!("slot {}: {:?} {}", grant.slot, grant.kind, grant.name);
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Grant {
    /// Its index in [`StartInfo::caps`].
    pub index: usize,
    /// The slot (and capability address) that holds it:
    /// [`start_info::slot::FIRST_GRANTED`] + index. Empty for a
    /// [`CapKind::Region`].
    pub slot: u64,
    /// What it is; `None` for a kind this library does not know.
    pub kind: Option<CapKind>,
    /// The name the config gave it.
    pub name: &'static str,
    /// Where a region or device memory is mapped (else 0).
    pub address: u64,
    /// Bytes of a region or device memory; IRQ line; port range
    /// (`first | last << 16`).
    pub value: u64,
    /// The physical address of a region or device memory (else 0): where a
    /// device doing DMA finds the region.
    pub physical: u64,
    /// For a region exactly two components share, the client badge of the
    /// other one (else 0): a server can tell whose region it is.
    pub peer_badge: u64,
}

/// A shared-memory region (or device memory) mapped into this component:
/// a base address and a length. Another component may read and write it
/// at any time, so it is handed out as raw memory: use it through
/// [`crate::ring`], atomics or volatile accesses.
///
/// It is not `Copy`: [`Start`] hands out each region once, so that two
/// parts of a program cannot both build, say, the producer of one ring.
///
/// ```
/// # use libcap::start::testing;
/// # let start = testing::start();
/// let region = start.shared_region("rx").expect("region rx");
/// assert!(region.len() >= 4096);
/// let (rings, data) = region.split_at(4096).expect("split");
/// assert_eq!(rings.len(), 4096);
/// # let _ = data;
/// ```
#[derive(Debug)]
pub struct SharedRegion {
    base: NonNull<u8>,
    len: usize,
    /// Where a device doing DMA finds the first byte (0: not known).
    physical: u64,
}

// SAFETY: a region is plain memory; it carries no thread-bound state.
unsafe impl Send for SharedRegion {}

impl SharedRegion {
    /// A region at `base` of `len` bytes.
    ///
    /// # Safety
    ///
    /// `base..base + len` is mapped read-write for the rest of the program
    /// and nothing else in this program uses it (other components may).
    ///
    /// ```
    /// use libcap::start::SharedRegion;
    /// let mem: &'static mut [u64] = Box::leak(vec![0u64; 512].into_boxed_slice());
    /// // SAFETY: leaked, so mapped forever, and used only through `region`.
    /// let region = unsafe { SharedRegion::new(mem.as_mut_ptr().cast(), 4096) }.unwrap();
    /// assert_eq!(region.len(), 4096);
    /// ```
    pub unsafe fn new(base: *mut u8, len: usize) -> Option<Self> {
        NonNull::new(base).map(|base| Self {
            base,
            len,
            physical: 0,
        })
    }

    /// The physical address of the first byte, where a device doing DMA
    /// finds it; 0 when not known (a region init did not place for DMA,
    /// or one made with [`new`](Self::new)).
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.shared_region("rx").unwrap().physical(), 0);
    /// ```
    pub const fn physical(&self) -> u64 {
        self.physical
    }

    /// The first byte.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let region = start.shared_region("rx").unwrap();
    /// assert_eq!(region.as_ptr() as usize % 4096, 0);
    /// ```
    pub const fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Its length in bytes.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.shared_region("rx").unwrap().len(), 16384);
    /// ```
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no bytes.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert!(!start.shared_region("rx").unwrap().is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `out.len()` bytes at `offset` into `out`; `false` (copying
    /// nothing) if they are not all inside. The copy is how a server takes
    /// a client's data without holding references into memory the client
    /// may change at any time.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let mut region = start.shared_region("rx").unwrap();
    /// assert!(region.write_at(100, b"abc"));
    /// let mut out = [0u8; 3];
    /// assert!(region.read_at(100, &mut out));
    /// assert_eq!(&out, b"abc");
    /// assert!(!region.read_at(region.len() - 1, &mut out), "past the end");
    /// ```
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> bool {
        if offset
            .checked_add(out.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: in bounds of the mapped region (the `new` contract);
        // `out` is this program's own memory, not the region's.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        true
    }

    /// Copies `bytes` to `offset`; `false` (copying nothing) if they do not
    /// fit.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let mut region = start.shared_region("rx").unwrap();
    /// assert!(region.write_at(0, &[1, 2, 3]));
    /// assert!(!region.write_at(usize::MAX, &[1]), "no wrap-around");
    /// ```
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) -> bool {
        if offset
            .checked_add(bytes.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: as in `read_at`.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.base.as_ptr().add(offset),
                bytes.len(),
            )
        };
        true
    }

    /// Splits it into `[0, at)` and `[at, len)`; `None` if `at` is past
    /// the end or not a multiple of 64 (each part stays cache-line
    /// aligned, as [`crate::ring`] wants).
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let region = start.shared_region("rx").unwrap();
    /// let (a, b) = region.split_at(4096).unwrap();
    /// assert_eq!((a.len(), b.len()), (4096, 12288));
    /// ```
    pub fn split_at(self, at: usize) -> Option<(Self, Self)> {
        if at > self.len || !at.is_multiple_of(64) {
            return None;
        }
        let rest = NonNull::new(self.base.as_ptr().wrapping_add(at))?;
        Some((
            Self {
                base: self.base,
                len: at,
                physical: self.physical,
            },
            Self {
                base: rest,
                len: self.len - at,
                physical: if self.physical == 0 {
                    0
                } else {
                    self.physical + at as u64
                },
            },
        ))
    }

    /// The region as a byte slice.
    ///
    /// # Safety
    ///
    /// No other component writes the region while the slice is in use
    /// (for example: the protocol has handed this part to this
    /// component), or the program tolerates torn reads.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let region = start.shared_region("rx").unwrap();
    /// // SAFETY: nobody else writes this test region.
    /// let bytes = unsafe { region.into_slice() };
    /// bytes[0] = 1;
    /// ```
    pub unsafe fn into_slice(self) -> &'static mut [u8] {
        // SAFETY: mapped read-write for the rest of the program and used by
        // nothing else in this program (`new`'s contract, or `Start`'s
        // hand-out-once rule); concurrent writers are the caller's concern.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
    }
}

/// An IRQ the component was given: its handler capability and the line.
///
/// ```no_run
/// # let start = libcap::start::testing::start();
/// let irq = start.irq("rtc").expect("irq rtc");
/// let ntfn = start.notification("rtc-irq").expect("notification");
/// irq.handler.set_notification(ntfn).expect("route");
/// println!("handling line {}", irq.line);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Irq {
    /// The IRQ handler capability.
    pub handler: IrqHandler,
    /// The IRQ line (0–23).
    pub line: u64,
}

/// An I/O-port range the component was given.
///
/// ```
/// # let start = libcap::start::testing::start();
/// let ports = start.io_ports("uart").expect("ports uart");
/// assert_eq!((ports.first, ports.last), (0x2f8, 0x2ff));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PortRange {
    /// The port-range capability.
    pub ports: IoPorts,
    /// The first port.
    pub first: u16,
    /// The last port (inclusive).
    pub last: u16,
}

/// A checked start-info page and the lookups a component makes on it.
/// The runtime makes one before calling the function named with
/// [`component!`](crate::component) and passes it as `&'static Start`;
/// [`crate::runtime::start`] returns it too.
///
/// ```
/// # let start = libcap::start::testing::start();
/// assert_eq!(start.name(), "hello-client");
/// assert_eq!(start.generation(), 1);
/// assert!(start.channel("greeter").is_some());
/// assert_eq!(start.arg("exit"), Some("on-success"));
/// ```
pub struct Start {
    info: &'static StartInfo,
    /// Bit `i`: the region of entry `i` was handed out.
    taken: AtomicU64,
}

// Each region is handed out once; 64 bits cover every entry.
const _: () = assert!(start_info::MAX_CAPS <= 64);

impl Start {
    /// Checks `info` (magic, version, capability count).
    ///
    /// ```
    /// use libcap::abi::start_info::{self, StartInfo};
    /// let mut info: StartInfo = unsafe { core::mem::zeroed() };
    /// info.magic = start_info::MAGIC;
    /// info.version = start_info::VERSION;
    /// let start = libcap::Start::new(Box::leak(Box::new(info))).unwrap();
    /// assert_eq!(start.grants().count(), 0);
    /// ```
    pub fn new(info: &'static StartInfo) -> Result<Self, StartError> {
        if info.magic != start_info::MAGIC {
            return Err(StartError::BadMagic(info.magic));
        }
        if info.version != start_info::VERSION {
            return Err(StartError::BadVersion(info.version));
        }
        if info.cap_count > start_info::MAX_CAPS as u64 {
            return Err(StartError::TooManyCaps(info.cap_count));
        }
        Ok(Self {
            info,
            taken: AtomicU64::new(0),
        })
    }

    /// Checks the start-info page at `addr` (what `init` passes in `rdi`).
    ///
    /// # Safety
    ///
    /// If `addr` is not null and aligned, a [`StartInfo`] is mapped there
    /// for the rest of the program and never changes.
    ///
    /// ```no_run
    /// // SAFETY: init maps the start-info page there for good.
    /// let start = unsafe { libcap::Start::from_address(0x7fff_f000_0000) }.expect("start info");
    /// # let _ = start;
    /// ```
    pub unsafe fn from_address(addr: u64) -> Result<Self, StartError> {
        let ptr = addr as *const StartInfo;
        if ptr.is_null() || !ptr.is_aligned() {
            return Err(StartError::BadAddress(addr));
        }
        // SAFETY: non-null and aligned (checked); mapped and unchanging for
        // the program's lifetime per the caller's contract.
        Self::new(unsafe { &*ptr })
    }

    /// The raw page.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.info().heap_size, 1 << 20);
    /// ```
    pub const fn info(&self) -> &'static StartInfo {
        self.info
    }

    /// The component's name, from the config.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.name(), "hello-client");
    /// ```
    pub fn name(&self) -> &'static str {
        start_info::name_str(&self.info.name)
    }

    /// How many times `init` has started this component: 1 the first time,
    /// 2 after the first restart, and so on.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// if start.generation() > 1 {
    ///     println!("restarted; state from before is gone");
    /// }
    /// ```
    pub const fn generation(&self) -> u64 {
        self.info.generation
    }

    /// How the previous generation ended, as `init` logged it (`page
    /// fault at 0x…, address 0x…, code 0x…`, `exited with status 1`);
    /// `None` for generation 1.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.last_exit(), None);
    /// ```
    pub fn last_exit(&self) -> Option<&'static str> {
        let text = &self.info.last_exit;
        let len = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        core::str::from_utf8(&text[..len])
            .ok()
            .filter(|t| !t.is_empty())
    }

    /// The time-stamp counter's frequency in Hz, as the kernel calibrated
    /// it, if known: `rdtsc` ticks divided by it are seconds.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let mhz = start.tsc_hz().map_or(2_000, |hz| hz / 1_000_000);
    /// assert!(mhz > 0);
    /// ```
    pub const fn tsc_hz(&self) -> Option<u64> {
        match self.info.tsc_hz {
            0 => None,
            hz => Some(hz),
        }
    }

    /// The Unix time now in milliseconds, if the kernel read the real-time
    /// clock at boot and calibrated the TSC: the boot reading plus the TSC
    /// ticks since. (PCs keep the RTC in UTC by convention, and QEMU does
    /// by default.)
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let ms = start.unix_time_ms().unwrap_or(1_700_000_000_000);
    /// assert!(ms >= 1_700_000_000_000);
    /// ```
    pub fn unix_time_ms(&self) -> Option<u64> {
        let clock = self.info.wall_clock;
        let hz = self.tsc_hz()?;
        if clock.unix_ms == 0 {
            return None;
        }
        let ticks = crate::time::rdtsc().wrapping_sub(clock.tsc);
        Some(clock.unix_ms + (u128::from(ticks) * 1000 / u128::from(hz)) as u64)
    }

    /// The heap `init` mapped: `(base, bytes)`. The runtime gives it to
    /// the allocator; programs need not look.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let (base, size) = start.heap();
    /// assert_eq!((base, size), (libcap::abi::start_info::HEAP_BASE, 1 << 20));
    /// ```
    pub const fn heap(&self) -> (u64, u64) {
        (self.info.heap_base, self.info.heap_size)
    }

    /// Every entry of the capability list, in order.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let channels = start
    ///     .grants()
    ///     .filter(|g| g.kind == Some(libcap::abi::start_info::CapKind::UsedChannel))
    ///     .count();
    /// assert_eq!(channels, 1);
    /// ```
    pub fn grants(&self) -> impl Iterator<Item = Grant> + '_ {
        let info = self.info;
        let count = (info.cap_count as usize).min(start_info::MAX_CAPS);
        info.caps[..count]
            .iter()
            .enumerate()
            .map(|(index, e)| grant(index, e))
    }

    /// The entry of `kind` named `name`.
    ///
    /// ```
    /// use libcap::abi::start_info::CapKind;
    /// # let start = libcap::start::testing::start();
    /// let g = start.find(CapKind::UsedChannel, "greeter").unwrap();
    /// assert_eq!(g.slot, libcap::abi::start_info::slot::FIRST_GRANTED);
    /// ```
    pub fn find(&self, kind: CapKind, name: &str) -> Option<Grant> {
        self.grants()
            .find(|g| g.kind == Some(kind) && g.name == name)
    }

    /// The endpoint of channel `name` that this component uses (calls),
    /// badged for it by `init`.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let ep = start.channel("greeter").expect("channel greeter");
    /// assert_eq!(ep.raw(), 8);
    /// ```
    pub fn channel(&self, name: &str) -> Option<Endpoint> {
        self.find(CapKind::UsedChannel, name)
            .map(|g| Endpoint::from_raw(g.slot))
    }

    /// A typed client for channel `name`: any type that wraps an endpoint,
    /// such as the client an [`rpc_interface!`](crate::rpc_interface)
    /// defines.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let ep: libcap::Endpoint = start.channel_client("greeter").unwrap();
    /// # let _ = ep;
    /// // With an interface: let greeter: GreeterClient = start.channel_client("greeter").unwrap();
    /// ```
    pub fn channel_client<C: From<Endpoint>>(&self, name: &str) -> Option<C> {
        self.channel(name).map(C::from)
    }

    /// The endpoint of channel `name` that this component serves
    /// (receives on).
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert!(start.served("greeter").is_none()); // the test start is a client's
    /// assert!(start.served("admin").is_some());
    /// ```
    pub fn served(&self, name: &str) -> Option<Endpoint> {
        self.find(CapKind::ServedChannel, name)
            .map(|g| Endpoint::from_raw(g.slot))
    }

    /// The notification named `name` that this component waits on.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert!(start.notification("rtc-irq").is_some());
    /// ```
    pub fn notification(&self, name: &str) -> Option<Notification> {
        self.find(CapKind::Notification, name)
            .map(|g| Notification::from_raw(g.slot))
    }

    /// The notification named `name` of another component, which this one
    /// may signal.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let peer = start.signal("rx-ready").expect("signal rx-ready");
    /// # let _ = peer;
    /// ```
    pub fn signal(&self, name: &str) -> Option<Notification> {
        self.find(CapKind::Signal, name)
            .map(|g| Notification::from_raw(g.slot))
    }

    /// The IRQ named `name`.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.irq("rtc").unwrap().line, 8);
    /// ```
    pub fn irq(&self, name: &str) -> Option<Irq> {
        self.find(CapKind::Irq, name).map(|g| Irq {
            handler: IrqHandler::from_raw(g.slot),
            line: g.value,
        })
    }

    /// The I/O-port range named `name`.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.io_ports("uart").unwrap().last, 0x2ff);
    /// ```
    pub fn io_ports(&self, name: &str) -> Option<PortRange> {
        self.find(CapKind::IoPorts, name).map(|g| PortRange {
            ports: IoPorts::from_raw(g.slot),
            first: g.value as u16,
            last: (g.value >> 16) as u16,
        })
    }

    /// Shared-memory region `name`, as raw memory; `None` if there is none
    /// or it was handed out before (by this or [`region`](Self::region)).
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert!(start.shared_region("rx").is_some());
    /// assert!(start.shared_region("rx").is_none()); // only once
    /// ```
    pub fn shared_region(&self, name: &str) -> Option<SharedRegion> {
        self.take_mapping(CapKind::Region, name)
    }

    /// Shared-memory region `name` as a byte slice; `None` if there is
    /// none or it was handed out before. The slice is `&'static mut`
    /// because each region is handed out once; it suits a region that only
    /// this component writes, or whose protocol hands parts of it over
    /// explicitly. For memory both sides change at the same time, use
    /// [`shared_region`](Self::shared_region) with [`crate::ring`].
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let buf = start.region("rx").expect("region rx");
    /// buf[..5].copy_from_slice(b"hello");
    /// ```
    pub fn region(&self, name: &str) -> Option<&'static mut [u8]> {
        let region = self.shared_region(name)?;
        // SAFETY: handed out once (the `taken` bit), so no other slice or
        // `SharedRegion` of this program aliases it; what other components
        // do with it is the documented protocol's concern.
        Some(unsafe { region.into_slice() })
    }

    /// Device memory `name` (a PCI BAR), once. Access it with volatile
    /// reads and writes.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let bar = start.device_memory("bar0").expect("device memory");
    /// assert_eq!(bar.len(), 8192);
    /// ```
    pub fn device_memory(&self, name: &str) -> Option<SharedRegion> {
        self.take_mapping(CapKind::DeviceMemory, name)
    }

    fn take_mapping(&self, kind: CapKind, name: &str) -> Option<SharedRegion> {
        let g = self.find(kind, name)?;
        let len = usize::try_from(g.value).ok()?;
        let bit = 1u64 << g.index;
        if self.taken.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            return None;
        }
        // SAFETY: init maps the region read-write at `address` for `value`
        // bytes for the component's lifetime (the start-info contract), and
        // the `taken` bit makes this the only hand-out.
        let region = unsafe { SharedRegion::new(g.address as *mut u8, len) }?;
        Some(SharedRegion {
            physical: g.physical,
            ..region
        })
    }

    /// The `key=value` lines of the config's arguments.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// for (key, value) in start.args() {
    ///     println!("{key} = {value}");
    /// }
    /// ```
    pub fn args(&self) -> Args {
        Args::new(args_text(&self.info.args))
    }

    /// The value of argument `key` (see [`Args`] for the syntax).
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.arg("exit"), Some("on-success"));
    /// assert_eq!(start.arg("missing"), None);
    /// ```
    pub fn arg(&self, key: &str) -> Option<&'static str> {
        self.args().get(key)
    }

    /// Argument `key` read as a `T` (a number, say), `default` when the
    /// config does not give it; [`BadArgument`] naming the key when its
    /// value does not read as one.
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// assert_eq!(start.parsed_arg("missing", 8080u16), Ok(8080));
    /// assert_eq!(start.parsed_arg("exit", 1u16), Err(libcap::start::BadArgument("exit")));
    /// ```
    pub fn parsed_arg<T: core::str::FromStr>(
        &self,
        key: &'static str,
        default: T,
    ) -> Result<T, BadArgument> {
        self.arg(key)
            .map_or(Ok(default), |v| v.parse().map_err(|_| BadArgument(key)))
    }
}

/// An argument whose value does not read as what the component wants:
/// its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadArgument(pub &'static str);

impl fmt::Debug for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Start")
            .field("name", &self.name())
            .field("generation", &self.generation())
            .field("caps", &self.info.cap_count)
            .finish()
    }
}

fn grant(index: usize, e: &'static CapEntry) -> Grant {
    Grant {
        index,
        slot: start_info::slot::FIRST_GRANTED + index as u64,
        kind: CapKind::from_raw(e.kind),
        name: start_info::name_str(&e.name),
        address: e.address,
        value: e.value,
        physical: e.physical,
        peer_badge: e.peer_badge,
    }
}

/// The text of the zero-padded arguments field (up to its first zero
/// byte, or everything; invalid UTF-8 cuts it at the first bad byte).
fn args_text(raw: &'static [u8]) -> &'static str {
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    match core::str::from_utf8(&raw[..len]) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&raw[..e.valid_up_to()]).unwrap_or(""),
    }
}

/// The arguments as `(key, value)` pairs, one per line of `key=value`.
///
/// Spaces around keys and values are dropped, a value in double quotes
/// loses them (so `exit = "on-success"` and `exit=on-success` read the
/// same), and blank lines, lines starting with `#` and lines without `=`
/// are skipped. A key given twice: [`get`](Self::get) returns the last.
///
/// ```
/// use libcap::start::Args;
/// let args = Args::new("port=6379\n# note\nexit = \"on-success\"\n");
/// assert_eq!(args.clone().collect::<Vec<_>>(), [("port", "6379"), ("exit", "on-success")]);
/// assert_eq!(args.get("port"), Some("6379"));
/// ```
#[derive(Clone, Debug)]
pub struct Args {
    lines: core::str::Lines<'static>,
}

impl Args {
    /// The arguments in `text`.
    ///
    /// ```
    /// assert_eq!(libcap::start::Args::new("a=1").count(), 1);
    /// ```
    pub fn new(text: &'static str) -> Self {
        Self {
            lines: text.lines(),
        }
    }

    /// The value of the last line with `key`.
    ///
    /// ```
    /// let args = libcap::start::Args::new("log=info\nlog=debug");
    /// assert_eq!(args.get("log"), Some("debug"));
    /// ```
    pub fn get(self, key: &str) -> Option<&'static str> {
        self.filter(|(k, _)| *k == key).last().map(|(_, v)| v)
    }
}

impl Iterator for Args {
    type Item = (&'static str, &'static str);

    fn next(&mut self) -> Option<Self::Item> {
        for line in self.lines.by_ref() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            return Some((key.trim(), value));
        }
        None
    }
}

/// A made-up start-info page for examples and host tests: component
/// `hello-client`, generation 1, a 1 MiB heap, and one entry of most
/// kinds. Regions point at leaked host memory. Not for real programs.
///
/// ```
/// let start = libcap::start::testing::start();
/// assert_eq!(start.name(), "hello-client");
/// ```
#[doc(hidden)]
#[cfg(not(target_os = "none"))]
pub mod testing {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec;

    /// Writes `s` into a zero-padded name field.
    pub fn name(s: &str) -> [u8; start_info::NAME_BYTES] {
        let mut n = [0; start_info::NAME_BYTES];
        n[..s.len()].copy_from_slice(s.as_bytes());
        n
    }

    /// A start-info page with the given entries and arguments.
    pub fn info(component: &str, entries: &[(CapKind, &str, u64, u64)], args: &str) -> StartInfo {
        // SAFETY: StartInfo is integers and arrays of integers, for which
        // all zero bytes are a valid value.
        let mut info: StartInfo = unsafe { core::mem::zeroed() };
        info.magic = start_info::MAGIC;
        info.version = start_info::VERSION;
        info.generation = 1;
        info.heap_base = start_info::HEAP_BASE;
        info.heap_size = 1 << 20;
        info.name = name(component);
        for (i, &(kind, n, address, value)) in entries.iter().enumerate() {
            info.caps[i].kind = kind as u8;
            info.caps[i].name = name(n);
            info.caps[i].address = address;
            info.caps[i].value = value;
        }
        info.cap_count = entries.len() as u64;
        info.args[..args.len()].copy_from_slice(args.as_bytes());
        info
    }

    /// `bytes` of leaked, zeroed, page-aligned host memory.
    fn leaked_pages(bytes: usize) -> u64 {
        let raw = Box::leak(vec![0u8; bytes + 4096].into_boxed_slice());
        (raw.as_mut_ptr() as u64).next_multiple_of(4096)
    }

    /// The start of `hello-client` used in the examples.
    pub fn start() -> &'static Start {
        let rx = leaked_pages(16384);
        let bar = leaked_pages(8192);
        let info = info(
            "hello-client",
            &[
                (CapKind::UsedChannel, "greeter", 0, 0),
                (CapKind::ServedChannel, "admin", 0, 0),
                (CapKind::Notification, "rtc-irq", 0, 0),
                (CapKind::Signal, "rx-ready", 0, 0),
                (CapKind::Region, "rx", rx, 16384),
                (CapKind::Irq, "rtc", 0, 8),
                (CapKind::IoPorts, "uart", 0, 0x2f8 | 0x2ff << 16),
                (CapKind::DeviceMemory, "bar0", bar, 8192),
            ],
            "exit = \"on-success\"\nlog=info\n",
        );
        let info: &'static StartInfo = Box::leak(Box::new(info));
        Box::leak(Box::new(
            Start::new(info).expect("a valid test start-info page"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{info, start};
    use super::*;

    fn leak(i: StartInfo) -> &'static StartInfo {
        Box::leak(Box::new(i))
    }

    #[test]
    fn magic_version_and_count_are_checked() {
        let mut i = info("x", &[], "");
        i.magic = 1;
        assert_eq!(Start::new(leak(i)).err(), Some(StartError::BadMagic(1)));
        let mut i = info("x", &[], "");
        i.version = start_info::VERSION + 1;
        assert_eq!(
            Start::new(leak(i)).err(),
            Some(StartError::BadVersion(start_info::VERSION + 1))
        );
        let mut i = info("x", &[], "");
        i.cap_count = start_info::MAX_CAPS as u64 + 1;
        assert_eq!(
            Start::new(leak(i)).err(),
            Some(StartError::TooManyCaps(start_info::MAX_CAPS as u64 + 1))
        );
        assert!(Start::new(leak(info("x", &[], ""))).is_ok());
    }

    #[test]
    fn a_null_or_misaligned_address_is_refused() {
        // SAFETY: both are refused before anything is read.
        unsafe {
            assert_eq!(
                Start::from_address(0).err(),
                Some(StartError::BadAddress(0))
            );
            assert_eq!(
                Start::from_address(0x1001).err(),
                Some(StartError::BadAddress(0x1001))
            );
        }
    }

    #[test]
    fn lookups_find_entries_by_kind_and_name_in_their_slots() {
        let s = start();
        assert_eq!(s.name(), "hello-client");
        assert_eq!(s.channel("greeter"), Some(Endpoint::from_raw(8)));
        assert_eq!(s.served("admin"), Some(Endpoint::from_raw(9)));
        assert_eq!(s.notification("rtc-irq"), Some(Notification::from_raw(10)));
        assert_eq!(s.signal("rx-ready"), Some(Notification::from_raw(11)));
        // A name of another kind is not found.
        assert_eq!(s.served("greeter"), None);
        assert_eq!(s.notification("rx-ready"), None);
        assert_eq!(s.channel("nope"), None);
        let irq = s.irq("rtc").unwrap();
        assert_eq!(irq.handler, IrqHandler::from_raw(13));
        assert_eq!(irq.line, 8);
        let ports = s.io_ports("uart").unwrap();
        assert_eq!(
            (ports.ports, ports.first, ports.last),
            (IoPorts::from_raw(14), 0x2f8, 0x2ff)
        );
        assert_eq!(s.grants().count(), 8);
        assert_eq!(s.grants().last().unwrap().slot, 15);
    }

    #[test]
    fn regions_are_handed_out_once() {
        let s = start();
        let r = s.region("rx").expect("first time");
        assert_eq!(r.len(), 16384);
        r[16383] = 7;
        assert!(s.region("rx").is_none());
        assert!(s.shared_region("rx").is_none());
        let bar = s.device_memory("bar0").unwrap();
        assert_eq!(bar.len(), 8192);
        assert!(s.device_memory("bar0").is_none());
        assert!(s.region("bar0").is_none(), "device memory is not a region");
    }

    #[test]
    fn unknown_kinds_are_listed_but_never_found() {
        let mut i = info("x", &[(CapKind::UsedChannel, "a", 0, 0)], "");
        i.caps[0].kind = 200;
        let s = Start::new(leak(i)).unwrap();
        assert_eq!(s.grants().next().unwrap().kind, None);
        assert_eq!(s.channel("a"), None);
    }

    #[test]
    fn args_parse_with_spaces_quotes_comments_and_junk() {
        let args = Args::new(" a = 1 \n\n# c=3\nnoequals\nb=\"x y\"\nc==d\nempty=\na=2");
        assert_eq!(
            args.clone().collect::<Vec<_>>(),
            [
                ("a", "1"),
                ("b", "x y"),
                ("c", "=d"),
                ("empty", ""),
                ("a", "2")
            ]
        );
        assert_eq!(args.clone().get("a"), Some("2"));
        assert_eq!(args.get("zzz"), None);
    }

    #[test]
    fn args_text_stops_at_the_first_zero_or_bad_byte() {
        let raw: &'static [u8] = b"a=1\nb=2\0junk";
        assert_eq!(args_text(raw), "a=1\nb=2");
        let bad: &'static [u8] = b"a=1\n\xffb=2";
        assert_eq!(args_text(bad), "a=1\n");
        let full: &'static [u8] = b"k=v";
        assert_eq!(args_text(full), "k=v");
    }

    #[test]
    fn split_keeps_cache_line_alignment_and_bounds() {
        let s = start();
        let r = s.shared_region("rx").unwrap();
        let base = r.as_ptr();
        assert!(r.split_at(100).is_none());
        let r = start().shared_region("rx").unwrap();
        assert!(r.split_at(16384 + 64).is_none());
        let r = start().shared_region("rx").unwrap();
        let (a, b) = r.split_at(16384).unwrap();
        assert_eq!((a.len(), b.len()), (16384, 0));
        assert!(b.is_empty());
        let _ = base;
    }
}
