//! `hello-server`: a Basalt component that serves the
//! [`Greeter`](hello_server::Greeter) interface on the channel its config
//! calls `greeter`. `init` starts it (see `config/hello` and
//! `docs/writing-a-server.md`); it prints
//!
//! ```text
//! hello-server: 3120 KiB of heap written and read back
//! hello-server: serving greeter (generation 1)
//! ```
//!
//! (its config gives it a heap of two 2 MiB frames and a tail, which init
//! maps as they are first touched: the first line shows that a component
//! gets the whole heap it was given, every generation anew) and then
//! answers calls until a client asks it to `crash`, when it
//! panics (`PANIC in hello-server: crash requested by …`); `init` restarts
//! it and the new instance prints `generation 2`.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "hello-server is a Basalt component that init starts; \
         see docs/writing-a-server.md (cargo xtask run --config config/hello)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::component!(run);

#[cfg(target_os = "none")]
extern crate alloc;

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

/// Serves `greeter` forever.
#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> ! {
    use hello_server::{Greeter, Hello};

    let args = match args::Args::bind(start) {
        Ok(args) => args,
        Err(e) => panic!("{e}"),
    };
    let endpoint = args.greeter.cap;
    let (_, heap_bytes) = start.heap();
    let bytes = (heap_bytes as usize * 3 / 4) & !0xfff;
    if !heap_holds(start.generation(), bytes) {
        panic!("{} KiB of heap did not read back as written", bytes >> 10);
    }
    libcap::log::info!("{} KiB of heap written and read back", bytes >> 10);
    match start.last_exit() {
        Some(how) => libcap::log::info!(
            "serving greeter (generation {}; the last one ended: {how})",
            start.generation()
        ),
        None => libcap::log::info!("serving greeter (generation {})", start.generation()),
    }
    Hello::new().serve(endpoint)
}

/// Whether `bytes` of heap, written with a pattern of this `generation`'s
/// in every word, read back so.
#[cfg(target_os = "none")]
fn heap_holds(generation: u64, bytes: usize) -> bool {
    let words = bytes / 8;
    let pattern = |i: usize| (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ generation;
    let mut block: alloc::vec::Vec<u64> = (0..words).map(pattern).collect();
    // Keep the compiler from folding the check into the writes.
    core::hint::black_box(&mut block);
    block.iter().enumerate().all(|(i, &w)| w == pattern(i))
}
