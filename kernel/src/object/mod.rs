//! The capability object model: capabilities, slots and their derivation
//! tree, CNodes and address resolution, untyped memory and retyping, the
//! objects' typed references, and the invocations of the portable objects
//! (untyped memory, CNodes, TCBs). It is portable: the machine-dependent parts
//! (page tables, interrupts, the scheduler) are reached through
//! [`ops::Machine`], and a thread's registers through
//! [`registers::UserRegisters`], so all of this is tested on the host
//! against a reference model.

pub mod cap;
pub mod cnode;
pub mod invocation;
pub mod objects;
pub mod objref;
pub mod ops;
pub mod oracle;
pub mod registers;
pub mod slot;
pub mod tcb;
pub mod untyped;

#[cfg(test)]
mod model_tests;
