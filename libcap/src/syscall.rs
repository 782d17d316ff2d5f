//! The `syscall` instruction, per the register ABI of [`basalt_abi`]:
//!
//! | register | in | out |
//! | --- | --- | --- |
//! | `rax` | [`Syscall`] number | error code (0: success) |
//! | `rdi` | capability address | badge (receive operations) |
//! | `rsi` | [`MessageInfo`] | [`MessageInfo`] of the reply |
//! | `rdx`, `r10`, `r8`, `r9` | message words 0–3 | reply words 0–3 |
//!
//! `rcx` and `r11` are clobbered by the CPU. [`raw`] returns `rdi` too, as
//! [`RawReply::badge`]; the IPC operations built on it are in
//! [`crate::ipc`].
//!
//! Capability invocations are safe functions, as in other capability
//! systems' Rust bindings: the kernel checks every argument. What the kernel
//! cannot check is the program's own use of its memory, so a program that
//! unmaps (or revokes the memory of) a page its Rust code still refers to
//! gets a page fault on the next access, or worse if something else is
//! mapped there by then; that is the program's responsibility.
//!
//! ```no_run
//! libcap::syscall::debug_write(b"hello from user space\n").expect("write");
//! libcap::syscall::null_syscall().expect("null");
//! ```

use basalt_abi::{Error, MessageInfo, REGISTER_WORDS, Syscall};

/// Everything a system call returns, undecoded.
///
/// ```no_run
/// use libcap::abi::{MessageInfo, Syscall};
/// let r = libcap::syscall::raw(Syscall::Null as u64, 0, MessageInfo(0), [0; 4]);
/// assert_eq!(r.error, 0);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RawReply {
    /// `rax`: 0 on success, else an [`Error`] code (perhaps one this
    /// library does not know).
    pub error: u64,
    /// `rdi`: the badge of the capability the sender used (receive
    /// operations), the notification word (waiting on a notification), or
    /// whatever the kernel left there (other system calls).
    pub badge: u64,
    /// `rsi`: the reply's label and length.
    pub info: MessageInfo,
    /// `rdx`, `r10`, `r8`, `r9`: reply words 0–3.
    pub words: [u64; REGISTER_WORDS],
}

/// Issues system call `number` with every argument register set, and
/// returns every result register. The building block of the other wrappers;
/// programs use it to pass values the typed wrappers do not allow (an
/// unknown system-call number, a bad address).
///
/// Safe because the kernel validates every argument: it reads user memory
/// only through checked addresses and writes none but the IPC buffer. See
/// the module documentation for what the kernel cannot check.
///
/// ```no_run
/// use libcap::abi::{MessageInfo, Syscall};
/// let r = libcap::syscall::raw(Syscall::Yield as u64, 0, MessageInfo(0), [0; 4]);
/// # let _ = r;
/// ```
#[inline]
pub fn raw(number: u64, cap: u64, info: MessageInfo, words: [u64; REGISTER_WORDS]) -> RawReply {
    imp::raw(number, cap, info, words)
}

#[cfg(target_os = "none")]
mod imp {
    use super::RawReply;
    use basalt_abi::{MessageInfo, REGISTER_WORDS};
    use core::arch::asm;

    #[inline(always)]
    pub(super) fn raw(
        number: u64,
        cap: u64,
        info: MessageInfo,
        words: [u64; REGISTER_WORDS],
    ) -> RawReply {
        let (error, badge, info_out, w0, w1, w2, w3): (u64, u64, u64, u64, u64, u64, u64);
        // SAFETY: `syscall` enters the Basalt kernel, which follows the
        // register ABI above: it preserves every register not named here
        // and never touches this thread's stack (so `nostack` holds). The
        // asm block is not `nomem`, so the compiler assumes the kernel may
        // read or write memory (a buffer for DebugWrite, the IPC buffer),
        // which keeps stores before the call and loads after it in order.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") number => error,
                inlateout("rdi") cap => badge,
                inlateout("rsi") info.0 => info_out,
                inlateout("rdx") words[0] => w0,
                inlateout("r10") words[1] => w1,
                inlateout("r8") words[2] => w2,
                inlateout("r9") words[3] => w3,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        RawReply {
            error,
            badge,
            info: MessageInfo(info_out),
            words: [w0, w1, w2, w3],
        }
    }
}

#[cfg(not(target_os = "none"))]
mod imp {
    use super::RawReply;
    use basalt_abi::{MessageInfo, REGISTER_WORDS};

