//! I/O-port and IRQ control. Only port 0x80 (the POST diagnostic port,
//! which nothing else uses) is issued and touched, and only IRQ line 7 is
//! taken (and given back).

use crate::harness::{CNODE, Suite};
use libcap::abi::Rights;
use libcap::abi::boot_info::slot;
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
    t.expect_empty("io port, irq: refused requests leave the slot empty", dest);
    irq_once(t);
}

/// An IRQ line is issued once until its handler capability is deleted.
fn irq_once(t: &mut Suite) {
    let (first, second) = (t.slot(), t.slot());
    if t.expect_ok(
        "irq: issue a handler for line 7",
        invoke::irq_control_get(slot::IRQ_CONTROL, IRQ, CNODE, first),
    )
    .is_none()
    {
        return;
    }
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
    );
}
