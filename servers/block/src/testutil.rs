//! Test helpers: a RAM disk and a block server over it.

use crate::Block;
use crate::check::{Disk, SECTOR_SIZE};
use crate::server::BlockServer;
use libcap::rpc::Local;
use libcap::start::SharedRegion;

/// A disk in memory.
pub struct Ram(pub Vec<u8>);

impl Disk for Ram {
    type Error = ();
    fn capacity(&self) -> u64 {
        (self.0.len() / SECTOR_SIZE) as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ()> {
        assert!(!buf.is_empty() && buf.len().is_multiple_of(SECTOR_SIZE));
        let at = sector as usize * SECTOR_SIZE;
        buf.copy_from_slice(&self.0[at..at + buf.len()]);
        Ok(())
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), ()> {
        assert!(!buf.is_empty() && buf.len().is_multiple_of(SECTOR_SIZE));
        let at = sector as usize * SECTOR_SIZE;
        self.0[at..at + buf.len()].copy_from_slice(buf);
        Ok(())
    }
}

/// A server over a 64-sector RAM disk with an 8-sector bounce buffer
/// and a 16-sector region; the client's view of the region.
pub fn server() -> (Local<BlockServer<'static, Ram>>, SharedRegion) {
    let memory: &'static mut [u8] = Vec::leak(vec![0; 16 * SECTOR_SIZE]);
    let bounce: &'static mut [u8] = Vec::leak(vec![0; 8 * SECTOR_SIZE + 100]);
    // SAFETY: leaked, so mapped for the rest of the program; the
    // server uses it during calls, the test between them.
    let (server_side, client_side) = unsafe {
        (
            SharedRegion::new(memory.as_mut_ptr(), memory.len()).expect("not null"),
            SharedRegion::new(memory.as_mut_ptr(), memory.len()).expect("not null"),
        )
    };
    let mut disk = Ram(vec![0; 64 * SECTOR_SIZE]);
    disk.0[..4].copy_from_slice(b"BSLT");
    (
        Local::new(
            BlockServer::new(disk, bounce, Some(server_side)),
            BlockServer::rpc_dispatch,
        ),
        client_side,
    )
}