    pub(super) fn raw(
        number: u64,
        _cap: u64,
        _info: MessageInfo,
        _words: [u64; REGISTER_WORDS],
    ) -> RawReply {
        panic!(
            "Basalt system call {number} outside the Basalt kernel (build for x86_64-unknown-none)"
        )
    }
}

/// Decodes `rax`: 0 is success; a code this library does not know (a
/// newer kernel's) becomes [`Error::IllegalOperation`], the closest
/// general meaning ("not allowed on this object or in this state"). Use
/// [`raw`] to see the code itself.
///
/// ```
/// use libcap::{Error, syscall::decode_error};
/// assert_eq!(decode_error(0), Ok(()));
/// assert_eq!(decode_error(1), Err(Error::InvalidCapability));
/// ```
pub const fn decode_error(code: u64) -> Result<(), Error> {
    if code == 0 {
        return Ok(());
    }
    // `Error::from_raw` is not `const`; this mirrors it.
    let mut i = 0;
    while i < Error::ALL.len() {
        if Error::ALL[i] as u64 == code {
            return Err(Error::ALL[i]);
        }
        i += 1;
    }
    Err(Error::IllegalOperation)
}

/// Invokes capability `cap` ([`Syscall::Call`]): `info` names the operation
/// (label) and the message length, `words` are message words 0–3 (words 4
/// and up must already be in the IPC buffer; see [`crate::ipc_buffer`]).
/// Returns the reply's [`MessageInfo`] and words 0–3, or the kernel's error.
///
/// This is the register-level form that [`crate::invoke`] builds on. On an
/// endpoint the same system call is an IPC call; [`crate::ipc::call`] is the
/// message-level form of that (any length, a capability, the badge).
///
/// ```no_run
/// use libcap::abi::{MessageInfo, label};
/// let (_, words) = libcap::syscall::invoke(7, MessageInfo::new(label::FRAME_GET_ADDRESS, 0), [0; 4]).expect("invoke");
/// # let _ = words;
/// ```
pub fn invoke(
    cap: u64,
    info: MessageInfo,
    words: [u64; REGISTER_WORDS],
) -> Result<(MessageInfo, [u64; REGISTER_WORDS]), Error> {
    let reply = raw(Syscall::Call as u64, cap, info, words);
    decode_error(reply.error).map(|()| (reply.info, reply.words))
}

/// Lets another ready thread of the same priority run ([`Syscall::Yield`]);
/// returns at once if there is none.
///
/// ```no_run
/// libcap::syscall::yield_now();
/// ```
pub fn yield_now() {
    raw(
        Syscall::Yield as u64,
        0,
        MessageInfo(0),
        [0; REGISTER_WORDS],
    );
}

/// Enters and leaves the kernel doing nothing ([`Syscall::Null`]): the
/// cost of a system call, for measurements. Fails only with a kernel that
/// does not know the system call ([`Error::UnknownSyscall`]).
///
/// ```no_run
/// libcap::syscall::null_syscall().expect("null");
/// ```
pub fn null_syscall() -> Result<(), Error> {
    decode_error(raw(Syscall::Null as u64, 0, MessageInfo(0), [0; REGISTER_WORDS]).error)
}

/// Writes `bytes` to the kernel console ([`Syscall::DebugWrite`]) as they
/// are; the kernel adds nothing. The kernel queues what fits in its
/// console buffer (4 KiB; it never waits for the serial line), so this
/// calls it until every byte is queued, yielding while the buffer is full.
/// An empty slice makes no system call.
///
/// ```no_run
/// libcap::syscall::debug_write(b"hello\n").expect("write");
/// ```
pub fn debug_write(mut bytes: &[u8]) -> Result<(), Error> {
    // The kernel takes at most 4096 bytes per call.
    while !bytes.is_empty() {
        let chunk = &bytes[..bytes.len().min(4096)];
        let words = [chunk.as_ptr() as u64, chunk.len() as u64, 0, 0];
        let reply = raw(Syscall::DebugWrite as u64, console(), MessageInfo(0), words);
        decode_error(reply.error)?;
        let written = (reply.words[0] as usize).min(chunk.len());
        if written == 0 {
            yield_now();
        }
        bytes = &bytes[written..];
    }
    Ok(())
}

