//! One function per invocation label of [`basalt_abi::label`]: the first
//! argument is the capability invoked, the rest are the label's message
//! words in the ABI's order. Capabilities named as arguments (a destination
//! CNode, a VSpace, …) are capability addresses in the caller's CSpace;
//! slot indices are indices into the CNode named next to them.
//!
//! Every invocation fits in the four register words except
//! [`untyped_retype`] and [`cnode_mint`], whose fifth word goes through the
//! IPC buffer (see [`crate::ipc_buffer`]).
//!
//! ```no_run
//! use libcap::abi::{ObjectType, Rights};
//! use libcap::invoke;
//! // Root task: a notification from untyped slot 8 into root-CNode slot 100,
//! // then a badged copy of it in slot 101.
//! invoke::untyped_retype(8, ObjectType::Notification, 0, 1, 2, 100).expect("retype");
//! invoke::cnode_mint(2, 101, 2, 100, Rights::WRITE, 0b10).expect("mint");
//! ```

use crate::ipc_buffer;
use crate::syscall;
use basalt_abi::{Error, MessageInfo, ObjectType, REGISTER_WORDS, Rights, label};

/// Splits a message into its descriptor, its register words and the words
/// that go through the IPC buffer.
fn message(label: u64, args: &[u64]) -> (MessageInfo, [u64; REGISTER_WORDS], &[u64]) {
    let mut words = [0; REGISTER_WORDS];
    let in_registers = args.len().min(REGISTER_WORDS);
    words[..in_registers].copy_from_slice(&args[..in_registers]);
    (
        MessageInfo::new(label, args.len()),
        words,
        &args[in_registers..],
    )
}

/// Invokes `cap` with `label` and message words `args`, any number of them
/// up to [`basalt_abi::MAX_MESSAGE_WORDS`] (words 4 and up through the IPC
/// buffer). Returns reply words 0–3. The typed functions below are built on
/// it; use it for labels or values they do not allow (an unknown object
/// type, a label meant for another object type).
///
/// ```no_run
/// let [w0, ..] = libcap::invoke::raw(7, libcap::abi::label::FRAME_GET_ADDRESS, &[]).expect("invoke");
/// # let _ = w0;
/// ```
pub fn raw(cap: u64, label: u64, args: &[u64]) -> Result<[u64; REGISTER_WORDS], Error> {
    let (info, words, extra) = message(label, args);
    if !extra.is_empty() {
        ipc_buffer::write_extra_words(extra);
    }
    syscall::invoke(cap, info, words).map(|(_, reply)| reply)
}

fn rights_word(rights: Rights) -> u64 {
    u64::from(rights.bits())
}

/// Creates `count` objects of type `ty` from untyped memory `untyped`, into
/// slots `dest_index..dest_index + count` of CNode `dest_cnode`.
/// `size_bits` sizes the objects whose size varies: an [`ObjectType::Untyped`]
/// of `2^size_bits` bytes, an [`ObjectType::CNode`] of `2^size_bits` slots;
/// pass 0 for the other types. Five words: the fifth goes through the IPC
/// buffer.
///
/// ```no_run
/// use libcap::abi::ObjectType;
/// // In the root task: 4 endpoints from untyped slot 8 into root-CNode slots 100..104.
/// libcap::invoke::untyped_retype(8, ObjectType::Endpoint, 0, 4, 2, 100).expect("retype");
/// ```
pub fn untyped_retype(
    untyped: u64,
    ty: ObjectType,
    size_bits: u64,
    count: u64,
    dest_cnode: u64,
    dest_index: u64,
) -> Result<(), Error> {
    raw(
        untyped,
        label::UNTYPED_RETYPE,
        &[ty as u64, size_bits, count, dest_cnode, dest_index],
    )
    .map(drop)
}

/// Copies the capability in slot `src_index` of CNode `src_cnode` into the
/// empty slot `dest_index` of CNode `dest_cnode`, keeping only `rights` of
/// the source's rights. The copy is a child of the source (a revoke of the
/// source deletes it).
///
/// ```no_run
/// use libcap::abi::Rights;
/// libcap::invoke::cnode_copy(2, 101, 2, 100, Rights::READ | Rights::WRITE).expect("copy");
/// ```
pub fn cnode_copy(
    dest_cnode: u64,
    dest_index: u64,
    src_cnode: u64,
    src_index: u64,
    rights: Rights,
) -> Result<(), Error> {
    raw(
        dest_cnode,
        label::CNODE_COPY,
        &[dest_index, src_cnode, src_index, rights_word(rights)],
    )
    .map(drop)
}

