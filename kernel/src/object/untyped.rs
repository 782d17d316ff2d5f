//! Untyped memory's invocation: retype (which `ops::retype` carries out).

use super::cap::Cap;
use super::cnode;
use super::invocation::{Message, Reply};
use super::ops::{self, Machine};
use super::slot::SlotRef;
use basalt_abi::{Error, ObjectType, label};

/// Invokes the untyped capability in `untyped` with `label`.
pub fn invoke(
    untyped: SlotRef,
    label: u64,
    cspace: Cap,
    msg: &Message,
    machine: &mut impl Machine,
) -> Reply {
    if label != label::UNTYPED_RETYPE {
        return Err(Error::UnknownInvocation.into());
    }
    let w = |i| msg.word(i);
    let ty = ObjectType::from_raw(w(0)?).ok_or(Error::InvalidArgument)?;
    let dest = cnode::lookup(cspace, w(3)?)?.cap();
    if !matches!(dest, Cap::CNode { .. }) {
        return Err(Error::WrongType.into());
    }
    ops::retype(untyped, ty, w(1)?, w(2)?, dest, w(4)?, machine)?.into()
}
