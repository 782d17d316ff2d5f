//! The device's MSI-X interrupt: one table entry (0) for every queue,
//! signalling a notification the driver waits on.
//!
//! [`setup`] (called by [`crate::device::open`]) asks the kernel for the
//! message of the line `init` granted as `<device>.msi`, binds the line to
//! the driver's notification, fills MSI-X table entry 0 through the mapped
//! BAR and turns MSI-X on. `virtio-drivers` does not assign virtio's queue
//! vectors, so [`MsixTransport`] does: it wraps the PCI transport and,
//! when a queue is set up (after the device's reset, before the queue is
//! enabled, as virtio 1.x §4.1.5.1.3 asks), writes the common
//! configuration's `queue_msix_vector` for it. Any driver built on a
//! [`Transport`] (the `virtio-drivers` devices, block's own) gets the
//! routing that way; [`Interrupt::routed`] then tells whether the device
//! took the vector.

use crate::dma;
use crate::doorbell::Doorbell;
use crate::pci::{self, ConfigPage, MSIX_ENTRY_BYTES, Msix, PAGE_FUNCTION};
use core::fmt;
use core::ptr::NonNull;
use libcap::abi::start_info::CapKind;
use libcap::{IrqHandler, Notification};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{Error, PhysAddr};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// The vendor-specific PCI capability ID, and `cfg_type` of the common
/// configuration structure.
const CAP_VENDOR: u8 = 0x09;
const COMMON_CFG: u8 = 1;
/// Offsets in `struct virtio_pci_common_cfg`.
const MSIX_CONFIG: usize = 0x10;
const QUEUE_SELECT: usize = 0x16;
const QUEUE_MSIX_VECTOR: usize = 0x1a;
/// Bytes of the common configuration this module touches.
pub const COMMON_CFG_BYTES: usize = 0x38;
/// `VIRTIO_MSI_NO_VECTOR`.
const NO_VECTOR: u16 = 0xffff;
/// The MSI-X table entry every queue signals through.
pub const ENTRY: u16 = 0;

/// Where function `f`'s common configuration structure lies: its BAR's
/// index and the offset in it (from its virtio vendor capability).
pub fn common_cfg<C: ConfigurationAccess>(
    root: &PciRoot<C>,
    cam: &C,
    f: DeviceFunction,
) -> Option<(u8, u32)> {
    root.capabilities(f)
        .find(|c| c.id == CAP_VENDOR && (c.private_header >> 8) as u8 == COMMON_CFG)
        .map(|c| {
            (
                cam.read_word(f, c.offset + 4) as u8,
                cam.read_word(f, c.offset + 8),
            )
        })
}

/// A 16-bit register of the common configuration at `common`.
fn register(common: NonNull<u8>, offset: usize) -> *mut u16 {
    common.as_ptr().wrapping_add(offset).cast::<u16>()
}

/// Sends `queue`'s interrupts to MSI-X table entry `entry` and
/// configuration changes nowhere; false if the device refused the entry
/// (it reads back `VIRTIO_MSI_NO_VECTOR`).
///
/// # Safety
///
/// `common` maps the device's common configuration structure (uncached,
/// [`COMMON_CFG_BYTES`] at least), and nothing else selects a queue
/// meanwhile.
pub unsafe fn route_queue_vector(common: NonNull<u8>, queue: u16, entry: u16) -> bool {
    // SAFETY: the caller's contract: these registers are mapped, and
    // nothing else touches the queue selector meanwhile.
    unsafe {
        register(common, MSIX_CONFIG).write_volatile(NO_VECTOR);
        register(common, QUEUE_SELECT).write_volatile(queue);
        register(common, QUEUE_MSIX_VECTOR).write_volatile(entry);
        register(common, QUEUE_MSIX_VECTOR).read_volatile() == entry
    }
}

/// The MSI-X table entry `queue` signals through (`None`: none).
///
/// # Safety
///
/// As for [`route_queue_vector`].
pub unsafe fn queue_vector(common: NonNull<u8>, queue: u16) -> Option<u16> {
    // SAFETY: the caller's contract, as above.
    let vector = unsafe {
        register(common, QUEUE_SELECT).write_volatile(queue);
        register(common, QUEUE_MSIX_VECTOR).read_volatile()
    };
    (vector != NO_VECTOR).then_some(vector)
}

