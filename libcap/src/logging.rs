//! The [`log`] crate's macros, printed on the debug console with the
//! program's name in front:
//!
//! ```text
//! hello-client: server says "Hello, world!"      (info)
//! hello-client: warning: retrying                  (warn)
//! hello-client: error: no channel greeter          (error)
//! hello-client: debug: reply words [1, 2]          (debug, trace)
//! ```
//!
//! A component's runtime sets this up before `main`, with the level from
//! its argument `log` (`off`, `error`, `warn`, `info`, `debug`, `trace`;
//! default `info`). A root task calls [`log_init`] or [`log_init_as`].
//! Each line is one `DebugWrite` when it fits in
//! [`console::CHUNK`](crate::console::CHUNK) bytes, so lines of different
//! components do not mix.
//!
//! ```no_run
//! libcap::log_init_as("init"); // a root task; components need not
//! libcap::log::info!("system {} has {} components", "hello", 2);
//! ```

use crate::runtime::SetOnce;
use crate::start::Start;
use core::fmt;
use log::{Level, LevelFilter, Log, Metadata, Record};

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;
static PREFIX: SetOnce<&'static str> = SetOnce::new();

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            crate::console::print(format_args!(
                "{}",
                Line {
                    prefix: prefix(),
                    level: record.level(),
                    args: *record.args(),
                }
            ));
        }
    }

    fn flush(&self) {}
}

fn prefix() -> &'static str {
    PREFIX
        .get()
        .copied()
        .unwrap_or_else(crate::runtime::program_name)
}

/// One formatted log line, newline included.
struct Line<'a> {
    prefix: &'a str,
    level: Level,
    args: fmt::Arguments<'a>,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Info => "",
            Level::Error => "error: ",
            Level::Warn => "warning: ",
            Level::Debug => "debug: ",
            Level::Trace => "trace: ",
        };
        writeln!(f, "{}: {tag}{}", self.prefix, self.args)
    }
}

/// Sends the [`log`] macros to the debug console with the program's name
/// (the component's, or `roottask`) in front, at level `info`. Calling it
/// again changes nothing; a component need not call it at all.
///
/// ```no_run
/// libcap::log_init();
/// libcap::log::info!("ready"); // prints "roottask: ready" on Basalt
/// ```
pub fn log_init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// Like [`log_init`], with `name` in front of every line (for a root task
/// such as `init`). The first name given stays.
///
/// ```no_run
/// libcap::log_init_as("init");
/// libcap::log::warn!("no config"); // "init: warning: no config"
/// ```
pub fn log_init_as(name: &'static str) {
    let _ = PREFIX.set(name);
    log_init();
}

/// The component runtime's set-up: the logger, and the level from the
/// `log` argument (an unknown value keeps `info` and says so).
pub(crate) fn init_for_component(start: &'static Start) {
    log_init();
    if let Some(level) = start.arg("log") {
        match level.parse::<LevelFilter>() {
            Ok(filter) => log::set_max_level(filter),
            Err(_) => log::warn!("unknown log level {level:?}; using info"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(level: Level, args: fmt::Arguments<'_>) -> String {
        Line {
            prefix: "hello-client",
            level,
            args,
        }
        .to_string()
    }

    #[test]
    fn info_lines_carry_only_the_name_and_others_their_level() {
        assert_eq!(
            line(Level::Info, format_args!("all calls succeeded")),
            "hello-client: all calls succeeded\n"
        );
        assert_eq!(
            line(Level::Warn, format_args!("retry {}", 2)),
            "hello-client: warning: retry 2\n"
        );
        assert_eq!(
            line(Level::Error, format_args!("x")),
            "hello-client: error: x\n"
        );
        assert_eq!(
            line(Level::Debug, format_args!("x")),
            "hello-client: debug: x\n"
        );
        assert_eq!(
            line(Level::Trace, format_args!("x")),
            "hello-client: trace: x\n"
        );
    }

    #[test]
    fn level_names_parse_as_the_log_argument_expects() {
        for (name, filter) in [
            ("off", LevelFilter::Off),
            ("error", LevelFilter::Error),
            ("warn", LevelFilter::Warn),
            ("info", LevelFilter::Info),
            ("debug", LevelFilter::Debug),
            ("TRACE", LevelFilter::Trace),
        ] {
            assert_eq!(name.parse::<LevelFilter>(), Ok(filter));
        }
        assert!("loud".parse::<LevelFilter>().is_err());
    }
}
