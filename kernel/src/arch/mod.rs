//! Machine-dependent code. Only x86_64 exists today; the portable modules of
//! the crate reach into this tree only through the console sink and the
//! machine state a TCB holds (read through
//! [`crate::object::registers::UserRegisters`]).

pub mod x86_64;

pub use x86_64::context::{FpuState, UserContext};
