//! Finding and starting a virtio PCI function from what `init` granted:
//! the DMA region (a shared region with a physical address), the
//! function's memory BARs (device memory `<device>.bar<N>`), its page of
//! configuration space (device memory `<device>.config`, see
//! [`crate::pci::ConfigPage`]) and, if granted, its message-signalled
//! interrupt (`<device>.msi`, see [`crate::interrupt`]).
//!
//! ```no_run
//! # use libcap::start::SharedRegion;
//! # fn run(start: &'static libcap::Start, dma: SharedRegion) -> Result<(), virtio_pci::device::OpenError> {
//! use virtio_pci::device::{self, Names};
//! // `dma` as the driver's argument binds it (a region init placed for DMA).
//! let names = Names { dma, device: "nic", interrupt: Some("net-wake") };
//! let opened = device::open(start, names, &[0x1000, 0x1041])?;
//! libcap::log::info!("{}", opened.describe("virtio-net"));
//! match &opened.interrupt {
//!     Ok(i) => libcap::log::info!("interrupts: MSI-X entry 0 on line {}", i.line),
//!     Err(why) => libcap::log::info!("polling: {why}"),
//! }
//! // The driver starts on `opened.transport` and, with an interrupt,
//! // checks `Interrupt::routed` for its queues.
//! # Ok(()) }
//! ```

use crate::dma::{self, VirtioHal, Window};
use crate::doorbell::Doorbell;
use crate::interrupt::{self, Interrupt, MsixTransport, NoInterrupt};
use crate::mmio::Mmio;
use crate::pci::{ConfigPage, PAGE_FUNCTION};
use core::fmt;
use libcap::abi::start_info::CapKind;
use libcap::start::SharedRegion;
use virtio_drivers::transport::pci::bus::{BarInfo, Command, PciError, PciRoot};
use virtio_drivers::transport::pci::{PciTransport, VirtioPciError};

/// The virtio vendor ID.
pub const VIRTIO_VENDOR: u16 = 0x1af4;

/// What a driver starts from: the grants its arguments bind.
#[derive(Debug)]
pub struct Names {
    /// The DMA region: a `[[region]]` only this component uses, which
    /// init placed for DMA (it has a physical address).
    pub dma: SharedRegion,
    /// The PCI device (`[[device]] kind = "pci"`): its BARs are granted
    /// as `<device>.bar<N>`, its configuration space as
    /// `<device>.config`, its interrupt (`interrupt = "msi"`) as
    /// `<device>.msi`.
    pub device: &'static str,
    /// The notification the interrupt signals, if any: the component
    /// owns it (`notifications`, to wait) and signals it (`signals`, to
    /// bind the line to it). Without it the driver polls.
    pub interrupt: Option<&'static str>,
}

