//! Running Basalt under QEMU (q35) with SeaBIOS or OVMF.

use crate::tools::{self, GDB, QEMU};
use crate::{Result, fail};
use crate::{build, image};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    /// Software emulation: slow but works everywhere.
    #[default]
    Tcg,
    /// Hardware virtualisation through /dev/kvm (`-cpu host`).
    Kvm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    Bios,
    Uefi,
}

/// How the image is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Cdrom,
    /// A raw hard disk, as when the image is written to a USB stick.
    Disk,
    /// No medium: QEMU loads the files written beside the image
    /// ([`image::Direct`]) itself and enters the kernel (SeaBIOS only).
    Direct,
}

pub struct Vm {
    command: Command,
    /// This run's private copy of the UEFI variable store.
    vars: Option<PathBuf>,
}

/// What a captured run produced.
pub struct Outcome {
    /// QEMU's exit status (`None` if it was killed at the timeout).
    pub status: Option<i32>,
    pub serial: String,
}

static RUN: AtomicU32 = AtomicU32::new(0);

impl Vm {
    /// QEMU's machine without anything to boot: q35, 256 MiB, one CPU.
    fn machine(accel: Accel) -> Result<Command> {
        tools::require(&[&QEMU])?;
        let mut c = Command::new("qemu-system-x86_64");
        c.args([
            "-machine",
            "q35",
            "-m",
            "256M",
            "-no-reboot",
            "-display",
            "none",
        ]);
        match accel {
            Accel::Tcg => c.args(["-accel", "tcg", "-cpu", "max"]),
            Accel::Kvm => {
                if !Path::new("/dev/kvm").exists() {
                    return Err(fail!(
                        "--accel kvm needs /dev/kvm; use --accel tcg on this machine"
                    ));
                }
                c.args(["-accel", "kvm", "-cpu", "host"])
            }
        };
        Ok(c)
    }

    /// The same machine booting a Linux kernel directly (`-kernel`,
    /// `-initrd`, `-append`) under SeaBIOS, as the Linux baseline of
    /// `cargo xtask bench kvs` boots.
    pub fn linux(kernel: &Path, initrd: &Path, append: &str, accel: Accel) -> Result<Self> {
        let mut c = Self::machine(accel)?;
        boot_directly(&mut c, kernel, initrd, append);
        Ok(Self {
            command: c,
            vars: None,
        })
    }

    pub fn new(image: &Path, media: Media, firmware: Firmware, accel: Accel) -> Result<Self> {
        let mut c = Self::machine(accel)?;
        match media {
            Media::Cdrom => {
                c.arg("-cdrom").arg(image);
            }
            Media::Disk => {
                c.arg("-drive").arg(format!(
                    "file={},format=raw,if=ide,media=disk",
                    image.display()
                ));
            }
            Media::Direct if firmware == Firmware::Uefi => {
                return Err(fail!(
                    "QEMU's direct boot runs under SeaBIOS: boot the image under OVMF instead"
                ));
            }
            Media::Direct => {
                let direct = image::Direct::beside(image);
                boot_directly(
                    &mut c,
                    &direct.kernel,
                    &direct.archive,
                    &direct.command_line()?,
                );
            }
        }
        let mut vars = None;
        if firmware == Firmware::Uefi {
            let (code, template) = tools::ovmf()?;
            let dir = build::target_dir().join("qemu");
            fs::create_dir_all(&dir)?;
            let copy = dir.join(format!(
                "ovmf-vars-{}-{}.fd",
                std::process::id(),
                RUN.fetch_add(1, Ordering::Relaxed)
            ));
            fs::copy(&template, &copy)
                .map_err(|e| fail!("cannot copy {}: {e}", template.display()))?;
            c.arg("-drive").arg(format!(
                "if=pflash,format=raw,readonly=on,file={}",
                code.display()
            ));
            c.arg("-drive")
                .arg(format!("if=pflash,format=raw,file={}", copy.display()));
            vars = Some(copy);
        }
        Ok(Self { command: c, vars })
    }

    /// Replaces the CPU model (TCG only: exercises older-CPU code paths).
    pub fn cpu(&mut self, model: &str) -> &mut Self {
        self.replace("-cpu", model)
    }

    /// Replaces the guest's memory size (256 MiB unless told).
    pub fn memory_mib(&mut self, mib: u64) -> &mut Self {
        self.replace("-m", &format!("{mib}M"))
    }

    /// Replaces the value of QEMU option `flag`.
    fn replace(&mut self, flag: &str, value: &str) -> &mut Self {
        let args: Vec<_> = self.command.get_args().map(|a| a.to_os_string()).collect();
        let mut c = Command::new(self.command.get_program());
        let mut it = args.iter();
        while let Some(a) = it.next() {
            c.arg(a);
            if a == flag {
                it.next();
                c.arg(value);
            }
        }
        self.command = c;
        self
    }

