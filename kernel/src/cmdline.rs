//! The kernel command line, as the boot loader passes it (GRUB's
//! `multiboot2 /boot/kernel.elf ARGS`): space-separated `key=value` words.

use log::LevelFilter;

/// A self-test the kernel runs instead of a normal boot; it reports the
/// result through QEMU's `isa-debug-exit` device (`cargo xtask test`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SelfTest {
    /// Boot fully, check the timer ticks, exit with success.
    Boot,
    /// Touch an unmapped kernel address; the fault handler must report it.
    PageFault,
    /// Run the root task (a test suite); it ends the run through the
    /// `DebugExit` system call.
    RootTask,
}

/// Where the kernel console goes (`console=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Console {
    /// The UART the firmware's SPCR table names, else COM1 (the default).
    Auto,
    /// A 16550 UART at this I/O port: `console=ttyS0`…`ttyS3` (0x3f8,
    /// 0x2f8, 0x3e8, 0x2e8) or `console=0x2f8`.
    Serial(u16),
    /// A memory-mapped 16550 at this physical address: `console=mmio,0x…`
    /// (byte registers, one a byte) or `console=mmio32,0x…` (32-bit
    /// registers, one every 4 bytes), as Linux's `earlycon` names them.
    Mmio { address: u64, dword: bool },
    /// No serial port (`console=none`): the screen alone.
    Screen,
}

/// What the command line asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Args {
    pub log_level: LevelFilter,
    pub self_test: Option<SelfTest>,
    pub console: Console,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            log_level: LevelFilter::Info,
            self_test: None,
            console: Console::Auto,
        }
    }
}

/// The I/O port `console=` names, if it names one.
fn serial_port(value: &str) -> Option<u16> {
    const PORTS: [u16; 4] = [0x3f8, 0x2f8, 0x3e8, 0x2e8];
    if let Some(n) = value.strip_prefix("ttyS") {
        return PORTS.get(n.parse::<usize>().ok()?).copied();
    }
    let hex = value.strip_prefix("0x")?;
    u16::from_str_radix(hex, 16)
        .ok()
        .filter(|&p| p != 0 && p <= 0xfff8)
}

/// The memory-mapped UART `console=mmio,0x…` or `mmio32,0x…` names: a
/// page-aligned-or-not physical address, not 0, below 2^52.
fn mmio_uart(value: &str) -> Option<Console> {
    let (kind, address) = value.split_once(',')?;
    let dword = match kind {
        "mmio" => false,
        "mmio32" => true,
        _ => return None,
    };
    let address = u64::from_str_radix(address.strip_prefix("0x")?, 16)
        .ok()
        .filter(|&a| a != 0 && a < 1 << 52)?;
    Some(Console::Mmio { address, dword })
}

/// A word of the command line the kernel does not understand.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnknownArg<'a>(pub &'a str);

impl Args {
    /// Parses `line`; words it cannot use go to `unknown` so the caller can
    /// report them once logging is up.
    pub fn parse<'a>(line: &'a str, mut unknown: impl FnMut(UnknownArg<'a>)) -> Self {
        let mut args = Self::default();
        for word in line.split_ascii_whitespace() {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            let understood = match key {
                "loglevel" => value.parse().map(|l| args.log_level = l).is_ok(),
                "console" => match value {
                    "none" => Some(Console::Screen),
                    _ => serial_port(value)
                        .map(Console::Serial)
                        .or_else(|| mmio_uart(value)),
                }
                .map(|c| args.console = c)
                .is_some(),
                "test" => match value {
                    "boot" => Some(SelfTest::Boot),
                    "pagefault" => Some(SelfTest::PageFault),
                    "roottask" => Some(SelfTest::RootTask),
                    _ => None,
                }
                .map(|t| args.self_test = Some(t))
                .is_some(),
                _ => false,
            };
            if !understood {
                unknown(UnknownArg(word));
            }
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (Args, Vec<&str>) {
        let mut bad = Vec::new();
        let args = Args::parse(line, |u| bad.push(u.0));
        (args, bad)
    }

    #[test]
    fn empty_line_gives_defaults() {
        assert_eq!(parse(""), (Args::default(), vec![]));
    }

    #[test]
    fn known_words_are_applied() {
        assert_eq!(parse("test=roottask").0.self_test, Some(SelfTest::RootTask));
        let (args, bad) = parse("  loglevel=debug   test=pagefault ");
        assert_eq!(args.log_level, LevelFilter::Debug);
        assert_eq!(args.self_test, Some(SelfTest::PageFault));
        assert!(bad.is_empty());
    }

    #[test]
    fn console_names_a_serial_port_or_none() {
        assert_eq!(parse("").0.console, Console::Auto);
        assert_eq!(parse("console=ttyS1").0.console, Console::Serial(0x2f8));
        assert_eq!(parse("console=0x3e8").0.console, Console::Serial(0x3e8));
        assert_eq!(parse("console=none").0.console, Console::Screen);
        let (args, bad) = parse("console=ttyS4 console=0x0 console=lp0 console=0xffff");
        assert_eq!(args.console, Console::Auto);
        assert_eq!(
            bad,
            [
                "console=ttyS4",
                "console=0x0",
                "console=lp0",
                "console=0xffff"
            ]
        );
    }

    #[test]
    fn console_names_a_memory_mapped_uart() {
        assert_eq!(
            parse("console=mmio32,0xfe032000").0.console,
            Console::Mmio {
                address: 0xfe03_2000,
                dword: true
            }
        );
        assert_eq!(
            parse("console=mmio,0xFED00000").0.console,
            Console::Mmio {
                address: 0xfed0_0000,
                dword: false
            }
        );
        let (args, bad) = parse(
            "console=mmio,0 console=mmio16,0x1000 console=mmio,1000 console=mmio32,0x10000000000000",
        );
        assert_eq!(args.console, Console::Auto);
        assert_eq!(bad.len(), 4);
    }

    #[test]
    fn unknown_words_and_bad_values_are_reported_not_applied() {
        let (args, bad) = parse("quiet loglevel=loud test=everything test=boot");
        assert_eq!(args.log_level, LevelFilter::Info);
        assert_eq!(args.self_test, Some(SelfTest::Boot));
        assert_eq!(bad, ["quiet", "loglevel=loud", "test=everything"]);
    }
}