/// The step that went wrong.
#[derive(Debug)]
pub enum OpenError {
    /// The DMA region has no physical address (init did not place it
    /// for DMA).
    NoDmaRegion,
    /// No device memory `<device>.bar<N>` was granted.
    NoBars,
    /// No device memory `<device>.config` (the device's name) of at least
    /// 256 bytes was granted: init grants it when the firmware describes
    /// an ECAM window covering the function (see its log).
    NoConfigSpace(&'static str),
    /// The function `<device>.config` holds (the device's name) is not
    /// one with the wanted IDs: its vendor and device IDs.
    WrongDevice(&'static str, u16, u16),
    /// Sizing the function's BARs failed.
    Pci(PciError),
    /// A memory BAR of the function was not granted (init could not map
    /// it: see its log): the BAR's index and physical address.
    BarNotGranted(usize, u64),
    /// The PCI transport refused the function.
    Transport(VirtioPciError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDmaRegion => f.write_str("no DMA region (a region with a physical address)"),
            Self::NoBars => f.write_str("no device memory <device>.bar<N> was granted"),
            Self::NoConfigSpace(device) => write!(
                f,
                "no configuration space: device memory `{device}.config` was not granted \
                 (init grants it from the firmware's ECAM window; see its log)"
            ),
            Self::WrongDevice(device, vendor, id) => write!(
                f,
                "`{device}.config` is the configuration space of {vendor:04x}:{id:04x}, \
                 not one of the devices this driver wants"
            ),
            Self::Pci(e) => write!(f, "sizing the BARs: {e:?}"),
            Self::BarNotGranted(i, a) => write!(f, "BAR{i} at {a:#x} was not granted"),
            Self::Transport(e) => write!(f, "the PCI transport: {e:?}"),
        }
    }
}

/// A started transport and what was found on the way.
pub struct Opened {
    /// The transport, for the device driver's `new`: it routes the
    /// queues' interrupts to the MSI-X entry when `interrupt` is set up.
    pub transport: MsixTransport,
    /// The device's interrupt, or why it has none (then the driver
    /// polls).
    pub interrupt: Result<Interrupt, NoInterrupt>,
    /// Holds the transport's queue notifications while the driver says
    /// so (`None` if a second transport to the function could not be
    /// made: then every notification is written at once).
    pub doorbell: Option<Doorbell>,
    /// The physical address of the function's configuration space.
    pub config: u64,
    /// Its vendor and device IDs.
    pub ids: (u16, u16),
    /// How many BAR windows were registered.
    pub bars: usize,
    /// The DMA region's size in bytes and physical address.
    pub dma: (usize, u64),
}

impl Opened {
    /// One log line: `<what> 1af4:1041 at configuration page 0xb0018000,
    /// 2 BARs, DMA region 256 KiB at physical 0x…` (the page's physical
    /// address names the function: init logs its bus, device and function
    /// beside it).
    pub fn describe<'a>(&'a self, what: &'a str) -> impl fmt::Display + 'a {
        Describe(self, what)
    }
}

struct Describe<'a>(&'a Opened, &'a str);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{} {:04x}:{:04x} at configuration page {:#x}, {} BARs, DMA region {} KiB at physical {:#x}",
            self.1,
            o.ids.0,
            o.ids.1,
            o.config,
            o.bars,
            o.dma.0 >> 10,
            o.dma.1
        )
    }
}

/// The configuration space granted as `<device>.config`, if it is that
/// of a function whose vendor and device IDs `wanted` takes; its
/// physical address.
fn config_page(
    start: &'static libcap::Start,
    device: &'static str,
    wanted: impl Fn(u16, u16) -> bool,
) -> Result<(ConfigPage, u64), OpenError> {
    let (page, physical) = start
        .grants()
        .filter(|g| g.kind == Some(CapKind::DeviceMemory))
        .find(|g| g.name.strip_prefix(device) == Some(".config"))
        .and_then(|g| Some((ConfigPage::new(start.device_memory(g.name)?)?, g.physical)))
        .ok_or(OpenError::NoConfigSpace(device))?;
    match page.ids() {
        (vendor, id) if wanted(vendor, id) => Ok((page, physical)),
        (vendor, id) => Err(OpenError::WrongDevice(device, vendor, id)),
    }
}

/// A PCI function ready for its driver: memory decoding and bus
/// mastering on, its memory BARs registered as windows (and every one
/// granted), the DMA region given to [`VirtioHal`].
pub struct Function {
    /// The function's configuration space, as `virtio-drivers` reaches it.
    pub root: PciRoot<ConfigPage>,
    /// The same page, for the capabilities [`crate::interrupt`] reads.
    pub cam: ConfigPage,
    /// The physical address of the function's configuration space.
    pub config: u64,
    /// Its vendor and device IDs.
    pub ids: (u16, u16),
    /// How many BAR windows were registered.
    pub bars: usize,
    /// The DMA region's size in bytes and physical address.
    pub dma: (usize, u64),
}

impl Function {
    /// Where memory BAR `index` is mapped, and its length.
    pub fn memory_bar(&mut self, index: usize) -> Option<(usize, usize)> {
        let bars = self.root.bars(PAGE_FUNCTION).ok()?;
        let (address, size) = bars.get(index)?.as_ref()?.memory_address_size()?;
        let len = usize::try_from(size).ok()?;
        Some((dma::window_virt(address, len)?, len))
    }