    /// Adds QEMU arguments of the caller's own (`-icount ...`, say).
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.command.args(args);
        self
    }

    /// Serial console and QEMU monitor on this terminal (Ctrl-A X quits).
    pub fn interactive(&mut self) -> &mut Self {
        self.command.args(["-serial", "mon:stdio"]);
        self
    }

    /// Adds the device through which self-tests report their result.
    pub fn debug_exit(&mut self) -> &mut Self {
        self.command
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        self
    }

    fn spawn(&mut self) -> Result<Child> {
        // libslirp listens on forwarded ports with a backlog of 1, which
        // loses connections that a client opens at once.
        let forwards = self
            .command
            .get_args()
            .any(|a| a.to_string_lossy().contains("hostfwd="));
        if forwards {
            self.command.env("LD_PRELOAD", build::listen_backlog()?);
        }
        self.command
            .spawn()
            .map_err(|e| fail!("cannot start qemu-system-x86_64: {e}"))
    }

    /// Runs attached to the terminal until QEMU exits or `timeout` passes.
    /// Returns whether QEMU exited successfully.
    pub fn run_foreground(mut self, timeout_secs: Option<u64>) -> Result<bool> {
        let mut child = self.spawn()?;
        let deadline = timeout_secs.map(|s| Instant::now() + Duration::from_secs(s));
        let status = wait(&mut child, deadline, || false)?;
        Ok(match status {
            Some(code) => code == 0,
            None => {
                eprintln!(
                    "\nxtask: stopped QEMU after {} s (--timeout)",
                    timeout_secs.unwrap_or(0)
                );
                true
            }
        })
    }

    /// Runs with the serial console captured, killing QEMU at `timeout`.
    pub fn run_captured(self, log: &Path, timeout: Duration) -> Result<Outcome> {
        self.run_until(log, timeout, |_| false)
    }

    /// Runs with the serial console captured, killing QEMU (SIGKILL: no
    /// clean shutdown, as a power cut) at `timeout` or as soon as `stop`
    /// says so about the serial output so far.
    pub fn run_until(
        mut self,
        log: &Path,
        timeout: Duration,
        mut stop: impl FnMut(&str) -> bool,
    ) -> Result<Outcome> {
        let _ = fs::remove_file(log);
        self.command
            .arg("-serial")
            .arg(format!("file:{}", log.display()));
        self.command
            .args(["-monitor", "none"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut child = self.spawn()?;
        let read = || {
            fs::read(log)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let status = wait(&mut child, Some(Instant::now() + timeout), || stop(&read()))?;
        Ok(Outcome {
            status,
            serial: read(),
        })
    }

    /// Runs with the serial console captured until `ready` (asked every
    /// 100 ms with the serial output so far) says the guest is ready, then
    /// runs `work` while the guest runs on, then kills QEMU (SIGKILL: a
    /// power cut). QEMU is killed at `boot_timeout` if the guest is not
    /// ready by then; `work` must bound its own time.
    pub fn serve<T>(
        self,
        log: &Path,
        boot_timeout: Duration,
        mut ready: impl FnMut(&str) -> bool,
        work: impl FnOnce() -> T,
    ) -> Result<Served<T>> {
        let mut work = Some(work);
        let mut result = None;
        let outcome = self.run_until(log, boot_timeout, |serial| {
            if !ready(serial) {
                return false;
            }
            result = work.take().map(|w| w());
            true
        })?;
        Ok(Served {
            result,
            status: outcome.status,
            serial: outcome.serial,
        })
    }
}

/// What [`Vm::serve`] produced.
pub struct Served<T> {
    /// What the work gave; `None` if the guest never became ready.
    pub result: Option<T>,
    /// QEMU's exit status if it ended on its own (`None`: killed, after
    /// the work or at the boot timeout).
    pub status: Option<i32>,
    pub serial: String,
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(vars) = &self.vars {
            let _ = fs::remove_file(vars);
        }
    }
}

/// QEMU's own loading of a kernel (`-kernel`), its initrd and its
/// command line, as Linux and Basalt's direct boot take them.
fn boot_directly(c: &mut Command, kernel: &Path, initrd: &Path, append: &str) {
    c.arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", append]);
}

/// Waits for `child` (QEMU, or any other program); at `deadline`, or once
/// `stop` (asked every 100 ms) says so, kills it and returns `None`.
pub fn wait(
    child: &mut Child,
    deadline: Option<Instant>,
    mut stop: impl FnMut() -> bool,
) -> Result<Option<i32>> {
    let mut next_ask = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status.code().unwrap_or(-1)));
        }
        let now = Instant::now();
        let stopping = now >= next_ask && {
            next_ask = now + Duration::from_millis(100);
            stop()
        };
        if stopping || deadline.is_some_and(|d| now >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Boots `image` halted under QEMU's gdb stub and runs gdb on `kernel`.
pub fn gdb(image: &Path, kernel: &Path, firmware: Firmware, accel: Accel) -> Result<()> {
    tools::require(&[&GDB])?;
    let log = build::target_dir().join("qemu").join("gdb-serial.log");
    fs::create_dir_all(log.parent().expect("log has a parent"))?;
    let mut vm = Vm::new(image, Media::Cdrom, firmware, accel)?;
    vm.command
        .args(["-s", "-S", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", log.display()));
    let mut qemu = vm.spawn()?;
    eprintln!(
        "xtask: QEMU waits for gdb on localhost:1234; serial output goes to {}",
        log.display()
    );
    let status = Command::new("gdb")
        .arg("-q")
        .args(["-ex", "set architecture i386:x86-64"])
        .arg("-ex")
        .arg(format!("file {}", kernel.display()))
        .args(["-ex", "target remote localhost:1234"])
        .status();
    let _ = qemu.kill();
    let _ = qemu.wait();
    status.map_err(|e| fail!("cannot run gdb: {e}"))?;
    Ok(())
}
