//! The benchmarks, each a warm-up of [`WARMUP`] untimed rounds and then
//! [`ITERATIONS`] timed ones, and the `bench:` lines that report them.

use crate::child::{self, Child, shared};
use crate::measure::{overhead, stamped_syscall, timed_syscall};
use core::cell::UnsafeCell;
use core::fmt;
use libcap::abi::{MessageInfo, REGISTER_WORDS, Syscall};
use libcap::bench::Summary;
use libcap::{BootInfo, Error, ipc_buffer, println, syscall};

/// Timed rounds per benchmark.
pub const ITERATIONS: usize = 100_000;
/// Untimed rounds before them: caches, TLB and (under QEMU) translated
/// code are warm when timing starts.
pub const WARMUP: usize = 10_000;
/// Yields the root task makes while waiting for the waiter to wake before
/// it calls the wake-up lost.
const PATIENCE: u32 = 1000;
/// The label of the benchmark's messages (the server echoes it).
const LABEL: u64 = 0xbe;

const CALL: u64 = Syscall::Call as u64;
const SEND: u64 = Syscall::Send as u64;
const NULL: u64 = Syscall::Null as u64;

/// The samples of the benchmark being run: 400 KB in `.bss`, reused by
/// every benchmark.
struct SampleBuffer(UnsafeCell<[u32; ITERATIONS]>);

// SAFETY: the root task is the only thread of this program, and `run`
// takes the one mutable reference to the buffer.
unsafe impl Sync for SampleBuffer {}

static SAMPLES: SampleBuffer = SampleBuffer(UnsafeCell::new([0; ITERATIONS]));

