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

/// What the command line asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Args {
    pub log_level: LevelFilter,
    pub self_test: Option<SelfTest>,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            log_level: LevelFilter::Info,
            self_test: None,
        }
    }
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
    fn unknown_words_and_bad_values_are_reported_not_applied() {
        let (args, bad) = parse("quiet loglevel=loud test=everything test=boot");
        assert_eq!(args.log_level, LevelFilter::Info);
        assert_eq!(args.self_test, Some(SelfTest::Boot));
        assert_eq!(bad, ["quiet", "loglevel=loud", "test=everything"]);
    }
}