/// Like [`cnode_copy`], and also sets the copy's badge (endpoints,
/// notifications) or guard (CNodes) to `badge_or_guard`. Five words: the
/// fifth goes through the IPC buffer.
///
/// ```no_run
/// use libcap::abi::Rights;
/// libcap::invoke::cnode_mint(2, 102, 2, 100, Rights::CALL | Rights::WRITE, 7).expect("mint");
/// ```
pub fn cnode_mint(
    dest_cnode: u64,
    dest_index: u64,
    src_cnode: u64,
    src_index: u64,
    rights: Rights,
    badge_or_guard: u64,
) -> Result<(), Error> {
    raw(
        dest_cnode,
        label::CNODE_MINT,
        &[
            dest_index,
            src_cnode,
            src_index,
            rights_word(rights),
            badge_or_guard,
        ],
    )
    .map(drop)
}

/// Moves the capability in slot `src_index` of CNode `src_cnode` into the
/// empty slot `dest_index` of CNode `dest_cnode`; the source slot ends
/// empty.
///
/// ```no_run
/// libcap::invoke::cnode_move(2, 103, 2, 102).expect("move");
/// ```
pub fn cnode_move(
    dest_cnode: u64,
    dest_index: u64,
    src_cnode: u64,
    src_index: u64,
) -> Result<(), Error> {
    raw(
        dest_cnode,
        label::CNODE_MOVE,
        &[dest_index, src_cnode, src_index],
    )
    .map(drop)
}

/// Like [`cnode_move`], and also sets the moved capability's badge or guard
/// to `badge_or_guard`.
///
/// ```no_run
/// libcap::invoke::cnode_mutate(2, 104, 2, 101, 9).expect("mutate");
/// ```
pub fn cnode_mutate(
    dest_cnode: u64,
    dest_index: u64,
    src_cnode: u64,
    src_index: u64,
    badge_or_guard: u64,
) -> Result<(), Error> {
    raw(
        dest_cnode,
        label::CNODE_MUTATE,
        &[dest_index, src_cnode, src_index, badge_or_guard],
    )
    .map(drop)
}

/// Deletes the capability in slot `index` of CNode `cnode`, leaving the
/// slot empty.
///
/// ```no_run
/// libcap::invoke::cnode_delete(2, 104).expect("delete");
/// ```
pub fn cnode_delete(cnode: u64, index: u64) -> Result<(), Error> {
    raw(cnode, label::CNODE_DELETE, &[index]).map(drop)
}

/// Deletes every capability derived from the one in slot `index` of CNode
/// `cnode` (copies, mints and, for untyped memory, the objects made from
/// it); the capability itself stays.
///
/// ```no_run
/// libcap::invoke::cnode_revoke(2, 100).expect("revoke");
/// ```
pub fn cnode_revoke(cnode: u64, index: u64) -> Result<(), Error> {
    raw(cnode, label::CNODE_REVOKE, &[index]).map(drop)
}

/// Gives thread `tcb` its CSpace root (a CNode capability), its address
/// space (a VSpace capability) and its IPC buffer: the frame capability
/// `ipc_buffer_frame`, which the thread sees at `ipc_buffer_addr`.
///
/// ```no_run
/// // TCB 30 gets CNode 31, VSpace 32 and IPC-buffer frame 33, seen at the usual address.
/// libcap::invoke::tcb_configure(30, 31, 32, 33, libcap::ipc_buffer::ADDRESS).expect("configure");
/// ```
pub fn tcb_configure(
    tcb: u64,
    cspace_root: u64,
    vspace: u64,
    ipc_buffer_frame: u64,
    ipc_buffer_addr: u64,
) -> Result<(), Error> {
    raw(
        tcb,
        label::TCB_CONFIGURE,
        &[cspace_root, vspace, ipc_buffer_frame, ipc_buffer_addr],
    )
    .map(drop)
}

/// Sets thread `tcb`'s scheduling priority (0–255).
///
/// ```no_run
/// libcap::invoke::tcb_set_priority(30, 150).expect("priority");
/// ```
pub fn tcb_set_priority(tcb: u64, priority: u64) -> Result<(), Error> {
    raw(tcb, label::TCB_SET_PRIORITY, &[priority]).map(drop)
}

/// Sets the user registers thread `tcb` starts (or continues) with: the
/// instruction pointer, the stack pointer and two argument words.
///
/// ```no_run
/// libcap::invoke::tcb_write_registers(30, 0x40_0000, 0x7fff_e000_0000, 0, 0).expect("registers");
/// ```
pub fn tcb_write_registers(
    tcb: u64,
    rip: u64,
    rsp: u64,
    arg0: u64,
    arg1: u64,
) -> Result<(), Error> {
    raw(tcb, label::TCB_WRITE_REGISTERS, &[rip, rsp, arg0, arg1]).map(drop)
}

