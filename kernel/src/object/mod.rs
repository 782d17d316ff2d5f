//! The capability object model: capabilities, slots and their derivation
//! tree, CNodes and address resolution, untyped memory and retyping. It is
//! portable: the machine-dependent parts (page tables, interrupts, the
//! scheduler) are reached through [`ops::Machine`], so all of this is tested
//! on the host against a reference model.

pub mod cap;
pub mod cnode;
pub mod objects;
pub mod ops;
pub mod oracle;
pub mod slot;

#[cfg(test)]
mod model_tests;