/// The device's interrupt, set up: MSI-X entry 0 signals `notification`.
#[derive(Debug)]
pub struct Interrupt {
    /// What the interrupt signals: the driver waits on it.
    pub notification: Notification,
    /// The message-signalled line `init` granted (24 … 39).
    pub line: u64,
    /// Where the common configuration is mapped.
    common: NonNull<u8>,
}

impl Interrupt {
    /// Whether `queue` signals MSI-X entry 0: [`MsixTransport`] routed it
    /// when the driver set the queue up, and the device took it. Call
    /// after the driver's start; a queue that is not routed never
    /// interrupts (then poll).
    pub fn routed(&self, queue: u16) -> bool {
        // SAFETY: `setup` found `common` in a granted BAR, and the driver
        // (single-threaded) selects no queue while this runs.
        unsafe { queue_vector(self.common, queue) == Some(ENTRY) }
    }
}

/// Why the device has no interrupt (the driver then polls).
#[derive(Debug)]
pub enum NoInterrupt {
    /// The config grants no `<device>.msi` (no `interrupt = "msi"`), or
    /// no `<device>.intx` (no `interrupt = "any"`, or init found no route).
    NotGranted,
    /// The driver was given no notification for the interrupt.
    NoNotificationGiven,
    /// The component does not both own and signal the notification of
    /// that name.
    NoNotification(&'static str),
    /// The function has no MSI-X capability.
    NoMsix,
    /// The function has no MSI capability.
    NoMsi,
    /// The MSI-X table or the common configuration lies in no granted BAR.
    NotMapped,
    /// The kernel refused the line's message or its binding.
    Kernel(libcap::Error),
}

impl fmt::Display for NoInterrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGranted => {
                f.write_str("no interrupt granted (interrupt = \"msi\" or \"any\")")
            }
            Self::NoNotificationGiven => f.write_str("no notification for the interrupt"),
            Self::NoNotification(n) => {
                write!(f, "no notification `{n}` to wait on and signal")
            }
            Self::NoMsix => f.write_str("the device has no MSI-X capability"),
            Self::NoMsi => f.write_str("the device has no MSI capability"),
            Self::NotMapped => {
                f.write_str("the MSI-X table or the common configuration is in no granted BAR")
            }
            Self::Kernel(e) => write!(f, "the kernel refused the line: {e:?}"),
        }
    }
}

/// A function's MSI-X entry 0, routed: what it signals and its line.
#[derive(Debug)]
pub struct Msi {
    /// What the interrupt signals: the driver waits on it.
    pub notification: Notification,
    /// The message-signalled line `init` granted (24 … 39).
    pub line: u64,
}

/// Routes MSI-X table entry 0 of the function whose configuration space
/// `cam` is (and `root` reaches) to the message-signalled line granted as
/// `<device>.msi`, that line to `notification` (which the component owns
/// and signals), and turns MSI-X on: any PCI driver's interrupt (the
/// device's own registers then say which causes use entry 0).
///
/// The function's BARs are registered as windows already
/// ([`crate::device::open_function`] did).
pub fn msix(
    start: &'static libcap::Start,
    device: &str,
    notification: &'static str,
    root: &mut PciRoot<ConfigPage>,
    mut cam: ConfigPage,
) -> Result<Msi, NoInterrupt> {
    let function = PAGE_FUNCTION;
    let line = Line::granted(start, device, notification)?;
    let msix = Msix::find(root, &cam, function).ok_or(NoInterrupt::NoMsix)?;
    let table = bar_address(root, msix.table_bar)
        .and_then(|a| dma::window_virt(a + u64::from(msix.table_offset), MSIX_ENTRY_BYTES))
        .and_then(|t| NonNull::new(t as *mut u32))
        .ok_or(NoInterrupt::NotMapped)?;
    let message = line.bind()?;
    // SAFETY: `table` maps the function's MSI-X table (a granted BAR,
    // uncached), which has at least one entry; only this driver writes it.
    unsafe { pci::write_msix_entry(table, usize::from(ENTRY), message) };
    msix.enable(&mut cam, function);
    Ok(line.msi)
}