/// Reads thread `tcb`'s saved user registers: `[rip, rsp, rflags, rax]`.
///
/// ```no_run
/// let [rip, rsp, _rflags, _rax] = libcap::invoke::tcb_read_registers(30).expect("read");
/// # let _ = (rip, rsp);
/// ```
pub fn tcb_read_registers(tcb: u64) -> Result<[u64; 4], Error> {
    raw(tcb, label::TCB_READ_REGISTERS, &[])
}

/// Makes thread `tcb` runnable.
///
/// ```no_run
/// libcap::invoke::tcb_resume(30).expect("resume");
/// ```
pub fn tcb_resume(tcb: u64) -> Result<(), Error> {
    raw(tcb, label::TCB_RESUME, &[]).map(drop)
}

/// Stops thread `tcb` until the next [`tcb_resume`].
///
/// ```no_run
/// libcap::invoke::tcb_suspend(30).expect("suspend");
/// ```
pub fn tcb_suspend(tcb: u64) -> Result<(), Error> {
    raw(tcb, label::TCB_SUSPEND, &[]).map(drop)
}

/// Names the endpoint to which the kernel reports thread `tcb`'s faults
/// (a capability address; 0 for none). A fault then arrives there as a
/// call with a label of [`basalt_abi::fault`] and the words `rip, rsp,
/// address, code`, its badge that of `fault_endpoint`; the handler's reply
/// (label `fault::RESUME`, or `fault::RESUME_AT` with words `rip, rsp`)
/// restarts the thread. Without one, a faulting thread is suspended.
///
/// ```no_run
/// libcap::invoke::tcb_set_fault_endpoint(30, 20).expect("fault endpoint");
/// ```
pub fn tcb_set_fault_endpoint(tcb: u64, fault_endpoint: u64) -> Result<(), Error> {
    raw(tcb, label::TCB_SET_FAULT_ENDPOINT, &[fault_endpoint]).map(drop)
}

/// Binds notification `ntfn` (a capability address; 0 unbinds) to thread
/// `tcb`: while the thread waits in [`crate::ipc::recv`] on an endpoint, a
/// signal of the notification (or a word already pending) ends the wait
/// with a message labelled [`basalt_abi::NOTIFICATION_LABEL`] whose badge is
/// the notification word.
///
/// ```no_run
/// libcap::invoke::tcb_bind_notification(30, 21).expect("bind");
/// ```
pub fn tcb_bind_notification(tcb: u64, ntfn: u64) -> Result<(), Error> {
    raw(tcb, label::TCB_BIND_NOTIFICATION, &[ntfn]).map(drop)
}

/// Maps paging structure `pt` (a [`ObjectType::Pdpt`],
/// [`ObjectType::PageDirectory`] or [`ObjectType::PageTable`]) into address
/// space `vspace` so that it covers `vaddr`: it goes into the entry for
/// `vaddr` of the table one level up, which must be mapped already
/// ([`Error::MissingPageTable`]). A table is mapped once; its capability
/// can be copied only while it is mapped.
///
/// ```no_run
/// // A PDPT, a page directory and a page table: the path from the PML4
/// // down to 4 KiB pages.
/// for table in [40, 41, 42] {
///     libcap::invoke::page_table_map(table, 3, 0x1000_0000_0000).expect("map");
/// }
/// ```
pub fn page_table_map(pt: u64, vspace: u64, vaddr: u64) -> Result<(), Error> {
    raw(pt, label::PAGE_TABLE_MAP, &[vspace, vaddr]).map(drop)
}

/// Unmaps paging structure `pt` from wherever it is mapped and clears it:
/// everything mapped through it is unmapped. `pt` must be the last
/// capability to the table ([`Error::RevokeFirst`]).
///
/// ```no_run
/// libcap::invoke::page_table_unmap(42).expect("unmap");
/// ```
pub fn page_table_unmap(pt: u64) -> Result<(), Error> {
    raw(pt, label::PAGE_TABLE_UNMAP, &[]).map(drop)
}

