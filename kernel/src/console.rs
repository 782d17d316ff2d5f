//! Kernel logging: the `log` facade over the serial console, one line per
//! record as `[LEVEL] target: message`.

use crate::arch::x86_64::serial;
use log::{LevelFilter, Log, Metadata, Record};

struct Console;

impl Log for Console {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            serial::write_fmt(format_args!("[{:<5}] {}\n", record.level(), record.args()));
        }
    }

    fn flush(&self) {}
}

static CONSOLE: Console = Console;

/// Routes `log` records to the serial console at `level` and below.
pub fn init(level: LevelFilter) {
    // A second call only changes the level; the logger itself stays.
    let _ = log::set_logger(&CONSOLE);
    log::set_max_level(level);
}

/// Prints to the console without a level prefix (boot summary, reports).
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::arch::x86_64::serial::write_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}