/// Routes the plain MSI capability's one message of the function whose
/// configuration space `cam` is (and `root` reaches) to the line granted
/// as `<device>.msi`, that line to `notification`, and turns MSI on: for
/// a device without MSI-X (the AHCI controller).
pub fn msi(
    start: &'static libcap::Start,
    device: &str,
    notification: &'static str,
    root: &mut PciRoot<ConfigPage>,
    mut cam: ConfigPage,
) -> Result<Msi, NoInterrupt> {
    let line = Line::granted(start, device, notification)?;
    let cap = pci::Msi::find(root, PAGE_FUNCTION).ok_or(NoInterrupt::NoMsi)?;
    let message = line.bind()?;
    cap.enable(&mut cam, PAGE_FUNCTION, message);
    Ok(line.msi)
}

/// A function's INTx line, routed: what it signals, and the handler the
/// driver acknowledges (unmasks) the line with once it has cleared the
/// device's causes.
#[derive(Debug)]
pub struct Intx {
    /// What the interrupt signals: the driver waits on it.
    pub notification: Notification,
    /// The IRQ line `init` granted (the GSI the firmware routes the pin
    /// to).
    pub line: u64,
    /// Acknowledges the line: the kernel masks a level-triggered line at
    /// each interrupt until then.
    pub handler: IrqHandler,
}

/// Command register bit: the function's INTx is disabled.
const INTX_DISABLE: u32 = 1 << 10;

/// Binds the line init granted as `<device>.intx` (`interrupt = "any"`,
/// for a function without MSI) to `notification` and lets the function
/// assert its pin (clears Interrupt Disable in its command register). The
/// line is shared with whatever else the board wires to it and level
/// triggered: the driver clears the device's causes, then acknowledges
/// ([`IrqHandler::ack`]) before it waits again.
pub fn intx(
    start: &'static libcap::Start,
    device: &str,
    notification: &'static str,
    mut cam: ConfigPage,
) -> Result<Intx, NoInterrupt> {
    let grant = start
        .grants()
        .find(|g| g.kind == Some(CapKind::Irq) && g.name.strip_prefix(device) == Some(".intx"))
        .ok_or(NoInterrupt::NotGranted)?;
    let (Some(wait), Some(signal)) = (start.notification(notification), start.signal(notification))
    else {
        return Err(NoInterrupt::NoNotification(notification));
    };
    let handler = IrqHandler::from_raw(grant.slot);
    handler
        .set_notification(signal)
        .map_err(NoInterrupt::Kernel)?;
    let command = cam.read_word(PAGE_FUNCTION, 0x04);
    cam.write_word(PAGE_FUNCTION, 0x04, command & !INTX_DISABLE);
    Ok(Intx {
        notification: wait,
        line: grant.value,
        handler,
    })
}

/// A line `init` granted, and the notification it is to signal.
struct Line {
    handler: IrqHandler,
    signal: Notification,
    msi: Msi,
}

impl Line {
    /// The line granted as `<device>.msi`, and `notification` (which the
    /// component must own and signal).
    fn granted(
        start: &'static libcap::Start,
        device: &str,
        notification: &'static str,
    ) -> Result<Line, NoInterrupt> {
        let grant = start
            .grants()
            .find(|g| g.kind == Some(CapKind::Irq) && g.name.strip_prefix(device) == Some(".msi"))
            .ok_or(NoInterrupt::NotGranted)?;
        let (Some(wait), Some(signal)) =
            (start.notification(notification), start.signal(notification))
        else {
            return Err(NoInterrupt::NoNotification(notification));
        };
        Ok(Line {
            handler: IrqHandler::from_raw(grant.slot),
            signal,
            msi: Msi {
                notification: wait,
                line: grant.value,
            },
        })
    }

    /// Binds the line to its notification; the message that raises it.
    fn bind(&self) -> Result<libcap::MsiMessage, NoInterrupt> {
        let message = self.handler.msi_message().map_err(NoInterrupt::Kernel)?;
        self.handler
            .set_notification(self.signal)
            .map_err(NoInterrupt::Kernel)?;
        Ok(message)
    }
}

/// The physical address of memory BAR `index` of the function `root`
/// reaches.
fn bar_address(root: &mut PciRoot<ConfigPage>, index: u8) -> Option<u64> {
    let bars = root.bars(PAGE_FUNCTION).ok()?;
    let (address, _) = bars
        .get(usize::from(index))?
        .as_ref()?
        .memory_address_size()?;
    Some(address)
}

