//! DMA memory: a page pool over one physically contiguous region (a
//! shared region that only this component uses), and [`VirtioHal`], the
//! [`Hal`] the virtio driver allocates its queues and shares its buffers
//! through.
//!
//! The driver's own allocations (the virtqueue, the request headers) come
//! from the pool. A buffer it shares with the device is used in place when
//! it lies in the region or in a DMA window added with [`add_dma_window`]
//! (the client's data area, a region the server shares), else copied
//! through a bounce buffer from the pool: the device sees only physical
//! addresses inside memory this component owns or shares.

use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// Most pages a pool manages (4 MiB); a larger region is used up to this.
pub const MAX_PAGES: usize = 1024;

/// Pages of a physically contiguous region, handed out first-fit.
#[derive(Debug)]
pub struct PagePool {
    virt: usize,
    phys: u64,
    pages: usize,
    used: [u64; MAX_PAGES / 64],
}

impl PagePool {
    /// A pool over `len` bytes at virtual `virt`, physical `phys` (both
    /// page-aligned; whole pages only, at most [`MAX_PAGES`]).
    ///
    /// ```
    /// let pool = virtio_pci::dma::PagePool::new(0x2000_0000_0000, 0x10_0000, 64 * 1024);
    /// assert_eq!(pool.free_pages(), 16);
    /// ```
    pub fn new(virt: usize, phys: u64, len: usize) -> Self {
        Self {
            virt,
            phys,
            pages: (len / PAGE_SIZE).min(MAX_PAGES),
            used: [0; MAX_PAGES / 64],
        }
    }

    fn is_used(&self, page: usize) -> bool {
        self.used[page / 64] & 1 << (page % 64) != 0
    }

    fn set(&mut self, first: usize, count: usize, used: bool) {
        for p in first..first + count {
            if used {
                self.used[p / 64] |= 1 << (p % 64);
            } else {
                self.used[p / 64] &= !(1 << (p % 64));
            }
        }
    }

    /// Pages not handed out.
    pub fn free_pages(&self) -> usize {
        (0..self.pages).filter(|&p| !self.is_used(p)).count()
    }

    /// `count` contiguous pages: their physical and virtual addresses.
    ///
    /// ```
    /// let mut pool = virtio_pci::dma::PagePool::new(0x1000_0000, 0x20_0000, 4 * 4096);
    /// assert_eq!(pool.alloc(2), Some((0x20_0000, 0x1000_0000)));
    /// assert_eq!(pool.alloc(2), Some((0x20_2000, 0x1000_2000)));
    /// assert_eq!(pool.alloc(1), None);
    /// ```
    pub fn alloc(&mut self, count: usize) -> Option<(u64, usize)> {
        if count == 0 {
            return None;
        }
        let mut run = 0;
        for p in 0..self.pages {
            if self.is_used(p) {
                run = 0;
                continue;
            }
            run += 1;
            if run == count {
                let first = p + 1 - count;
                self.set(first, count, true);
                let offset = first * PAGE_SIZE;
                return Some((self.phys + offset as u64, self.virt + offset));
            }
        }
        None
    }

    /// Returns `count` pages from physical `phys`; false (and nothing
    /// freed) if they are not all handed out pages of this pool.
    pub fn free(&mut self, phys: u64, count: usize) -> bool {
        let Some(offset) = phys.checked_sub(self.phys) else {
            return false;
        };
        if !offset.is_multiple_of(PAGE_SIZE as u64) {
            return false;
        }
        let first = (offset / PAGE_SIZE as u64) as usize;
        if count == 0
            || first + count > self.pages
            || (first..first + count).any(|p| !self.is_used(p))
        {
            return false;
        }
        self.set(first, count, false);
        true
    }

    /// Whether `virt..virt + len` lies inside the pool's region.
    pub fn contains_virt(&self, virt: usize, len: usize) -> bool {
        virt >= self.virt && virt.saturating_add(len) <= self.virt + self.pages * PAGE_SIZE
    }

    /// The physical address of virtual `virt` inside the region.
    pub fn phys_of(&self, virt: usize) -> u64 {
        self.phys + (virt - self.virt) as u64
    }

