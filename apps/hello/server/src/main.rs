//! `hello-server`: a Basalt component that serves the
//! [`Greeter`](hello_server::Greeter) interface on the channel its config
//! calls `greeter`. `init` starts it (see `config/hello` and
//! `docs/writing-a-server.md`); it prints
//!
//! ```text
//! hello-server: serving greeter (generation 1)
//! ```
//!
//! and then answers calls until a client asks it to `crash`, when it
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
    match start.last_exit() {
        Some(how) => libcap::log::info!(
            "serving greeter (generation {}; the last one ended: {how})",
            start.generation()
        ),
        None => libcap::log::info!("serving greeter (generation {})", start.generation()),
    }
    Hello::new().serve(endpoint)
}