    /// The device's registers in memory BAR `index`, if it is mapped and
    /// holds at least `least` bytes, and the BAR's length: what a driver
    /// that programs its device directly reaches it through.
    pub fn registers(&mut self, index: usize, least: usize) -> Option<(Mmio, usize)> {
        let (base, len) = self.memory_bar(index)?;
        // SAFETY: the BAR is a window `open_function` registered: init
        // mapped it uncached for the component's lifetime, and only the
        // driver that opened this function uses it.
        let regs = unsafe { Mmio::new(base, len, least) }?;
        Some((regs, len))
    }

    /// One log line: `<what> 8086:10d3 at configuration page 0xb0018000,
    /// BAR0 128 KiB, DMA region 512 KiB at physical 0x300000`.
    pub fn describe<'a>(&'a self, what: &'a str, bar: (usize, usize)) -> impl fmt::Display + 'a {
        DescribeFunction(self, what, bar)
    }
}

struct DescribeFunction<'a>(&'a Function, &'a str, (usize, usize));

impl fmt::Display for DescribeFunction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (o, (index, len)) = (self.0, self.2);
        write!(
            f,
            "{} {:04x}:{:04x} at configuration page {:#x}, BAR{index} {} KiB, DMA region {} KiB at physical {:#x}",
            self.1,
            o.ids.0,
            o.ids.1,
            o.config,
            len >> 10,
            o.dma.0 >> 10,
            o.dma.1
        )
    }
}

/// Gives [`VirtioHal`] the DMA region `dma` and the BAR windows of PCI
/// device `device` (the config's name), checks that the configuration
/// space granted as `<device>.config` is a function whose vendor and
/// device IDs `wanted` takes, enables memory decoding and bus
/// mastering, and checks that every memory BAR was granted: what any PCI
/// driver starts from.
///
/// Call once per program: the region, windows and page are handed out
/// once.
pub fn open_function(
    start: &'static libcap::Start,
    dma: SharedRegion,
    device: &'static str,
    wanted: impl Fn(u16, u16) -> bool,
) -> Result<Function, OpenError> {
    let region = dma;
    let physical = region.physical();
    if physical == 0 {
        return Err(OpenError::NoDmaRegion);
    }
    // SAFETY: init maps the region read-write for the component's
    // lifetime, physically contiguous from `physical`; the config makes
    // this component its only user, and the region is handed out once,
    // to here (the caller owned it).
    unsafe { dma::set_dma_region(region.as_ptr(), physical, region.len()) };

    let mut bars = 0;
    for g in start.grants() {
        let is_bar = g.kind == Some(CapKind::DeviceMemory)
            && g.name
                .strip_prefix(device)
                .is_some_and(|rest| rest.starts_with(".bar"));
        if is_bar && start.device_memory(g.name).is_some() {
            // SAFETY: init maps the BAR uncached for the component's
            // lifetime; `device_memory` handed it out once, to here, and
            // only the driver uses it.
            let added = unsafe {
                dma::add_window(Window {
                    phys: g.physical,
                    virt: g.address as usize,
                    len: g.value as usize,
                })
            };
            bars += usize::from(added);
        }
    }
    if bars == 0 {
        return Err(OpenError::NoBars);
    }

    let (cam, config) = config_page(start, device, wanted)?;
    let ids = cam.ids();
    let mut root = PciRoot::new(cam);
    let function = PAGE_FUNCTION;
    // The device reaches the DMA region only as a bus master.
    let (_, command) = root.get_status_command(function);
    root.set_command(
        function,
        command | Command::MEMORY_SPACE | Command::BUS_MASTER,
    );
    // Every memory BAR the driver may use must have been granted, or the
    // driver would fail deep inside (in `mmio_phys_to_virt`).
    for (index, bar) in root
        .bars(function)
        .map_err(OpenError::Pci)?
        .iter()
        .enumerate()
    {
        if let Some((address, size)) = bar.as_ref().and_then(BarInfo::memory_address_size)
            && address != 0
            && dma::window_virt(address, size as usize).is_none()
        {
            return Err(OpenError::BarNotGranted(index, address));
        }
    }
    Ok(Function {
        root,
        cam,
        config,
        ids,
        bars,
        dma: (region.len(), physical),
    })
}

