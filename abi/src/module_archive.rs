//! The module archive: a system's boot modules in one file, for a loader
//! that passes a single one. QEMU's direct boot (`-kernel` with the
//! kernel entered through its PVH note, `-initrd` the archive) passes one
//! initrd; GRUB loads each module on its own and needs no archive.
//!
//! Layout (integers little-endian), the header in the first page:
//!
//! | offset | bytes | field |
//! | --- | ---: | --- |
//! | 0 | 8 | [`MAGIC`] |
//! | 8 | 4 | number of modules, at most [`MAX_MODULES`] |
//! | 12 | 4 | zero |
//! | 16 + 64 i | 8 | module i's offset from the archive's start: a multiple of [`PAGE`], past the header |
//! | 24 + 64 i | 8 | module i's length in bytes |
//! | 32 + 64 i | 48 | module i's name (what GRUB's `module2` line gives it): UTF-8, NUL-padded |
//!
//! Every module starts on a page of its own, so that a loader that puts
//! the archive on a page boundary (QEMU does) puts each module on one, as
//! GRUB does: the kernel hands the modules to the root task as frames.
//! [`header`] writes the header, [`entries`] reads it back; the layout
//! is [`offsets`]'.

/// The archive's first bytes.
pub const MAGIC: [u8; 8] = *b"BSLTMODS";
/// Page size: the header's size and every module's alignment.
pub const PAGE: u64 = 4096;
/// Bytes before the first entry: magic, count, padding.
const FIXED: usize = 16;
/// Bytes of one entry: offset, length, name.
const ENTRY: usize = 64;
/// Bytes of a name field.
pub const NAME_BYTES: usize = 48;
/// Most modules the header page holds.
pub const MAX_MODULES: usize = (PAGE as usize - FIXED) / ENTRY;

/// Why an archive (or a header asked for) is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveError {
    /// Shorter than its header page.
    TooShort,
    /// It does not start with [`MAGIC`].
    BadMagic,
    /// More modules than the header holds.
    TooManyModules(usize),
    /// Module `index` does not start on a page boundary past the header.
    Misplaced { index: usize },
    /// Module `index` runs past the end of the archive.
    OutOfBounds { index: usize },
    /// Module `index`'s name is not UTF-8 (reading), or longer than
    /// [`NAME_BYTES`] or holding a NUL (writing).
    BadName { index: usize },
}

/// One module of an archive: its name and where its bytes lie, from the
/// archive's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub offset: u64,
    pub len: u64,
}

/// Where the module after one at `offset` of `len` bytes starts: the
/// first page boundary at or after its end (the first module's is
/// `next_offset(0, PAGE)`, the page after the header).
const fn next_offset(offset: u64, len: u64) -> u64 {
    (offset + len).div_ceil(PAGE) * PAGE
}

/// Where the modules of `lens` bytes start, in order: the layout
/// [`header`] writes and a writer puts the modules' bytes at.
pub fn offsets(lens: impl IntoIterator<Item = u64>) -> impl Iterator<Item = u64> {
    lens.into_iter().scan(next_offset(0, PAGE), |next, len| {
        let at = *next;
        *next = next_offset(at, len);
        Some(at)
    })
}

/// The modules of `archive`, every entry checked before any is returned.
pub fn entries(archive: &[u8]) -> Result<Entries<'_>, ArchiveError> {
    let header = archive.get(..PAGE as usize).ok_or(ArchiveError::TooShort)?;
    if header[..8] != MAGIC {
        return Err(ArchiveError::BadMagic);
    }
    let count = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) as usize;
    if count > MAX_MODULES {
        return Err(ArchiveError::TooManyModules(count));
    }
    let entries = Entries {
        archive,
        count,
        next: 0,
    };
    for index in 0..count {
        entries.decode(index)?;
    }
    Ok(entries)
}

/// Writes the header page of an archive of `modules` (name, length in
/// bytes) to `page`; module i's bytes go at the offset its entry names.
pub fn header(modules: &[(&str, u64)], page: &mut [u8; PAGE as usize]) -> Result<(), ArchiveError> {
    if modules.len() > MAX_MODULES {
        return Err(ArchiveError::TooManyModules(modules.len()));
    }
    page.fill(0);
    page[..8].copy_from_slice(&MAGIC);
    page[8..12].copy_from_slice(&(modules.len() as u32).to_le_bytes());
    let starts = offsets(modules.iter().map(|&(_, len)| len));
    for (index, (&(name, len), offset)) in modules.iter().zip(starts).enumerate() {
        if name.len() > NAME_BYTES || name.contains('\0') {
            return Err(ArchiveError::BadName { index });
        }
        let at = FIXED + index * ENTRY;
        page[at..at + 8].copy_from_slice(&offset.to_le_bytes());
        page[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
        page[at + 16..at + 16 + name.len()].copy_from_slice(name.as_bytes());
    }
    Ok(())
}

/// The checked entries of an archive, in order.
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    archive: &'a [u8],
    count: usize,
    next: usize,
}

