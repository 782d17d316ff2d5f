//! PCI configuration space through one function's page of the PCI Express
//! configuration window (ECAM): [`ConfigPage`]. `init` grants a driver its
//! function's 4 KiB there as device memory `<device>.config`, mapped
//! uncached; it is all of the configuration space the driver reaches. The
//! legacy ports 0xcf8-0xcff, which reach every function on every bus (and
//! so the other drivers' devices), stay `init`'s.
//!
//! And the MSI-X capability ([`Msix`]): where a function's table of
//! interrupt messages lies, how to fill an entry and turn MSI-X on.

use core::ptr::NonNull;
use libcap::MsiMessage;
use libcap::start::SharedRegion;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};

/// Bytes of configuration space a [`ConfigurationAccess`] reaches (its
/// offsets are bytes): the header and the capability list.
pub const CONFIG_BYTES: usize = 256;

/// The function to name where [`PciRoot`] asks for one: a [`ConfigPage`]
/// answers every function from its page, which is one function's.
pub const PAGE_FUNCTION: DeviceFunction = DeviceFunction {
    bus: 0,
    device: 0,
    function: 0,
};

/// One function's configuration space, memory-mapped, for
/// [`virtio_drivers::transport::pci::bus::PciRoot`]: 32-bit volatile
/// accesses at the register's offset in the page, whatever function is
/// asked for.
#[derive(Clone, Copy, Debug)]
pub struct ConfigPage {
    base: NonNull<u32>,
}

impl ConfigPage {
    /// Configuration access through `page` (the grant `<device>.config`);
    /// `None` if it is shorter than [`CONFIG_BYTES`].
    ///
    /// ```
    /// use libcap::start::SharedRegion;
    /// use virtio_pci::pci::ConfigPage;
    /// let page: &'static mut [u32] = Box::leak(vec![0u32; 1024].into_boxed_slice());
    /// page[0] = 0x1042_1af4;
    /// // SAFETY: leaked, so mapped forever, and used only through `region`.
    /// let region = unsafe { SharedRegion::new(page.as_mut_ptr().cast(), 4096) }.unwrap();
    /// let config = ConfigPage::new(region).unwrap();
    /// assert_eq!(config.ids(), (0x1af4, 0x1042));
    /// ```
    pub fn new(page: SharedRegion) -> Option<Self> {
        if page.len() < CONFIG_BYTES || !page.as_ptr().cast::<u32>().is_aligned() {
            return None;
        }
        Some(Self {
            base: NonNull::new(page.as_ptr().cast())?,
        })
    }

    /// The function's vendor and device IDs (vendor 0xffff: no function
    /// answers there).
    pub fn ids(&self) -> (u16, u16) {
        let id = self.read_word(PAGE_FUNCTION, 0);
        (id as u16, (id >> 16) as u16)
    }

    /// The register that holds byte `offset`.
    fn register(&self, offset: u8) -> *mut u32 {
        self.base.as_ptr().wrapping_add(usize::from(offset / 4))
    }
}

impl ConfigurationAccess for ConfigPage {
    fn read_word(&self, _: DeviceFunction, offset: u8) -> u32 {
        // SAFETY: the page is mapped read-write for the rest of the
        // program and only reached through this `ConfigPage` and its
        // copies (`SharedRegion`'s contract; `new` took the region), none
        // of which leaves this thread (a raw pointer is neither `Send` nor
        // `Sync`). It holds at least CONFIG_BYTES and is 4-byte aligned
        // (`new` checked), so the register at `offset / 4` lies in it.
        unsafe { self.register(offset).read_volatile() }
    }

    fn write_word(&mut self, _: DeviceFunction, offset: u8, data: u32) {
        // SAFETY: as in `read_word`.
        unsafe { self.register(offset).write_volatile(data) }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        *self
    }
}

/// The MSI-X capability's ID.
const CAP_MSIX: u8 = 0x11;
/// Message control: MSI-X enable, function mask.
const MSIX_ENABLE: u32 = 1 << 15;
const MSIX_FUNCTION_MASK: u32 = 1 << 14;
/// Bytes of an MSI-X table entry.
pub const MSIX_ENTRY_BYTES: usize = 16;

/// A function's MSI-X capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msix {
    /// Where the capability is in configuration space.
    offset: u8,
    /// The BAR that holds the table.
    pub table_bar: u8,
    /// The table's offset in that BAR.
    pub table_offset: u32,
    /// Entries in the table.
    pub entries: u16,
}

impl Msix {
    /// The MSI-X capability of `f`, if it has one; `cam` reads what the
    /// capability list does not carry.
    pub fn find<C: ConfigurationAccess>(
        root: &PciRoot<C>,
        cam: &C,
        f: DeviceFunction,
    ) -> Option<Self> {
        let cap = root.capabilities(f).find(|c| c.id == CAP_MSIX)?;
        let table = cam.read_word(f, cap.offset + 4);
        Some(Self {
            offset: cap.offset,
            table_bar: (table & 7) as u8,
            table_offset: table & !7,
            entries: (cap.private_header & 0x7ff) + 1,
        })
    }

