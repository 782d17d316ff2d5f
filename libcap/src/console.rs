//! Formatted output to the kernel's debug console, without a heap:
//! [`print!`](crate::print) and [`println!`](crate::println) format into a
//! [`CHUNK`]-byte buffer on the stack and hand it to
//! [`debug_write`](crate::syscall::debug_write) each time it fills, and once
//! more at the end. Output shorter than a chunk therefore reaches the
//! console in one piece; longer output may interleave with other threads'.
//!
//! ```no_run
//! libcap::println!("{} components started", 3);
//! libcap::print!("no newline");
//! ```

use core::fmt;

/// Bytes the print macros collect before each system call.
///
/// ```
/// assert_eq!(libcap::console::CHUNK, 256);
/// ```
pub const CHUNK: usize = 256;

/// A [`fmt::Write`] that collects up to `N` bytes and passes them to `sink`
/// whenever the buffer is full and on [`flush`](Self::flush). Dropping it
/// does not flush.
///
/// ```
/// use core::fmt::Write;
/// let mut out = Vec::new();
/// let mut w = libcap::console::BufferedWriter::<4, _>::new(|c: &[u8]| out.push(c.to_vec()));
/// write!(w, "abcdef").unwrap();
/// w.flush();
/// drop(w);
/// assert_eq!(out, [b"abcd".to_vec(), b"ef".to_vec()]);
/// ```
pub struct BufferedWriter<const N: usize, F: FnMut(&[u8])> {
    buf: [u8; N],
    len: usize,
    sink: F,
}

impl<const N: usize, F: FnMut(&[u8])> BufferedWriter<N, F> {
    /// An empty writer that sends its chunks to `sink`.
    ///
    /// ```
    /// let w = libcap::console::BufferedWriter::<16, _>::new(|_: &[u8]| {});
    /// # let _ = w;
    /// ```
    pub const fn new(sink: F) -> Self {
        Self {
            buf: [0; N],
            len: 0,
            sink,
        }
    }

    /// Adds `bytes`, passing each full buffer to the sink.
    ///
    /// ```
    /// let mut n = 0;
    /// let mut w = libcap::console::BufferedWriter::<2, _>::new(|c: &[u8]| n += c.len());
    /// w.write_bytes(b"abc");
    /// w.flush();
    /// drop(w);
    /// assert_eq!(n, 3);
    /// ```
    pub fn write_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = (N - self.len).min(bytes.len());
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if self.len == N {
                self.flush();
            }
        }
    }

    /// Passes what the buffer holds to the sink, if anything.
    ///
    /// ```
    /// let mut chunks = 0;
    /// let mut w = libcap::console::BufferedWriter::<8, _>::new(|_: &[u8]| chunks += 1);
    /// w.write_bytes(b"x");
    /// w.flush();
    /// w.flush(); // nothing left: no call
    /// drop(w);
    /// assert_eq!(chunks, 1);
    /// ```
    pub fn flush(&mut self) {
        if self.len > 0 {
            (self.sink)(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<const N: usize, F: FnMut(&[u8])> fmt::Write for BufferedWriter<N, F> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Formats `args` to the debug console; what [`print!`](crate::print) and
/// [`println!`](crate::println) expand to. Console errors are ignored:
/// there is nowhere to report them.
///
/// ```no_run
/// libcap::console::print(format_args!("{} + {} = {}\n", 1, 2, 3));
/// ```
pub fn print(args: fmt::Arguments<'_>) {
    let mut w = BufferedWriter::<CHUNK, _>::new(|chunk: &[u8]| {
        let _ = crate::syscall::debug_write(chunk);
    });
    let _ = fmt::Write::write_fmt(&mut w, args);
    w.flush();
}

/// Prints to the kernel's debug console, like `std::print!`.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::print(::core::format_args!($($arg)*))
    };
}

/// Prints to the kernel's debug console with a newline, like
/// `std::println!`. The line and its newline go out in one system call
/// when the whole line fits in [`CHUNK`](crate::console::CHUNK) bytes.
#[macro_export]
macro_rules! println {
    () => {
        $crate::console::print(::core::format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::print(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    fn chunks_of<const N: usize>(f: impl FnOnce(&mut dyn Write)) -> Vec<Vec<u8>> {
        let mut chunks = Vec::new();
        let mut w = BufferedWriter::<N, _>::new(|c: &[u8]| chunks.push(c.to_vec()));
        f(&mut w);
        w.flush();
        chunks
    }

    #[test]
    fn short_output_goes_out_in_one_chunk() {
        let chunks = chunks_of::<16>(|w| writeln!(w, "ok   {}", 7).unwrap());
        assert_eq!(chunks, vec![b"ok   7\n".to_vec()]);
    }

    #[test]
    fn long_output_is_split_into_full_chunks_then_the_rest() {
        let chunks = chunks_of::<4>(|w| w.write_str("abcdefghij").unwrap());
        assert_eq!(
            chunks,
            vec![b"abcd".to_vec(), b"efgh".to_vec(), b"ij".to_vec()]
        );
    }

    #[test]
    fn pieces_are_collected_across_writes_and_an_exact_fill_flushes_once() {
        let chunks = chunks_of::<4>(|w| {
            w.write_str("ab").unwrap();
            w.write_str("cd").unwrap();
        });
        assert_eq!(chunks, vec![b"abcd".to_vec()]);
    }

    #[test]
    fn nothing_written_means_no_chunk() {
        assert!(chunks_of::<4>(|_| {}).is_empty());
    }

    #[test]
    fn formatting_of_numbers_survives_a_chunk_boundary() {
        let chunks = chunks_of::<3>(|w| write!(w, "{:#x}", 0xdead_beef_u32).unwrap());
        assert_eq!(chunks.concat(), b"0xdeadbeef");
        assert!(chunks.iter().all(|c| c.len() <= 3));
    }
}