impl<'a> Entries<'a> {
    /// Entry `index` (below `count`), checked against the archive.
    fn decode(&self, index: usize) -> Result<Entry<'a>, ArchiveError> {
        let at = FIXED + index * ENTRY;
        let field = |from: usize| {
            u64::from_le_bytes(self.archive[from..from + 8].try_into().expect("8 bytes"))
        };
        let (offset, len) = (field(at), field(at + 8));
        if offset < PAGE || offset % PAGE != 0 {
            return Err(ArchiveError::Misplaced { index });
        }
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.archive.len() as u64)
        {
            return Err(ArchiveError::OutOfBounds { index });
        }
        let raw = &self.archive[at + 16..at + 16 + NAME_BYTES];
        let used = raw.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
        let name =
            core::str::from_utf8(&raw[..used]).map_err(|_| ArchiveError::BadName { index })?;
        Ok(Entry { name, offset, len })
    }

    /// The module's bytes, for an entry of this archive.
    pub fn bytes(&self, entry: &Entry<'_>) -> &'a [u8] {
        &self.archive[entry.offset as usize..(entry.offset + entry.len) as usize]
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.next == self.count {
            return None;
        }
        let entry = self.decode(self.next).ok()?;
        self.next += 1;
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// An archive of `modules` as a writer lays it out.
    fn archive(modules: &[(&str, &[u8])]) -> Vec<u8> {
        let sizes: Vec<(&str, u64)> = modules.iter().map(|(n, b)| (*n, b.len() as u64)).collect();
        let mut page = [0u8; PAGE as usize];
        header(&sizes, &mut page).unwrap();
        let mut out = page.to_vec();
        for ((_, bytes), at) in modules.iter().zip(offsets(sizes.iter().map(|s| s.1))) {
            out.resize(at as usize, 0);
            out.extend_from_slice(bytes);
        }
        out
    }

    #[test]
    fn what_is_written_reads_back_page_aligned() {
        let a = [7u8; 5000];
        let modules: [(&str, &[u8]); 3] = [("roottask", &a), ("manifest", b"m"), ("bin/net", b"")];
        let bytes = archive(&modules);
        let entries = entries(&bytes).unwrap();
        let read: Vec<_> = entries.clone().collect();
        assert_eq!(read.len(), 3);
        for (entry, (name, data)) in read.iter().zip(modules) {
            assert_eq!(entry.name, name);
            assert_eq!(entries.bytes(entry), data);
            assert_eq!(entry.offset % PAGE, 0);
        }
        assert_eq!(read[0].offset, PAGE);
        assert_eq!(read[1].offset, 3 * PAGE);
    }

    #[test]
    fn a_name_may_fill_its_field() {
        let long = "n".repeat(NAME_BYTES);
        let bytes = archive(&[(&long, b"x")]);
        assert_eq!(entries(&bytes).unwrap().next().unwrap().name, long);
        let mut page = [0u8; PAGE as usize];
        let longer = "n".repeat(NAME_BYTES + 1);
        assert_eq!(
            header(&[(&longer, 1)], &mut page),
            Err(ArchiveError::BadName { index: 0 })
        );
        assert_eq!(
            header(&[("a", 1), ("b\0", 1)], &mut page),
            Err(ArchiveError::BadName { index: 1 })
        );
    }

    #[test]
    fn hostile_headers_are_refused() {
        let good = archive(&[("a", b"abc"), ("b", b"def")]);
        let entry = |i: usize| FIXED + i * ENTRY;
        let with = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            b
        };
        assert_eq!(entries(&good[..100]).err(), Some(ArchiveError::TooShort));
        assert_eq!(
            entries(&with(0, b"BSLTMODX")).err(),
            Some(ArchiveError::BadMagic)
        );
        assert_eq!(
            entries(&with(8, &64u32.to_le_bytes())).err(),
            Some(ArchiveError::TooManyModules(64))
        );
        for offset in [0, 100, PAGE + 1] {
            assert_eq!(
                entries(&with(entry(1), &offset.to_le_bytes())).err(),
                Some(ArchiveError::Misplaced { index: 1 })
            );
        }
        for len in [2 * PAGE, u64::MAX - PAGE] {
            assert_eq!(
                entries(&with(entry(0) + 8, &len.to_le_bytes())).err(),
                Some(ArchiveError::OutOfBounds { index: 0 })
            );
        }
        assert_eq!(
            entries(&with(entry(1) + 16, &[0xff])).err(),
            Some(ArchiveError::BadName { index: 1 })
        );
        // A count of zero is an empty archive, not an error.
        let none = with(8, &0u32.to_le_bytes());
        assert_eq!(entries(&none).unwrap().count(), 0);
    }
}