    /// Turns MSI-X on for `f` (and with it INTx off), no longer masking
    /// the whole function: entries that are unmasked may fire.
    pub fn enable<C: ConfigurationAccess>(&self, cam: &mut C, f: DeviceFunction) {
        let header = cam.read_word(f, self.offset);
        let control = (header >> 16 | MSIX_ENABLE) & !MSIX_FUNCTION_MASK;
        cam.write_word(f, self.offset, (header & 0xffff) | control << 16);
    }
}

const CAP_MSI: u8 = 0x05;
/// Message control: MSI enable, 64-bit address capable, multiple message
/// enable.
const MSI_ENABLE: u32 = 1;
const MSI_64BIT: u16 = 1 << 7;
const MSI_MME: u32 = 0b111 << 4;

/// A function's MSI capability (the plain one: a single message in the
/// configuration space, for devices without MSI-X such as AHCI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msi {
    offset: u8,
    /// The address register has 64 bits.
    wide: bool,
}

impl Msi {
    /// The MSI capability of `f`, if it has one.
    pub fn find<C: ConfigurationAccess>(root: &PciRoot<C>, f: DeviceFunction) -> Option<Self> {
        let cap = root.capabilities(f).find(|c| c.id == CAP_MSI)?;
        Some(Self {
            offset: cap.offset,
            wide: cap.private_header & MSI_64BIT != 0,
        })
    }

    /// Programs `message` (one message) and turns MSI on for `f` (and
    /// with it INTx off).
    pub fn enable<C: ConfigurationAccess>(
        &self,
        cam: &mut C,
        f: DeviceFunction,
        message: MsiMessage,
    ) {
        let o = self.offset;
        cam.write_word(f, o + 4, message.address as u32);
        let data_at = if self.wide {
            cam.write_word(f, o + 8, (message.address >> 32) as u32);
            o + 12
        } else {
            o + 8
        };
        // The data register is 16 bits; the word's upper half is reserved
        // (or the mask bits' neighbours), kept as read.
        let data = cam.read_word(f, data_at);
        cam.write_word(f, data_at, (data & 0xffff_0000) | (message.data & 0xffff));
        let header = cam.read_word(f, o);
        let control = ((header >> 16) & !MSI_MME) | MSI_ENABLE;
        cam.write_word(f, o, (header & 0xffff) | control << 16);
    }
}