/// Maps `frame` at the page-aligned user address `vaddr` of `vspace` with
/// `rights` (at most the capability's own; never both WRITE and EXECUTE).
/// A frame capability maps at one place at a time; copy the capability to
/// map the frame twice.
///
/// ```no_run
/// use libcap::abi::Rights;
/// libcap::invoke::frame_map(43, 3, 0x1000_0000_0000, Rights::READ | Rights::WRITE).expect("map");
/// ```
pub fn frame_map(frame: u64, vspace: u64, vaddr: u64, rights: Rights) -> Result<(), Error> {
    raw(
        frame,
        label::FRAME_MAP,
        &[vspace, vaddr, rights_word(rights)],
    )
    .map(drop)
}

/// Maps `frame` like [`frame_map`], first providing the paging structures
/// that are missing on the way, highest first: for each, `add_table` gets
/// its type and must make an object of that type (from untyped memory the
/// caller chooses) and map it at `vaddr` in `vspace` ([`page_table_map`]).
///
/// ```no_run
/// use libcap::abi::{ObjectType, Rights};
/// use libcap::invoke;
/// let (vspace, vaddr) = (3, 0x1000_0000_0000);
/// let mut next = 100;
/// invoke::frame_map_with_tables(43, vspace, vaddr, Rights::READ, |ty: ObjectType| {
///     invoke::untyped_retype(8, ty, 0, 1, 2, next)?;
///     invoke::page_table_map(next, vspace, vaddr)?;
///     next += 1;
///     Ok(())
/// })
/// .expect("map");
/// ```
pub fn frame_map_with_tables(
    frame: u64,
    vspace: u64,
    vaddr: u64,
    rights: Rights,
    mut add_table: impl FnMut(ObjectType) -> Result<(), Error>,
) -> Result<(), Error> {
    let (info, words, _) = message(label::FRAME_MAP, &[vspace, vaddr, rights_word(rights)]);
    loop {
        let reply = syscall::raw(basalt_abi::Syscall::Call as u64, frame, info, words);
        match syscall::decode_error(reply.error) {
            Err(Error::MissingPageTable) => {
                // Reply word 0 names the highest table missing.
                let ty = ObjectType::from_raw(reply.words[0])
                    .filter(|t| t.page_table_level().is_some())
                    .ok_or(Error::MissingPageTable)?;
                add_table(ty)?;
            }
            other => return other,
        }
    }
}

/// Unmaps `frame` from wherever this capability mapped it (nothing happens
/// if it is not mapped).
///
/// ```no_run
/// libcap::invoke::frame_unmap(43).expect("unmap");
/// ```
pub fn frame_unmap(frame: u64) -> Result<(), Error> {
    raw(frame, label::FRAME_UNMAP, &[]).map(drop)
}

/// The physical address of `frame` (for programming DMA).
///
/// ```no_run
/// let phys = libcap::invoke::frame_get_address(43).expect("address");
/// assert_eq!(phys % 4096, 0);
/// ```
pub fn frame_get_address(frame: u64) -> Result<u64, Error> {
    raw(frame, label::FRAME_GET_ADDRESS, &[]).map(|w| w[0])
}

/// Creates a capability for interrupt `irq` in slot `dest_index` of CNode
/// `dest_cnode`.
///
/// ```no_run
/// // IRQ 8 (the RTC) into root-CNode slot 50.
/// libcap::invoke::irq_control_get(4, 8, 2, 50).expect("irq");
/// ```
pub fn irq_control_get(
    irq_control: u64,
    irq: u64,
    dest_cnode: u64,
    dest_index: u64,
) -> Result<(), Error> {
    raw(
        irq_control,
        label::IRQ_CONTROL_GET,
        &[irq, dest_cnode, dest_index],
    )
    .map(drop)
}

/// Creates a capability for a free message-signalled interrupt line in
/// slot `dest_index` of CNode `dest_cnode`; returns the line (24 … 39).
/// Fails with `NotEnoughMemory` when every such line is issued.
///
/// ```no_run
/// let line = libcap::invoke::irq_control_get_msi(4, 2, 50).expect("msi");
/// assert!(line >= 24);
/// ```
pub fn irq_control_get_msi(
    irq_control: u64,
    dest_cnode: u64,
    dest_index: u64,
) -> Result<u64, Error> {
    raw(
        irq_control,
        label::IRQ_CONTROL_GET_MSI,
        &[dest_cnode, dest_index],
    )
    .map(|w| w[0])
}

/// The address and data a device writes to raise message-signalled line
/// `irq_handler` (for its MSI capability or an MSI-X table entry).
/// `IllegalOperation` for an IOAPIC line.
///
/// ```no_run
/// let (address, data) = libcap::invoke::irq_handler_msi_message(50).expect("message");
/// assert_eq!(address & 0xfff0_0000, 0xfee0_0000);
/// # let _ = data;
/// ```
pub fn irq_handler_msi_message(irq_handler: u64) -> Result<(u64, u64), Error> {
    raw(irq_handler, label::IRQ_HANDLER_MSI_MESSAGE, &[]).map(|w| (w[0], w[1]))
}