/// Opens the virtio function `names` describes ([`open_function`], with
/// one of the virtio `device_ids`) and starts it: sets up the MSI-X
/// interrupt if one is granted ([`interrupt::setup`]) and the PCI
/// transport.
///
/// Call once per program: the region, windows and page are handed out
/// once.
pub fn open(
    start: &'static libcap::Start,
    names: Names,
    device_ids: &[u16],
) -> Result<Opened, OpenError> {
    let virtio = |vendor, id| vendor == VIRTIO_VENDOR && device_ids.contains(&id);
    let function = open_function(start, names.dma, names.device, virtio)?;
    start_virtio(start, function, names.device, names.interrupt)
}

/// Starts a virtio function [`open_function`] opened: its interrupt (if
/// `interrupt`, the notification, is given and `<device>.msi` granted)
/// and its PCI transport.
pub fn start_virtio(
    start: &'static libcap::Start,
    function: Function,
    device: &'static str,
    interrupt: Option<&'static str>,
) -> Result<Opened, OpenError> {
    let Function {
        mut root,
        cam,
        config,
        ids,
        bars,
        dma,
    } = function;
    let interrupt = match interrupt {
        Some(notification) => interrupt::setup(start, device, notification, &mut root, cam),
        None => Err(NoInterrupt::NoNotificationGiven),
    };
    let transport = PciTransport::new::<VirtioHal, _>(&mut root, PAGE_FUNCTION)
        .map_err(OpenError::Transport)?;
    let doorbell = PciTransport::new::<VirtioHal, _>(&mut root, PAGE_FUNCTION)
        .ok()
        .map(Doorbell::new);
    Ok(Opened {
        transport: MsixTransport::new(transport, interrupt.as_ref().ok(), doorbell.clone()),
        interrupt,
        doorbell,
        config,
        ids,
        bars,
        dma,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use libcap::start::testing;
    use virtio_drivers::transport::pci::bus::ConfigurationAccess;

    /// The IDs in `list`, as `config_page` asks.
    fn among(list: &[(u16, u16)]) -> impl Fn(u16, u16) -> bool + '_ {
        |vendor, id| list.contains(&(vendor, id))
    }

    /// A start whose `disk.config` is a page of host memory holding `id`
    /// (device ID << 16 | vendor ID) in its first register.
    fn start_with_config(id: u32) -> &'static libcap::Start {
        let (mut page, base) = crate::pci::tests::page();
        page.write_word(PAGE_FUNCTION, 0, id);
        let info = testing::info(
            "block",
            &[
                (CapKind::DeviceMemory, "disk.bar4", 0, 0),
                (CapKind::DeviceMemory, "disk.config", base as u64, 4096),
            ],
            "",
        );
        let info = Box::leak(Box::new(info));
        Box::leak(Box::new(libcap::Start::new(info).unwrap()))
    }

    #[test]
    fn the_configuration_page_must_hold_a_wanted_virtio_device() {
        let start = start_with_config(0x1042_1af4);
        let (page, _) =
            config_page(start, "disk", among(&[(0x1af4, 0x1001), (0x1af4, 0x1042)])).unwrap();
        assert_eq!(page.ids(), (0x1af4, 0x1042));
        // It is handed out once.
        assert!(matches!(
            config_page(start, "disk", among(&[(0x1af4, 0x1042)])),
            Err(OpenError::NoConfigSpace("disk"))
        ));

        let start = start_with_config(0x1042_1af4);
        let err = config_page(start, "disk", among(&[(0x1af4, 0x1000)]))
            .err()
            .unwrap();
        assert!(matches!(
            err,
            OpenError::WrongDevice("disk", 0x1af4, 0x1042)
        ));
        assert_eq!(
            err.to_string(),
            "`disk.config` is the configuration space of 1af4:1042, \
             not one of the devices this driver wants"
        );
        let start = start_with_config(0x1042_8086);
        assert!(matches!(
            config_page(start, "disk", among(&[(0x1af4, 0x1042)])),
            Err(OpenError::WrongDevice("disk", 0x8086, 0x1042))
        ));
    }

    #[test]
    fn a_missing_configuration_page_is_named() {
        let start = start_with_config(0x1042_1af4);
        let err = config_page(start, "nic", among(&[(0x1af4, 0x1000)]))
            .err()
            .unwrap();
        assert!(matches!(err, OpenError::NoConfigSpace("nic")));
        assert!(err.to_string().contains("`nic.config` was not granted"));
    }
}