    /// The virtual address of physical `phys` inside the region, if
    /// `phys..phys + len` is.
    pub fn virt_of(&self, phys: u64, len: usize) -> Option<usize> {
        let offset = usize::try_from(phys.checked_sub(self.phys)?).ok()?;
        (offset.checked_add(len)? <= self.pages * PAGE_SIZE).then_some(self.virt + offset)
    }
}

/// A mapped memory window of a device (a PCI BAR): physical, virtual, length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Its physical address.
    pub phys: u64,
    /// Where it is mapped.
    pub virt: usize,
    /// Its length in bytes.
    pub len: usize,
}

/// Most device windows [`VirtioHal`] translates (a PCI function has six BARs).
pub const MAX_WINDOWS: usize = 6;

struct State {
    pool: Option<PagePool>,
    /// Device memory (BARs) the driver maps registers from.
    windows: [Option<Window>; MAX_WINDOWS],
    /// Memory outside the pool the device may reach in place.
    dma_windows: [Option<Window>; MAX_WINDOWS],
}

impl State {
    /// The physical address of `virt..virt + len` if the device may use
    /// it in place: inside the pool or one DMA window.
    fn in_place(&self, virt: usize, len: usize) -> Option<u64> {
        if let Some(pool) = &self.pool
            && pool.contains_virt(virt, len)
        {
            return Some(pool.phys_of(virt));
        }
        self.dma_windows.iter().flatten().find_map(|w| {
            let offset = virt.checked_sub(w.virt)?;
            (offset.checked_add(len)? <= w.len).then_some(w.phys + offset as u64)
        })
    }
}

/// A spin lock: the component has one thread, so it never spins; it keeps
/// the global state sound all the same.
struct Locked(AtomicBool, UnsafeCell<State>);

// SAFETY: the state is reached only through `with`, which holds the lock.
unsafe impl Sync for Locked {}

static STATE: Locked = Locked(
    AtomicBool::new(false),
    UnsafeCell::new(State {
        pool: None,
        windows: [None; MAX_WINDOWS],
        dma_windows: [None; MAX_WINDOWS],
    }),
);

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    while STATE
        .0
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    // SAFETY: the lock is held, so this is the only reference.
    let r = f(unsafe { &mut *STATE.1.get() });
    STATE.0.store(false, Ordering::Release);
    r
}

/// Gives [`VirtioHal`] its DMA region: `len` bytes mapped read-write at
/// `virt`, physically contiguous from `phys`.
///
/// # Safety
///
/// The memory is mapped for the rest of the program, nothing else uses it,
/// and the device may write it at any physical address inside it.
pub unsafe fn set_dma_region(virt: *mut u8, phys: u64, len: usize) {
    with(|s| s.pool = Some(PagePool::new(virt as usize, phys, len)));
}

/// Adds a device window [`VirtioHal::mmio_phys_to_virt`] translates into;
/// false if all [`MAX_WINDOWS`] are taken.
///
/// # Safety
///
/// The window is mapped (uncached) for the rest of the program and only
/// the driver uses it.
pub unsafe fn add_window(window: Window) -> bool {
    with(|s| match s.windows.iter_mut().find(|w| w.is_none()) {
        Some(slot) => {
            *slot = Some(window);
            true
        }
        None => false,
    })
}

/// Adds memory outside the DMA region that the device may read and write
/// in place (a shared region's data area); false if all [`MAX_WINDOWS`]
/// are taken.
///
/// # Safety
///
/// `window.virt..+len` is mapped read-write for the rest of the program,
/// physically contiguous from `window.phys`, and the device may write any
/// of it that a buffer shared with it covers.
pub unsafe fn add_dma_window(window: Window) -> bool {
    with(|s| match s.dma_windows.iter_mut().find(|w| w.is_none()) {
        Some(slot) => {
            *slot = Some(window);
            true
        }
        None => false,
    })
}

/// Where physical `phys..phys + len` is mapped, if one device window
/// added with [`add_window`] holds all of it.
pub fn window_virt(phys: u64, len: usize) -> Option<usize> {
    with(|s| {
        s.windows.iter().flatten().find_map(|w| {
            let offset = usize::try_from(phys.checked_sub(w.phys)?).ok()?;
            (offset.checked_add(len)? <= w.len).then_some(w.virt + offset)
        })
    })
}