/// Routes interrupt line `irq_handler` to notification `ntfn` (a
/// capability address): each interrupt masks the line and signals the
/// notification with that capability's badge. Unmasks the line.
///
/// ```no_run
/// libcap::invoke::irq_handler_set_notification(50, 51).expect("route");
/// ```
pub fn irq_handler_set_notification(irq_handler: u64, ntfn: u64) -> Result<(), Error> {
    raw(irq_handler, label::IRQ_HANDLER_SET_NOTIFICATION, &[ntfn]).map(drop)
}

/// Tells the kernel the last interrupt on `irq_handler`'s line was handled:
/// unmasks the line again.
///
/// ```no_run
/// libcap::invoke::irq_handler_ack(50).expect("ack");
/// ```
pub fn irq_handler_ack(irq_handler: u64) -> Result<(), Error> {
    raw(irq_handler, label::IRQ_HANDLER_ACK, &[]).map(drop)
}

/// Stops delivering `irq_handler`'s interrupts: masks the line and forgets
/// the notification.
///
/// ```no_run
/// libcap::invoke::irq_handler_clear(50).expect("clear");
/// ```
pub fn irq_handler_clear(irq_handler: u64) -> Result<(), Error> {
    raw(irq_handler, label::IRQ_HANDLER_CLEAR, &[]).map(drop)
}

/// Creates a capability for I/O ports `first..=last` in slot `dest_index`
/// of CNode `dest_cnode`.
///
/// ```no_run
/// // Ports 0x70-0x71 (the CMOS RTC) into root-CNode slot 52.
/// libcap::invoke::io_port_issue(5, 0x70, 0x71, 2, 52).expect("ports");
/// ```
pub fn io_port_issue(
    io_port_control: u64,
    first: u64,
    last: u64,
    dest_cnode: u64,
    dest_index: u64,
) -> Result<(), Error> {
    raw(
        io_port_control,
        label::IO_PORT_ISSUE,
        &[first, last, dest_cnode, dest_index],
    )
    .map(drop)
}

/// Reads I/O port `port` through port-range capability `port_cap`;
/// `width` is the access size in bytes (1, 2 or 4).
///
/// ```no_run
/// let value = libcap::invoke::io_port_in(52, 0x71, 1).expect("in");
/// # let _ = value;
/// ```
pub fn io_port_in(port_cap: u64, port: u64, width: u64) -> Result<u64, Error> {
    raw(port_cap, label::IO_PORT_IN, &[port, width]).map(|w| w[0])
}

/// Writes `value` to I/O port `port` through port-range capability
/// `port_cap`; `width` is the access size in bytes (1, 2 or 4).
///
/// ```no_run
/// libcap::invoke::io_port_out(52, 0x70, 1, 0x0c).expect("out");
/// ```
pub fn io_port_out(port_cap: u64, port: u64, width: u64, value: u64) -> Result<(), Error> {
    raw(port_cap, label::IO_PORT_OUT, &[port, width, value]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_travel_in_registers_only() {
        let (info, words, extra) = message(label::CNODE_MOVE, &[7, 2, 9]);
        assert_eq!(info.label(), label::CNODE_MOVE);
        assert_eq!(info.length(), 3);
        assert_eq!(info.0, (label::CNODE_MOVE << 12) | 3);
        assert_eq!(words, [7, 2, 9, 0]);
        assert!(extra.is_empty());
    }

    #[test]
    fn the_fifth_word_goes_to_the_ipc_buffer() {
        let (info, words, extra) = message(label::UNTYPED_RETYPE, &[1, 2, 3, 4, 5]);
        assert_eq!(info.length(), 5);
        assert_eq!(info.label(), label::UNTYPED_RETYPE);
        assert_eq!(words, [1, 2, 3, 4]);
        assert_eq!(extra, &[5]);
    }

    #[test]
    fn an_empty_message_has_length_zero() {
        let (info, words, extra) = message(label::TCB_RESUME, &[]);
        assert_eq!(info, MessageInfo::new(label::TCB_RESUME, 0));
        assert_eq!(words, [0; 4]);
        assert!(extra.is_empty());
    }

    #[test]
    fn rights_travel_as_their_bits() {
        assert_eq!(rights_word(Rights::READ | Rights::WRITE), 3);
        assert_eq!(rights_word(Rights::empty()), 0);
        assert_eq!(rights_word(Rights::all()), 0x1f);
    }
}