/// Fills entry `entry` of the MSI-X table at `table` with `message` and
/// unmasks it.
///
/// # Safety
///
/// `table` maps the function's MSI-X table (uncached) with at least
/// `entry + 1` entries, and nothing else writes that entry.
///
/// ```
/// let mut table = [0u32, 0, 0, 1, 0, 0, 0, 1]; // two masked entries
/// let message = libcap::MsiMessage { address: 0xfee0_0000, data: 0x48 };
/// let at = core::ptr::NonNull::new(table.as_mut_ptr()).unwrap();
/// // SAFETY: a table of two entries in this program's memory.
/// unsafe { virtio_pci::pci::write_msix_entry(at, 1, message) };
/// assert_eq!(table, [0, 0, 0, 1, 0xfee0_0000, 0, 0x48, 0]);
/// ```
pub unsafe fn write_msix_entry(table: NonNull<u32>, entry: usize, message: MsiMessage) {
    // SAFETY: the caller's contract: the entry's four words are mapped and
    // ours. The entry is masked (its reset state, or cleared by the
    // writes before) until the last write unmasks it.
    unsafe {
        let words = table.as_ptr().add(entry * MSIX_ENTRY_BYTES / 4);
        words.add(3).write_volatile(1);
        words.write_volatile(message.address as u32);
        words.add(1).write_volatile((message.address >> 32) as u32);
        words.add(2).write_volatile(message.data);
        words.add(3).write_volatile(0);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A zeroed 4 KiB page of host memory standing in for a function's
    /// configuration space, and its first register.
    pub(crate) fn page() -> (ConfigPage, *mut u32) {
        let memory: &'static mut [u32] = Box::leak(vec![0u32; 1024].into_boxed_slice());
        let base = memory.as_mut_ptr();
        // SAFETY: leaked, so mapped forever, and used only through the page.
        let region = unsafe { SharedRegion::new(base.cast(), 4096) }.unwrap();
        (ConfigPage::new(region).unwrap(), base)
    }

    #[test]
    fn registers_are_read_and_written_at_their_offset_whatever_the_function() {
        let (mut config, base) = page();
        let f = DeviceFunction {
            bus: 1,
            device: 2,
            function: 3,
        };
        config.write_word(f, 0x13, 0xdead_beef);
        config.write_word(PAGE_FUNCTION, 0xfc, 7);
        // SAFETY: registers 4 and 63 of the leaked page.
        unsafe {
            assert_eq!(base.add(4).read(), 0xdead_beef);
            assert_eq!(base.add(63).read(), 7);
        }
        assert_eq!(config.read_word(PAGE_FUNCTION, 0x10), 0xdead_beef);
        assert_eq!(config.read_word(f, 0xff), 7);
        assert_eq!(config.read_word(f, 0x14), 0);
    }

    #[test]
    fn the_ids_come_from_the_first_register() {
        let (mut config, _) = page();
        config.write_word(PAGE_FUNCTION, 0, 0x1000_1af4);
        assert_eq!(config.ids(), (0x1af4, 0x1000));
    }

    #[test]
    fn a_page_shorter_than_the_header_or_unaligned_is_refused() {
        let memory: &'static mut [u32] = Box::leak(vec![0u32; 64].into_boxed_slice());
        let base = memory.as_mut_ptr().cast::<u8>();
        // SAFETY: leaked, so mapped forever, and used only through these.
        let (short, odd) = unsafe {
            (
                SharedRegion::new(base, CONFIG_BYTES - 4).unwrap(),
                SharedRegion::new(base.add(1), CONFIG_BYTES - 4).unwrap(),
            )
        };
        assert!(ConfigPage::new(short).is_none());
        assert!(ConfigPage::new(odd).is_none());
    }

    #[test]
    fn the_msix_capability_is_found_through_the_capability_list_and_enabled() {
        let (mut config, base) = page();
        let f = PAGE_FUNCTION;
        config.write_word(f, 0, 0x1042_1af4);
        // Status: a capability list, starting at 0x98.
        config.write_word(f, 4, 0x0010_0000);
        config.write_word(f, 0x34, 0x98);
        // A vendor capability, then MSI-X with 2 entries (control 1),
        // function masked, table at BAR1 offset 0.
        config.write_word(f, 0x98, 0x0010_8409);
        config.write_word(f, 0x84, 0x4001_0011);
        config.write_word(f, 0x88, 0x0000_0001);
        let root = PciRoot::new(config);
        let caps: Vec<(u8, u8)> = root.capabilities(f).map(|c| (c.offset, c.id)).collect();
        assert_eq!(caps, [(0x98, 0x09), (0x84, 0x11)]);
        let msix = Msix::find(&root, &config, f).unwrap();
        assert_eq!((msix.table_bar, msix.table_offset, msix.entries), (1, 0, 2));
        msix.enable(&mut config, f);
        // SAFETY: register 0x84 / 4 of the leaked page.
        assert_eq!(unsafe { base.add(0x84 / 4).read() }, 0x8001_0011);
        // Without a capability list there is no MSI-X.
        config.write_word(f, 4, 0);
        assert_eq!(Msix::find(&root, &config, f), None);
    }

    #[test]
    fn the_msi_capability_takes_one_message_and_is_enabled() {
        let (mut config, base) = page();
        let f = PAGE_FUNCTION;
        config.write_word(f, 4, 0x0010_0000);
        config.write_word(f, 0x34, 0x80);
        // MSI at 0x80: 64-bit capable, 8 messages asked (MMC 3), MME 2 set
        // by someone before; a reserved word above the data.
        config.write_word(f, 0x80, (0x0080 | 0b110 | 0b010_0000) << 16 | 0x05);
        config.write_word(f, 0x8c, 0xabcd_0000);
        let root = PciRoot::new(config);
        assert!(Msix::find(&root, &config, f).is_none());
        let msi = Msi::find(&root, f).unwrap();
        let message = MsiMessage {
            address: 0x1_fee0_0000,
            data: 0x41,
        };
        msi.enable(&mut config, f, message);
        // SAFETY: registers of the leaked page.
        let word = |at: usize| unsafe { base.add(at / 4).read() };
        assert_eq!(word(0x84), 0xfee0_0000);
        assert_eq!(word(0x88), 1, "the address's upper half");
        assert_eq!(word(0x8c), 0xabcd_0041, "the data, the rest kept");
        // Enabled, one message, the capability bits kept.
        assert_eq!(word(0x80) >> 16, 0x0080 | 0b110 | 1);
        // A 32-bit capability: the data right after the address.
        let (mut config, base) = page();
        config.write_word(f, 4, 0x0010_0000);
        config.write_word(f, 0x34, 0x80);
        config.write_word(f, 0x80, 0x05);
        let root = PciRoot::new(config);
        Msi::find(&root, f).unwrap().enable(&mut config, f, message);
        // SAFETY: as above.
        let word = |at: usize| unsafe { base.add(at / 4).read() };
        assert_eq!((word(0x84), word(0x88)), (0xfee0_0000, 0x41));
    }
}