/// The physical address of `virt..virt + len` if the device may use it in
/// place (inside the DMA region or one DMA window, all of it): what a
/// driver that describes buffers itself (NVMe's PRP entries) needs.
pub fn phys_in_place(virt: usize, len: usize) -> Option<u64> {
    with(|s| s.in_place(virt, len))
}

/// Free pages left in the DMA pool (0 before [`set_dma_region`]).
pub fn free_dma_pages() -> usize {
    with(|s| s.pool.as_ref().map_or(0, PagePool::free_pages))
}

/// The driver's view of this component's memory: DMA from the region,
/// BARs through the device windows.
#[derive(Debug)]
pub struct VirtioHal;

fn pages_for(len: usize) -> usize {
    len.div_ceil(PAGE_SIZE).max(1)
}

// SAFETY: `dma_alloc` hands out zeroed, page-aligned, unaliased pages of
// the region (the pool marks them used until `dma_dealloc`);
// `mmio_phys_to_virt` returns addresses inside a mapped device window that
// only the driver uses; `share` returns the physical address of memory
// that holds the buffer's contents (the buffer itself or a bounce copy)
// for the device.
unsafe impl Hal for VirtioHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let (phys, virt) = with(|s| s.pool.as_mut().and_then(|p| p.alloc(pages)))
            .unwrap_or_else(|| panic!("DMA region exhausted: {pages} pages wanted"));
        let ptr = NonNull::new(virt as *mut u8).expect("the region is not at 0");
        // SAFETY: the pages are mapped read-write (set_dma_region's
        // contract) and now handed out to no one else.
        unsafe { ptr.as_ptr().write_bytes(0, pages * PAGE_SIZE) };
        (phys, ptr)
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        if with(|s| s.pool.as_mut().is_some_and(|p| p.free(paddr, pages))) {
            0
        } else {
            -1
        }
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        let virt = window_virt(paddr, size).unwrap_or_else(|| {
            panic!("MMIO {paddr:#x}+{size:#x} is in no device memory this component was granted")
        });
        NonNull::new(virt as *mut u8).expect("windows are not at 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let len = buffer.len();
        let virt = buffer.cast::<u8>().as_ptr() as usize;
        if let Some(phys) = with(|s| s.in_place(virt, len)) {
            return phys;
        }
        let (phys, bounce) = Self::dma_alloc(pages_for(len), direction);
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: `buffer` is valid for `len` bytes (share's contract)
            // and the bounce pages hold at least `len` bytes of their own.
            unsafe {
                core::ptr::copy_nonoverlapping(buffer.cast::<u8>().as_ptr(), bounce.as_ptr(), len)
            };
        }
        phys
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let len = buffer.len();
        let virt = buffer.cast::<u8>().as_ptr() as usize;
        let bounce = with(|s| {
            if s.in_place(virt, len).is_some() {
                return None;
            }
            s.pool.as_ref()?.virt_of(paddr, len)
        });
        let Some(bounce) = bounce else {
            return; // used in place
        };
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: the bounce buffer `share` made holds `len` bytes and
            // `buffer` is valid for them (unshare's contract).
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bounce as *const u8,
                    buffer.cast::<u8>().as_ptr(),
                    len,
                )
            };
        }
        // SAFETY: `share` allocated these pages for this buffer.
        let freed = unsafe {
            Self::dma_dealloc(
                paddr,
                NonNull::new(bounce as *mut u8).expect("not at 0"),
                pages_for(len),
            )
        };
        debug_assert_eq!(freed, 0, "bounce buffer at {paddr:#x} was not allocated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_handed_out_first_fit_and_freed() {
        let mut pool = PagePool::new(0x10_000, 0x80_000, 8 * PAGE_SIZE);
        let a = pool.alloc(3).unwrap();
        let b = pool.alloc(2).unwrap();
        assert_eq!(a, (0x80_000, 0x10_000));
        assert_eq!(b, (0x83_000, 0x13_000));
        assert!(pool.free(a.0, 3));
        assert!(!pool.free(a.0, 3), "freed twice");
        assert!(!pool.free(0x83_800, 1), "unaligned");
        assert_eq!(pool.alloc(4), None);
        assert_eq!(pool.alloc(3), Some((0x80_000, 0x10_000)));
        assert_eq!(pool.free_pages(), 3);
    }

    #[test]
    fn addresses_translate_only_inside_the_region() {
        let pool = PagePool::new(0x10_000, 0x80_000, 2 * PAGE_SIZE);
        assert!(pool.contains_virt(0x10_ff0, 0x20));
        assert!(!pool.contains_virt(0x11_ff0, 0x20));
        assert_eq!(pool.phys_of(0x11_010), 0x81_010);
        assert_eq!(pool.virt_of(0x81_000, PAGE_SIZE), Some(0x11_000));
        assert_eq!(pool.virt_of(0x81_001, PAGE_SIZE), None);
        assert_eq!(pool.virt_of(0x7f_000, 1), None);
    }

    /// The one test of the global state: a bounce buffer round trip and
    /// a window lookup.
    #[test]
    fn buffers_outside_the_region_go_through_bounce_pages() {
        let region: &'static mut [u64] =
            Box::leak(vec![0u64; 4 * PAGE_SIZE / 8].into_boxed_slice());
        let base = region.as_mut_ptr().cast::<u8>();
        // SAFETY: leaked memory that only this test uses.
        unsafe { set_dma_region(base, 0x40_0000, 4 * PAGE_SIZE) };
        let mut data = *b"request header!!";
        let ptr = NonNull::from(&mut data[..]);
        // SAFETY: `data` is a live buffer.
        let phys = unsafe { VirtioHal::share(ptr, BufferDirection::Both) };
        assert_eq!(free_dma_pages(), 3);
        let bounce = (phys - 0x40_0000) as usize;
        // SAFETY: inside the leaked region.
        unsafe {
            assert_eq!(*base.add(bounce), b'r');
            *base.add(bounce) = b'R';
        }
        // SAFETY: as above; `phys` came from `share`.
        unsafe { VirtioHal::unshare(phys, ptr, BufferDirection::Both) };
        assert_eq!(&data, b"Request header!!");
        assert_eq!(free_dma_pages(), 4);

        // A buffer inside the region is used in place.
        // SAFETY: inside the leaked region, which is live.
        let inside =
            NonNull::slice_from_raw_parts(NonNull::new(unsafe { base.add(0x1010) }).unwrap(), 16);
        // SAFETY: as above.
        let phys = unsafe { VirtioHal::share(inside, BufferDirection::DeviceToDriver) };
        assert_eq!(phys, 0x40_1010);
        assert_eq!(free_dma_pages(), 4);

        // A buffer in a DMA window is used in place too.
        let outside: &'static mut [u8] = Vec::leak(vec![0; 64]);
        // SAFETY: leaked memory, given a made-up physical address.
        assert!(unsafe {
            add_dma_window(Window {
                phys: 0x9000_0000,
                virt: outside.as_ptr() as usize,
                len: 64,
            })
        });
        let in_window = NonNull::from(&mut outside[16..48]);
        // SAFETY: a live buffer.
        let phys = unsafe { VirtioHal::share(in_window, BufferDirection::DeviceToDriver) };
        assert_eq!(phys, 0x9000_0010);
        assert_eq!(free_dma_pages(), 4);
        // SAFETY: as above; nothing to copy back.
        unsafe { VirtioHal::unshare(phys, in_window, BufferDirection::DeviceToDriver) };
        assert_eq!(free_dma_pages(), 4);
        // SAFETY: a fake window; only translated, never touched.
        assert!(unsafe {
            add_window(Window {
                phys: 0xfe00_0000,
                virt: 0x5000_0000,
                len: 0x4000,
            })
        });
        // SAFETY: inside the window.
        let v = unsafe { VirtioHal::mmio_phys_to_virt(0xfe00_3000, 0x1000) };
        assert_eq!(v.as_ptr() as usize, 0x5000_3000);
        assert_eq!(window_virt(0xfe00_3000, 0x1001), None);
        assert_eq!(window_virt(0xe0_0000_0000, 0x1000), None);
    }
}
