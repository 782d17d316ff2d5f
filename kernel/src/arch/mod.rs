//! Machine-dependent code. Only x86_64 exists today; the portable modules of
//! the crate never reach into this tree except through the console sink.

pub mod x86_64;
