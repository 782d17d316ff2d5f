//! The invocations of IRQ control (issuing handler capabilities) and of
//! IRQ handlers (binding a line to a notification, acknowledging it).

use crate::arch::x86_64::irq;
use crate::object::cap::Cap;
use crate::object::cnode::{self, index_slot};
use crate::object::invocation::{Message, NO_WORDS, Reply};
use crate::object::objref::IpcCap;
use crate::object::slot::SlotRef;
use basalt_abi::{Error, Rights, label};

/// Invokes the IRQ control capability in `control` with `label`.
pub fn control(
    lines: &mut irq::Lines,
    control: SlotRef,
    label: u64,
    cspace: Cap,
    msg: &Message,
) -> Reply {
    let w = |i| msg.word(i);
    match label {
        label::IRQ_CONTROL_GET => {
            let irq = u8::try_from(w(0)?)
                .ok()
                .filter(|&i| usize::from(i) < irq::IOAPIC_LINES)
                .ok_or(Error::RangeError)?;
            let dest = index_slot(cnode::lookup(cspace, w(1)?)?.cap(), w(2)?)?;
            if !dest.is_empty() {
                return Err(Error::SlotOccupied.into());
            }
            if !lines.claim(irq) {
                return Err(Error::IllegalOperation.into());
            }
            dest.install_child(Cap::IrqHandler { irq }, control);
            Ok(NO_WORDS)
        }
        label::IRQ_CONTROL_GET_MSI => {
            let dest = index_slot(cnode::lookup(cspace, w(0)?)?.cap(), w(1)?)?;
            if !dest.is_empty() {
                return Err(Error::SlotOccupied.into());
            }
            if irq::msi_message(irq::IOAPIC_LINES as u8).is_none() {
                return Err(Error::IllegalOperation.into());
            }
            let irq = lines.claim_msi().ok_or(Error::NotEnoughMemory)?;
            dest.install_child(Cap::IrqHandler { irq }, control);
            Ok([u64::from(irq), 0, 0, 0])
        }
        _ => Err(Error::UnknownInvocation.into()),
    }
}

/// Invokes a handler capability for IRQ `line` with `label`.
pub fn handler(lines: &mut irq::Lines, line: u8, label: u64, cspace: Cap, msg: &Message) -> Reply {
    match label {
        label::IRQ_HANDLER_MSI_MESSAGE => {
            let (address, data) = irq::msi_message(line).ok_or(Error::IllegalOperation)?;
            Ok([address, data, 0, 0])
        }
        label::IRQ_HANDLER_SET_NOTIFICATION => {
            let Some(IpcCap::Notification {
                ntfn,
                badge,
                rights,
            }) = cnode::lookup(cspace, msg.word(0)?)?.ipc_cap()
            else {
                return Err(Error::WrongType.into());
            };
            if !rights.contains(Rights::WRITE) {
                return Err(Error::MissingRight.into());
            }
            if !lines.bind(line, ntfn, badge) {
                return Err(Error::RangeError.into());
            }
            Ok(NO_WORDS)
        }
        label::IRQ_HANDLER_ACK => {
            lines.ack(line);
            Ok(NO_WORDS)
        }
        label::IRQ_HANDLER_CLEAR => {
            lines.unbind(line);
            Ok(NO_WORDS)
        }
        _ => Err(Error::UnknownInvocation.into()),
    }
}
