//! I/O-port and IRQ control. Only port 0x80 (the POST diagnostic port,
//! which nothing else uses) is issued and touched, only IRQ line 7 is
//! taken (and given back), and every message-signalled line is taken and
//! given back (no device is told to raise one).

use crate::harness::{CNODE, Suite};
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights, label};
use libcap::{Error, invoke};

/// The port the cases issue.
const PORT: u64 = 0x80;
/// The IRQ line the cases take a handler for (nothing on QEMU's q35 uses
/// it; no handler is ever bound to a notification).
const IRQ: u64 = 7;

/// Every I/O-port and IRQ case.
pub fn cases(t: &mut Suite) {
    let range = t.slot();
    if t.expect_ok(
        "io port: issue port 0x80",
        invoke::io_port_issue(slot::IO_PORT_CONTROL, PORT, PORT, CNODE, range),
    )
    .is_some()
    {
        t.expect_ok(
            "io port: write a byte",
            invoke::io_port_out(range, PORT, 1, 0),
        );
        t.expect_ok("io port: read a byte", invoke::io_port_in(range, PORT, 1));
        t.expect_err(
            "io port: a port outside the range",
            Error::RangeError,
            invoke::io_port_in(range, PORT + 1, 1),
        );
        t.expect_err(
            "io port: an access 3 bytes wide",
            Error::InvalidArgument,
            invoke::io_port_in(range, PORT, 3),
        );
        // port + width - 1 wraps around for these: a kernel that adds
        // unchecked panics (debug) or lets the port through (release).
        for (port, width) in [(u64::MAX, 2), (u64::MAX - 2, 4), (u64::MAX, 1)] {
            t.expect_err(
                "io port: a port number whose end wraps around is out of range",
                Error::RangeError,
                invoke::io_port_in(range, port, width),
            );
        }
        let copy = t.slot();
        t.expect_ok(
            "copy: an I/O-port range",
            invoke::cnode_copy(CNODE, copy, CNODE, range, Rights::all()),
        );
    }
    let dest = t.slot();
    t.expect_err(
        "io port: the kernel's serial port is not issued",
        Error::IllegalOperation,
        invoke::io_port_issue(slot::IO_PORT_CONTROL, 0x3f8, 0x3ff, CNODE, dest),
    );
    t.expect_err(
        "io port: a range that ends before it starts",
        Error::RangeError,
        invoke::io_port_issue(slot::IO_PORT_CONTROL, PORT, PORT - 1, CNODE, dest),
    );
    t.expect_err(
        "io port: issue ports past 0xffff",
        Error::RangeError,
        invoke::io_port_issue(slot::IO_PORT_CONTROL, 0xfff0, 0x1_0000, CNODE, dest),
    );
    t.expect_err(
        "io port: IO_PORT_IN on the control capability is unknown",
        Error::UnknownInvocation,
        invoke::io_port_in(slot::IO_PORT_CONTROL, PORT, 1),
    );
    t.expect_err(
        "irq: an IRQ number out of range",
        Error::RangeError,
        invoke::irq_control_get(slot::IRQ_CONTROL, 1 << 32, CNODE, dest),
    );
    t.expect_err(
        "irq: IRQ_CONTROL_GET does not issue message-signalled line 24",
        Error::RangeError,
        invoke::irq_control_get(slot::IRQ_CONTROL, FIRST_MSI, CNODE, dest),
    );
    t.expect_empty("io port, irq: refused requests leave the slot empty", dest);
    let line_7 = irq_once(t);
    msi(t, line_7);
}

/// The message-signalled lines: 24 … 39, on vectors 0x48 … 0x57.
const FIRST_MSI: u64 = 24;
const MSI_LINES: u64 = 16;
/// The first IRQ vector (line 0's).
const IRQ_BASE: u64 = 0x30;