/// The capability address of the kernel console in this program's CSpace:
/// a well-known slot, which differs between the root task and components.
///
/// ```
/// // Before either entry form has run, the root task's slot is assumed.
/// assert_eq!(libcap::syscall::console(), libcap::abi::boot_info::slot::CONSOLE);
/// ```
pub fn console() -> u64 {
    match crate::runtime::entry_form() {
        crate::runtime::EntryForm::Component => basalt_abi::start_info::slot::CONSOLE,
        _ => basalt_abi::boot_info::slot::CONSOLE,
    }
}

/// What the kernel's invariant oracle found ([`debug_check`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OracleReport {
    /// Broken invariants (the kernel logs them).
    pub violations: u64,
    /// Capabilities it looked at.
    pub capabilities: u64,
    /// It ran out of room and checked less than everything.
    pub overflow: bool,
    /// Interrupts the kernel dropped so far because they arrived on
    /// exception vectors (a device's forged message, an NMI).
    pub forged_interrupts: u64,
}

/// Runs the kernel's invariant oracle ([`Syscall::DebugCheck`]) over
/// everything derived from the capabilities at addresses `a` and `b` (0:
/// none). Only in kernel self-test mode; otherwise
/// [`Error::IllegalOperation`].
///
/// ```no_run
/// let report = libcap::syscall::debug_check(20, 0).expect("self-test mode");
/// assert_eq!(report.violations, 0);
/// ```
pub fn debug_check(a: u64, b: u64) -> Result<OracleReport, Error> {
    let r = raw(Syscall::DebugCheck as u64, a, MessageInfo(0), [b, 0, 0, 0]);
    decode_error(r.error)?;
    Ok(OracleReport {
        violations: r.words[0],
        capabilities: r.words[1],
        overflow: r.words[2] != 0,
        forged_interrupts: r.words[3],
    })
}

/// Like [`debug_exit`], but returns when the kernel refuses (outside
/// self-test mode), with the kernel's error, so that the program can go on
/// (a component then exits normally).
///
/// ```no_run
/// let refused = libcap::syscall::try_debug_exit(true);
/// libcap::println!("not a self-test run ({refused:?})");
/// ```
pub fn try_debug_exit(success: bool) -> Error {
    let words = [u64::from(!success), 0, 0, 0];
    match decode_error(raw(Syscall::DebugExit as u64, 0, MessageInfo(0), words).error) {
        Err(e) => e,
        // A kernel that returned from a successful DebugExit.
        Ok(()) => Error::IllegalOperation,
    }
}

/// Ends the calling thread with `status` ([`Syscall::Exit`], 0 for
/// success): its fault endpoint (for a component: `init`) gets a
/// `fault::EXITED` message with the status, and the thread runs no more;
/// without a fault endpoint the kernel suspends it. Programs call
/// [`crate::runtime::exit`], which does the right thing for each entry
/// form. Should the kernel not know the system call, this faults (`ud2`)
/// instead of returning.
///
/// ```no_run
/// libcap::syscall::exit(0);
/// ```
pub fn exit(status: u64) -> ! {
    raw(Syscall::Exit as u64, 0, MessageInfo(0), [status, 0, 0, 0]);
    // A supervisor that replied to the EXITED message, or a kernel without
    // `Exit`: stop here for good.
    crate::runtime::fault()
}

/// Ends a kernel self-test run ([`Syscall::DebugExit`]) with success or
/// failure: the kernel stops the machine (under QEMU, with an exit status
/// that says which). Outside self-test mode the kernel refuses; this
/// function then yields forever, so it never returns either way.
///
/// ```no_run
/// libcap::syscall::debug_exit(true);
/// ```
pub fn debug_exit(success: bool) -> ! {
    let words = [u64::from(!success), 0, 0, 0];
    raw(Syscall::DebugExit as u64, 0, MessageInfo(0), words);
    loop {
        yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_success_and_known_codes_decode_to_their_error() {
        assert_eq!(decode_error(0), Ok(()));
        for e in Error::ALL {
            assert_eq!(decode_error(e as u64), Err(e));
            assert_eq!(Error::from_raw(e as u64), Some(e));
        }
    }

    #[test]
    fn unknown_codes_decode_to_illegal_operation() {
        let unknown = Error::ALL.iter().map(|e| *e as u64).max().unwrap_or(0) + 1;
        assert_eq!(Error::from_raw(unknown), None);
        assert_eq!(decode_error(unknown), Err(Error::IllegalOperation));
        assert_eq!(decode_error(u64::MAX), Err(Error::IllegalOperation));
    }

    #[test]
    #[should_panic(expected = "outside the Basalt kernel")]
    fn system_calls_refuse_to_run_on_the_host() {
        yield_now();
    }
}