/// Why a benchmark stopped.
enum Failure {
    /// One of the benchmark's own system calls failed.
    Syscall(&'static str, u64),
    /// A partner thread stopped on this error (see `child`).
    Partner(&'static str, u64),
    /// The kernel answered, but not as it should have.
    Wrong(&'static str),
}

/// An error code by name (`UnknownSyscall`), or by number if this build
/// does not know it.
struct Code(u64);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Error::from_raw(self.0) {
            Some(e) => write!(f, "{e:?}"),
            None => write!(f, "code{}", self.0),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Syscall(what, code) => write!(f, "error={} ({what} failed)", Code(code)),
            Self::Partner(who, code) => write!(f, "error={} (the {who} stopped)", Code(code)),
            Self::Wrong(what) => write!(f, "error=Wrong ({what})"),
        }
    }
}

/// Fails with what the partners have reported, if anything.
fn partners(c: &Child) -> Result<(), Failure> {
    match (
        c.shared(shared::SERVER_ERROR),
        c.shared(shared::WAITER_ERROR),
    ) {
        (0, 0) => Ok(()),
        (0, e) => Err(Failure::Partner("waiter", e)),
        (e, _) => Err(Failure::Partner("server", e)),
    }
}

/// Runs `one` [`WARMUP`] times, then [`ITERATIONS`] times into `samples`,
/// and summarises the samples. `one` returns the cycles of one round; its
/// argument says whether the round is timed (false during the warm-up).
fn measure(
    samples: &mut [u32],
    one: impl FnMut(bool) -> Result<u64, Failure>,
) -> Result<Summary, Failure> {
    libcap::bench::measure(samples, WARMUP, one)
}

/// Prints the benchmark's `bench:` line; returns whether it has numbers.
fn report(name: &str, extra: fmt::Arguments<'_>, result: Result<Summary, Failure>) -> bool {
    match result {
        Ok(summary) => {
            println!("bench: {name} {summary} unit=cycles{extra}");
            true
        }
        Err(failure) => {
            println!("bench: {name} {failure}");
            false
        }
    }
}

/// `Null` in, `Null` out: the cost of entering and leaving the kernel.
fn null_syscall(samples: &mut [u32]) -> Result<Summary, Failure> {
    measure(samples, |_| match timed_syscall::<NULL>(0, 0, [0; 4]) {
        (cycles, 0) => Ok(cycles),
        (_, e) => Err(Failure::Syscall("Null", e)),
    })
}

/// The message words of a `words`-long call: `i + 1` in word `i`.
fn word(i: usize) -> u64 {
    0x5eed_0000 + i as u64 + 1
}

/// `Call` on the endpoint with a `words`-word message, which the server
/// echoes with `ReplyRecv`: one round trip per sample. Words 4 and up go
/// through the IPC buffer once, before the first call (the kernel copies
/// them on every call and every reply).
fn call(samples: &mut [u32], c: &Child, words: usize) -> Result<Summary, Failure> {
    partners(c)?;
    let info = MessageInfo::new(LABEL, words);
    let mut regs = [0; REGISTER_WORDS];
    for (i, r) in regs.iter_mut().enumerate().take(words) {
        *r = word(i);
    }
    let mut extra = [0; 120 - REGISTER_WORDS];
    let extra = &mut extra[..words.saturating_sub(REGISTER_WORDS)];
    for (i, w) in extra.iter_mut().enumerate() {
        *w = word(REGISTER_WORDS + i);
    }
    if !extra.is_empty() {
        ipc_buffer::write_extra_words(extra);
    }
    // One untimed call first, to check that the reply is the echo.
    let reply = syscall::raw(CALL, c.endpoint, info, regs);
    if reply.error != 0 {
        partners(c)?;
        return Err(Failure::Syscall("Call on the endpoint", reply.error));
    }
    if reply.info.length() != words || reply.info.label() != LABEL || reply.words != regs {
        return Err(Failure::Wrong("the reply is not the message echoed"));
    }
    if (REGISTER_WORDS..words).any(|i| ipc_buffer::read_word(i) != word(i)) {
        return Err(Failure::Wrong(
            "the reply's IPC-buffer words are not the message's",
        ));
    }
    measure(samples, |_| {
        match timed_syscall::<CALL>(c.endpoint, info.0, regs) {
            (cycles, 0) => Ok(cycles),
            (_, e) => {
                partners(c)?;
                Err(Failure::Syscall("Call on the endpoint", e))
            }
        }
    })
}

/// Signal the notification; the waiter (higher priority) wakes and stamps
/// the time. One sample: the waiter's stamp minus the signaller's stamp
/// before `Send`. Returns how many timed rounds the waiter did not run
/// before `Send` returned (and the root task had to yield to it), which the
/// kernel's priority scheduling should make zero.
fn notify(samples: &mut [u32], c: &Child) -> Result<(Summary, u32), Failure> {
    partners(c)?;
    let mut deferred = 0;
    let summary = measure(samples, |timed| {
        let before = c.shared(shared::WAKE_COUNT);
        let (start, e) = stamped_syscall::<SEND>(c.notification);
        if e != 0 {
            return Err(Failure::Syscall("Send on the notification", e));
        }
        let mut yields = 0;
        while c.shared(shared::WAKE_COUNT) == before {
            partners(c)?;
            if yields == PATIENCE {
                return Err(Failure::Wrong("the waiter did not wake"));
            }
            syscall::yield_now();
            yields += 1;
        }
        if yields > 0 && timed {
            deferred += 1;
        }
        Ok(c.shared(shared::WAKE_TSC).wrapping_sub(start))
    });
    summary.map(|s| (s, deferred))
}

/// The root task: every benchmark in turn, then `bench: done` and the end
/// of the run (success if every benchmark produced numbers).
pub fn run(boot_info: &'static BootInfo) -> ! {
    // SAFETY: the only reference to the buffer, taken once (see
    // `SampleBuffer`).
    let samples = unsafe { &mut *SAMPLES.0.get() };
    println!(
        "ipcbench: {ITERATIONS} timed rounds per benchmark after {WARMUP} untimed; \
         unit: time-stamp counter ticks (guest instructions under QEMU -icount shift=0)"
    );
    let mut ok = report(
        "rdtsc_overhead",
        format_args!(""),
        measure(samples, |_| Ok(overhead())),
    );
    ok &= report("null_syscall", format_args!(""), null_syscall(samples));
    match child::build(boot_info) {
        Ok(c) => {
            // Let both partners reach their first Recv.
            for _ in 0..10 {
                syscall::yield_now();
            }
            ok &= report(
                "call_replyrecv_registers",
                format_args!(" words=4"),
                call(samples, &c, 4),
            );
            ok &= report(
                "call_replyrecv_64_words",
                format_args!(" words=64"),
                call(samples, &c, 64),
            );
            match notify(samples, &c) {
                Ok((summary, deferred)) => println!(
                    "bench: notification_signal_wake {summary} unit=cycles \
                     mode=one-way deferred={deferred}"
                ),
                Err(failure) => {
                    println!("bench: notification_signal_wake {failure}");
                    ok = false;
                }
            }
        }
        Err(e) => {
            println!("bench: setup error={:?} ({} failed)", e.error, e.what);
            ok = false;
        }
    }
    println!("bench: done");
    syscall::debug_exit(ok)
}