/// Message-signalled lines: issued one at a time until none is left,
/// each with the message that raises it; the refusals (`line_7`: the
/// handler of an IOAPIC line, if there is one).
fn msi(t: &mut Suite, line_7: Option<u64>) {
    let handlers = t.slots(MSI_LINES + 1);
    let Some(first) = t.expect_ok(
        "msi: IRQ_CONTROL_GET_MSI issues a message-signalled line",
        invoke::irq_control_get_msi(slot::IRQ_CONTROL, CNODE, handlers),
    ) else {
        return;
    };
    t.check(
        "msi: the line is 24-39",
        (FIRST_MSI..FIRST_MSI + MSI_LINES).contains(&first),
        format_args!("24..40"),
        format_args!("{first}"),
    );
    let message = invoke::irq_handler_msi_message(handlers);
    t.check(
        "msi: IRQ_HANDLER_MSI_MESSAGE gives the APIC window and the line's vector",
        matches!(message, Ok((address, data))
            if address & !0x000f_f000 == 0xfee0_0000 && data == IRQ_BASE + first),
        format_args!("Ok((0xfee0_0000 | id << 12, {:#x}))", IRQ_BASE + first),
        format_args!("{message:x?}"),
    );
    msi_refusals(t, handlers, line_7);
    msi_routing(t, handlers);
    // Every other line, then none.
    let mut lines = [first; MSI_LINES as usize];
    for (i, line) in lines.iter_mut().enumerate().skip(1) {
        match invoke::irq_control_get_msi(slot::IRQ_CONTROL, CNODE, handlers + i as u64) {
            Ok(l) => *line = l,
            Err(e) => {
                t.check(
                    "msi: 16 lines can be issued",
                    false,
                    format_args!("Ok for line {}", i + 1),
                    format_args!("Err({e:?})"),
                );
                return;
            }
        }
    }
    let mut sorted = lines;
    sorted.sort_unstable();
    t.check(
        "msi: 16 lines can be issued, each once",
        sorted.iter().copied().eq(FIRST_MSI..FIRST_MSI + MSI_LINES),
        format_args!("24..40"),
        format_args!("{sorted:?}"),
    );
    let last = handlers + MSI_LINES;
    t.expect_err(
        "msi: with every line issued, IRQ_CONTROL_GET_MSI is NotEnoughMemory",
        Error::NotEnoughMemory,
        invoke::irq_control_get_msi(slot::IRQ_CONTROL, CNODE, last),
    );
    t.expect_empty("msi: the refused request leaves the slot empty", last);
    t.setup(
        "delete a message-signalled handler",
        invoke::cnode_delete(CNODE, handlers + 3),
    );
    t.expect_eq(
        "msi: a line is issued again once its handler is gone",
        Ok(lines[3]),
        invoke::irq_control_get_msi(slot::IRQ_CONTROL, CNODE, last),
    );
    for h in handlers..=last {
        let _ = invoke::cnode_delete(CNODE, h);
    }
}

/// What IRQ_CONTROL_GET_MSI and IRQ_HANDLER_MSI_MESSAGE refuse.
fn msi_refusals(t: &mut Suite, handler: u64, line_7: Option<u64>) {
    let dest = t.slot();
    t.expect_err(
        "msi: into an occupied slot",
        Error::SlotOccupied,
        invoke::irq_control_get_msi(slot::IRQ_CONTROL, CNODE, handler),
    );
    t.expect_err(
        "msi: into slot 0 of a CNode",
        Error::RangeError,
        invoke::irq_control_get_msi(slot::IRQ_CONTROL, CNODE, 0),
    );
    t.expect_err(
        "msi: with IRQ control as the destination CNode",
        Error::WrongType,
        invoke::irq_control_get_msi(slot::IRQ_CONTROL, slot::IRQ_CONTROL, dest),
    );
    t.expect_err(
        "msi: IRQ_CONTROL_GET_MSI with one word",
        Error::InvalidArgument,
        invoke::raw(slot::IRQ_CONTROL, label::IRQ_CONTROL_GET_MSI, &[CNODE]),
    );
    t.expect_err(
        "msi: IRQ_CONTROL_GET_MSI on a CNode is unknown",
        Error::UnknownInvocation,
        invoke::irq_control_get_msi(CNODE, CNODE, dest),
    );
    t.expect_empty("msi: refused requests leave the slot empty", dest);
    t.expect_err(
        "msi: IRQ_HANDLER_MSI_MESSAGE on a CNode is unknown",
        Error::UnknownInvocation,
        invoke::irq_handler_msi_message(CNODE),
    );
    if let Some(line_7) = line_7 {
        t.expect_err(
            "msi: an IOAPIC line has no message",
            Error::IllegalOperation,
            invoke::irq_handler_msi_message(line_7),
        );
    }
}

/// A message-signalled line is bound, acknowledged and cleared like an
/// IOAPIC line.
fn msi_routing(t: &mut Suite, handler: u64) {
    let ntfn = t.slot();
    if t.setup(
        "a notification",
        invoke::untyped_retype(t.memory, ObjectType::Notification, 0, 1, CNODE, ntfn),
    )
    .is_none()
    {
        return;
    }
    t.expect_ok(
        "msi: route the line to a notification",
        invoke::irq_handler_set_notification(handler, ntfn),
    );
    t.expect_ok(
        "msi: IRQ_HANDLER_ACK on a message-signalled line",
        invoke::irq_handler_ack(handler),
    );
    t.expect_ok(
        "msi: IRQ_HANDLER_CLEAR on a message-signalled line",
        invoke::irq_handler_clear(handler),
    );
    let _ = invoke::cnode_delete(CNODE, ntfn);
}

/// An IRQ line is issued once until its handler capability is deleted.
/// Returns the slot of line 7's handler, if it holds one.
fn irq_once(t: &mut Suite) -> Option<u64> {
    let (first, second) = (t.slot(), t.slot());
    t.expect_ok(
        "irq: issue a handler for line 7",
        invoke::irq_control_get(slot::IRQ_CONTROL, IRQ, CNODE, first),
    )?;
    t.expect_err(
        "irq: the same line a second time",
        Error::IllegalOperation,
        invoke::irq_control_get(slot::IRQ_CONTROL, IRQ, CNODE, second),
    );
    t.expect_ok(
        "irq: delete the handler",
        invoke::cnode_delete(CNODE, first),
    );
    t.expect_ok(
        "irq: the line is issued again once its handler is gone",
        invoke::irq_control_get(slot::IRQ_CONTROL, IRQ, CNODE, second),
    )
    .map(|()| second)
}
