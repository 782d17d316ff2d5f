//! `block_api::disk`'s tests, against this server over a RAM disk
//! (`testutil`).

use crate::client::Rings;
use crate::disk::*;
use crate::testutil::{DATA_SECTORS, DISK_SECTORS, server};
use crate::{BlockClient, Request};
use libcap::start::SharedRegion;

#[test]
fn transfers_larger_than_the_data_area_are_split_into_batches() {
    let (local, region, ram) = server();
    let mut disk = Disk::open(BlockClient::new(&local), region).unwrap();
    assert_eq!(disk.sectors(), DISK_SECTORS);
    // 150 sectors: batches of 64 (the data area), 64 and 22.
    const { assert!(DATA_SECTORS < 150) };
    let data: Vec<u8> = (0..150 * SECTOR).map(|i| (i / 7) as u8).collect();
    disk.write(3, &data).unwrap();
    disk.flush().unwrap();
    let mut back = vec![0; 152 * SECTOR];
    disk.read(2, &mut back).unwrap();
    assert!(back[..SECTOR].iter().all(|&b| b == 0));
    assert_eq!(&back[SECTOR..151 * SECTOR], &data[..]);
    assert!(back[151 * SECTOR..].iter().all(|&b| b == 0));
    assert_eq!(ram.borrow().durable[3 * SECTOR..153 * SECTOR], data[..]);
}

#[test]
fn write_and_flush_makes_the_data_durable_in_one_batch() {
    let (local, region, ram) = server();
    let mut disk = Disk::open(BlockClient::new(&local), region).unwrap();
    disk.write(0, &[7; 4 * SECTOR]).unwrap();
    assert_eq!(ram.borrow().durable[0], 0, "written, not flushed");
    disk.write_and_flush(10, &[9; 2 * SECTOR]).unwrap();
    let ram = ram.borrow();
    assert_eq!(ram.durable[0], 7, "written before the flush");
    assert_eq!(ram.durable[10 * SECTOR], 9);
    assert_eq!(ram.flushes_with_others_in_flight, 0);
}

#[test]
fn a_large_transfer_is_several_requests_in_flight() {
    let (local, region, ram) = server();
    let mut disk = Disk::open(BlockClient::new(&local), region).unwrap();
    disk.write(0, &vec![1; DATA_SECTORS * SECTOR]).unwrap();
    assert_eq!(ram.borrow().max_in_flight, DATA_SECTORS / CHUNK_SECTORS);
    const { assert!(DATA_SECTORS / CHUNK_SECTORS >= 2) };
}

#[test]
fn bad_requests_fail_before_reaching_the_server() {
    let (local, region, _ram) = server();
    let mut disk = Disk::open(BlockClient::new(&local), region).unwrap();
    assert_eq!(disk.write(0, &[1; 100]), Err(DiskError::PartialSector));
    assert_eq!(
        disk.read(DISK_SECTORS - 1, &mut [0; 1024]),
        Err(DiskError::OutOfRange)
    );
    assert_eq!(
        disk.read(u64::MAX, &mut [0; 512]),
        Err(DiskError::OutOfRange)
    );
    assert_eq!(disk.write(DISK_SECTORS, &[]), Ok(()));
}

#[test]
fn device_errors_are_io_errors() {
    let (local, region, ram) = server();
    let mut disk = Disk::open(BlockClient::new(&local), region).unwrap();
    ram.borrow_mut().fail = Some(5);
    assert_eq!(disk.read(4, &mut [0; 4 * SECTOR]), Err(DiskError::Io));
    assert_eq!(disk.read(6, &mut [0; 4 * SECTOR]), Ok(()));
}

#[test]
fn open_completes_what_a_previous_client_left_in_the_rings() {
    let (local, region, _ram) = server();
    // SAFETY: the same leaked memory as `region`; the first client is
    // gone (dropped) before the second attaches.
    let again = unsafe { SharedRegion::new(region.as_ptr(), region.len()) }.unwrap();
    {
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        for i in 0..10 {
            rings.push(Request::read(1000 + i, i, 1, 0)).unwrap();
        }
        rings.submit().unwrap();
        rings.push(Request::read(2000, 0, 1, 0)).unwrap();
    }
    let mut disk = Disk::open(BlockClient::new(&local), again).unwrap();
    disk.write(1, &[3; SECTOR]).unwrap();
    let mut back = [0; SECTOR];
    disk.read(1, &mut back).unwrap();
    assert_eq!(back, [3; SECTOR]);
}
