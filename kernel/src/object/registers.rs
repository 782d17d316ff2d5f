//! What the portable kernel reads and writes of a thread's saved user
//! registers. Which register holds what is the architecture's system-call
//! ABI (`docs/abi.md`); the architecture's context type implements this
//! (`arch::x86_64::context`), and only it names registers.

use basalt_abi::{MessageInfo, REGISTER_WORDS};

pub trait UserRegisters {
    /// Message words 0-3, as the thread left them for a send or a reply.
    fn message(&self) -> [u64; REGISTER_WORDS];

    /// Writes what the thread's system call returns: `status` (0, or an
    /// error's code), the badge, the message info and words 0-3.
    fn set_result(
        &mut self,
        status: u64,
        badge: u64,
        info: MessageInfo,
        words: [u64; REGISTER_WORDS],
    );

    /// Sends the thread to `pc` with stack `sp` and a new thread's flags
    /// (none of the old ones carry over: a fault may have come from them).
    fn restart_at(&mut self, pc: u64, sp: u64);

    /// Sets the two argument registers a thread starts with (TCB
    /// `WriteRegisters`).
    fn set_arguments(&mut self, args: [u64; 2]);

    /// What TCB `ReadRegisters` answers: the program counter, the stack
    /// pointer, the flags and the status register.
    fn report(&self) -> [u64; REGISTER_WORDS];

    /// What [`UserRegisters::set_result`] wrote: status, badge, message
    /// info and words.
    #[cfg(test)]
    fn result(&self) -> (u64, u64, MessageInfo, [u64; REGISTER_WORDS]);

    /// Sets message words 0-3, as a thread about to send does.
    #[cfg(test)]
    fn set_message(&mut self, words: [u64; REGISTER_WORDS]);
}