/// [`msix`] for a virtio function, which also needs its common
/// configuration mapped (to route the queues' vectors).
pub fn setup(
    start: &'static libcap::Start,
    device: &str,
    notification: &'static str,
    root: &mut PciRoot<ConfigPage>,
    cam: ConfigPage,
) -> Result<Interrupt, NoInterrupt> {
    let common = common_cfg(root, &cam, PAGE_FUNCTION)
        .and_then(|(index, offset)| {
            dma::window_virt(
                bar_address(root, index)? + u64::from(offset),
                COMMON_CFG_BYTES,
            )
        })
        .and_then(|c| NonNull::new(c as *mut u8))
        .ok_or(NoInterrupt::NotMapped)?;
    let Msi { notification, line } = msix(start, device, notification, root, cam)?;
    Ok(Interrupt {
        notification,
        line,
        common,
    })
}

/// The PCI transport, which also routes every queue's interrupts to MSI-X
/// entry 0 when the device's interrupt is set up (see the module
/// documentation). Without an interrupt it is the plain transport.
pub struct MsixTransport {
    inner: PciTransport,
    /// The common configuration, when queues are to be routed.
    common: Option<NonNull<u8>>,
    /// Where notifications are held while the driver says so.
    doorbell: Option<Doorbell>,
}

impl MsixTransport {
    /// Wraps `inner`; `interrupt` is the device's, if [`setup`] made one;
    /// `doorbell`, if given, may hold its queue notifications.
    pub fn new(
        inner: PciTransport,
        interrupt: Option<&Interrupt>,
        doorbell: Option<Doorbell>,
    ) -> Self {
        Self {
            inner,
            common: interrupt.map(|i| i.common),
            doorbell,
        }
    }
}

impl fmt::Debug for MsixTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsixTransport")
            .field("routed", &self.common.is_some())
            .finish_non_exhaustive()
    }
}

impl Transport for MsixTransport {
    fn device_type(&self) -> DeviceType {
        self.inner.device_type()
    }

    fn read_device_features(&mut self) -> u64 {
        self.inner.read_device_features()
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        self.inner.write_driver_features(driver_features);
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.inner.max_queue_size(queue)
    }

    fn notify(&mut self, queue: u16) {
        if self.doorbell.as_ref().is_some_and(|d| d.held(queue)) {
            return;
        }
        self.inner.notify(queue);
    }

    fn get_status(&self) -> DeviceStatus {
        self.inner.get_status()
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.inner.set_status(status);
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.inner.set_guest_page_size(guest_page_size);
    }

    fn requires_legacy_layout(&self) -> bool {
        self.inner.requires_legacy_layout()
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        if let Some(common) = self.common {
            // A refused vector is found by `Interrupt::routed` afterwards;
            // the queue works either way (polled).
            // SAFETY: `common` came from `setup`, which found it in a
            // granted BAR; the queue selector is this transport's alone,
            // and the inner `queue_set` selects the queue again.
            let _ = unsafe { route_queue_vector(common, queue, ENTRY) };
        }
        self.inner
            .queue_set(queue, size, descriptors, driver_area, device_area);
    }

    fn queue_unset(&mut self, queue: u16) {
        self.inner.queue_unset(queue);
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.inner.queue_used(queue)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.inner.ack_interrupt()
    }

    fn read_config_generation(&self) -> u32 {
        self.inner.read_config_generation()
    }

    fn read_config_space<T: FromBytes + IntoBytes>(&self, offset: usize) -> Result<T, Error> {
        self.inner.read_config_space(offset)
    }

    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: T,
    ) -> Result<(), Error> {
        self.inner.write_config_space(offset, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_vector_goes_to_the_common_configuration() {
        let mut registers = [0u16; COMMON_CFG_BYTES / 2];
        registers[QUEUE_SELECT / 2] = 5;
        let common = NonNull::new(registers.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: plain memory standing in for the registers.
        assert!(unsafe { route_queue_vector(common, 1, 3) });
        assert_eq!(registers[MSIX_CONFIG / 2], NO_VECTOR);
        assert_eq!(registers[QUEUE_SELECT / 2], 1);
        assert_eq!(registers[QUEUE_MSIX_VECTOR / 2], 3);
        // SAFETY: as above.
        assert_eq!(unsafe { queue_vector(common, 1) }, Some(3));
        registers[QUEUE_MSIX_VECTOR / 2] = NO_VECTOR;
        // SAFETY: as above.
        assert_eq!(unsafe { queue_vector(common, 0) }, None);
        assert_eq!(registers[QUEUE_SELECT / 2], 0);
    }
}
