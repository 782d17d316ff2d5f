//! `cargo xtask`: build, image, run, test and debug Basalt.

mod bench;
mod bench_service;
mod bench_tap;
mod build;
mod cli;
mod compose;
mod config;
mod durability;
mod e2e;
mod flash;
mod fuzz;
mod fuzz_redis;
mod image;
mod machine;
mod memcaslap;
mod nettest;
mod qemu;
mod qmp;
mod redisbench;
mod screendump;
mod selftest;
mod toolchain;
mod tools;

use bench_service::Service;
use clap::{CommandFactory, Parser};
use cli::{Cli, Command, Suite};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tools::Tool;

/// An error for the user: what went wrong and, where possible, what to do.
#[derive(Debug)]
pub struct Error(String);

impl<T: std::fmt::Display> From<T> for Error {
    fn from(e: T) -> Self {
        Self(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error`] from a format string.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => { $crate::Error(format!($($arg)*)) };
}

/// Checks, before anything is compiled, that the toolchain builds for the
/// bare-metal target and that the host tools `needed` are there.
fn preflight(needed: &[&Tool]) -> Result<()> {
    toolchain::check()?;
    tools::require(needed)
}

/// What booting an image under QEMU takes: writing the image, QEMU, and
/// OVMF for `uefi`.
fn qemu_tools(uefi: bool) -> Vec<&'static Tool> {
    let mut needed = tools::IMAGE.to_vec();
    needed.push(&tools::QEMU);
    if uefi {
        needed.push(&tools::OVMF_FIRMWARE);
    }
    needed
}

fn firmware(uefi: bool) -> qemu::Firmware {
    if uefi {
        qemu::Firmware::Uefi
    } else {
        qemu::Firmware::Bios
    }
}

fn execute(command: Command) -> Result<()> {
    match command {
        Command::Build(a) => {
            preflight(&[])?;
            let kernel = build::kernel(build::Profile::from_release(a.release))?;
            println!("kernel: {}", kernel.display());
        }
        Command::Image(a) => {
            preflight(&tools::IMAGE)?;
            let out = a
                .output
                .unwrap_or_else(|| build::target_dir().join("basalt.iso"));
            let profile = build::Profile::from_release(a.release);
            compose::system_image(a.config.config.as_deref(), profile, &out)?;
            println!(
                "image: {} (BIOS and UEFI; see docs/boot.md to write it to a USB stick)",
                out.display()
            );
        }
        Command::Run(a) => {
            preflight(&qemu_tools(a.uefi))?;
            let profile = build::Profile::from_release(a.release);
            let iso = build::target_dir().join("basalt.iso");
            let system = compose::system_image(a.config.config.as_deref(), profile, &iso)?;
            let media = if a.direct {
                qemu::Media::Direct
            } else {
                qemu::Media::Cdrom
            };
            let mut vm = qemu::Vm::new(&iso, media, firmware(a.uefi), a.accel.accel)?;
            vm.interactive();
            if let Some(m) = &system {
                let ports = machine::HostPorts {
                    redis: a.redis_port,
                    http: a.http_port,
                    memcached: a.memcached_port,
                };
                let mut machine = machine::Machine::for_system(m, ports)?;
                if let Some(model) = a.nic {
                    machine.choose_nic(m, model)?;
                }
                if let Some(model) = a.storage {
                    machine.choose_storage(m, model)?;
                }
                let least = machine::least_memory_mib(m);
                let memory = match a.memory {
                    Some(mib) if mib < least => {
                        return Err(fail!(
                            "--memory {mib} MiB is less than the {least} MiB system `{}` needs",
                            m.system
                        ));
                    }
                    Some(mib) => mib,
                    None => machine.memory_mib,
                };
                vm.memory_mib(memory);
                let disk = match machine.disk {
                    Some(_) => machine::disk_image(a.disk.as_deref(), machine::disk_bytes(memory))?,
                    None => PathBuf::new(),
                };
                let args = machine.qemu_args(&disk);
                vm.args(&args.iter().map(String::as_str).collect::<Vec<_>>());
                for f in &machine.forwards {
                    println!("net: 127.0.0.1:{} -> port {} in Basalt", f.host, f.guest);
                }
                machine::announce_when_ready(machine.forwards, Duration::from_secs(600));
            }
            let status = vm.run_foreground(a.timeout)?;
            if !status {
                return Err(fail!("QEMU did not exit cleanly"));
            }
        }
        Command::Test(a) => {
            let plan = selftest::plan(a.filter())?;
            if a.list {
                for name in plan.names() {
                    println!("{name}");
                }
                return Ok(());
            }
            preflight(&plan.host_tools())?;
            config::check_for_test(a.config.as_deref())?;
            selftest::run_all(&plan, a.accel.accel)?
        }
        Command::Fuzz(a) if a.target == cli::FuzzTarget::Redis => {
            fuzz_redis::run(a.seed, a.seeds, a.sequences)?
        }
        Command::Fuzz(a) => {
            preflight(&qemu_tools(false))?;
            fuzz::run(&fuzz::Campaign {
                seed: a.seed,
                seeds: a.seeds,
                calls: a.calls,
                profile: build::Profile::from_release(a.release),
                accel: a.accel.accel,
                timeout: a.timeout.map(Duration::from_secs),
            })?
        }
        Command::Check(a) => {
            let dir = config::resolve(a.config.config.as_deref());
            let m = config::load(&dir)?;
            println!(
                "{}: system `{}` is valid ({} components)",
                dir.display(),
                m.system,
                m.components.len()
            );
        }
        Command::Compose(a) => {
            // Prebuilt binaries need no toolchain.
            match a.bins {
                Some(_) => tools::require(&tools::IMAGE)?,
                None => preflight(&tools::IMAGE)?,
            }
            let from = match &a.bins {
                Some(bins) => compose::Binaries::Prebuilt(bins),
                None => compose::Binaries::Build(build::Profile::Release),
            };
            let m = compose::compose(&a.config, from, &a.output)?;
            println!(
                "image: {} (system `{}`: {} components, {} binaries)",
                a.output.display(),
                m.system,
                m.components.len(),
                compose::binaries(&m).len()
            );
        }
        Command::Graph(a) => {
            let m = config::load(&config::resolve(a.config.config.as_deref()))?;
            if a.dot {
                print!("{}", config::graph::dot(&m));
            } else {
                print!("{}", config::graph::text(&m));
            }
        }
        Command::Bench(b) => {
            let name = b.suite.name();
            match b.suite {
                Suite::Kvs(k) | Suite::Memcached(k) => {
                    let service = if name == Service::Memcached.suite() {
                        Service::Memcached
                    } else {
                        Service::Redis
                    };
                    let mut needed = qemu_tools(false);
                    needed.push(match service {
                        Service::Redis => &tools::REDIS_BENCHMARK,
                        Service::Memcached => &tools::MEMCASLAP,
                    });
                    preflight(&needed)?;
                    bench_service::run(&bench_service::Settings {
                        service,
                        accel: k.accel.accel,
                        requests: k.requests,
                        reps: k.reps,
                        icount: k.icount,
                        timeout_secs: k.timeout,
                        linux_kernel: k.linux_kernel,
                        linux_initrd: k.linux_initrd,
                        net: k.net,
                    })?
                }
                Suite::Ipc(a) | Suite::KvsIpc(a) => {
                    preflight(&qemu_tools(false))?;
                    bench::run(name, a.accel.accel, a.icount(), a.timeout)?
                }
            }
        }
        Command::Flash(a) => {
            let image = match a.image {
                Some(image) => image,
                None => {
                    preflight(&tools::IMAGE)?;
                    let out = build::target_dir().join("basalt-flash.iso");
                    compose::system_image(
                        a.config.config.as_deref(),
                        build::Profile::Release,
                        &out,
                    )?;
                    out
                }
            };
            let stdin = std::io::stdin();
            flash::flash(
                &image,
                &a.device,
                &flash::System::this_machine(),
                a.force,
                a.yes,
                &mut stdin.lock(),
                &mut std::io::stdout(),
            )?;
        }
        Command::Gdb(a) => {
            let mut needed = qemu_tools(a.uefi);
            needed.push(&tools::GDB);
            preflight(&needed)?;
            let profile = build::Profile::from_release(a.release);
            let iso = build::target_dir().join("basalt.iso");
            image::build_default(profile, &iso)?;
            qemu::gdb(
                &iso,
                &build::kernel_path(profile),
                firmware(a.uefi),
                a.accel.accel,
            )?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // Bad usage and --help end here (with clap's status: 2 and 0).
    let Some(command) = Cli::parse().command else {
        // `cargo xtask` alone: the overview, as before.
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    };
    match execute(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
