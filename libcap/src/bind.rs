//! Binding a program's declared arguments to what its config grants: the
//! readers that the generated `Args::bind` calls, one per kind (see
//! `libcap-link`'s `bindings` and docs/config.md, "Arguments"). A program
//! does not call these itself; it includes its view with
//! [`include_args!`](crate::include_args) and calls `Args::bind(start)`.
//!
//! A wiring argument names a grant: by its value in `[args]`, or, when
//! `[args]` is silent, by its own key (a channel argument `kvs` binds the
//! channel `kvs`). `cargo xtask check` holds every config to its
//! binaries' declarations, so on a checked system nothing here fails; the
//! errors are for a system built some other way.
//!
//! ```
//! use libcap::bind::{self, ArgError, Named};
//! # let start = libcap::start::testing::start();
//! // What a generated `Args::bind` does for `exit`, `rx` and `greeter`:
//! assert_eq!(bind::value(start, "exit", bind::text), Ok(Some("on-success")));
//! let rx: Named<libcap::start::SharedRegion> = bind::wired(start, "rx", bind::region).unwrap();
//! assert_eq!((rx.name, rx.cap.len()), ("rx", 16384));
//! assert!(bind::wired(start, "greeter", bind::channel).is_ok());
//! assert_eq!(
//!     bind::wired(start, "missing", bind::channel).unwrap_err(),
//!     ArgError::NotGranted { key: "missing", name: "missing", kind: "channel" }
//! );
//! ```

use crate::cap::{Endpoint, Notification};
use crate::start::{Irq, PortRange, SharedRegion, Start};
use core::fmt;

/// A grant and the name the config gave it (for messages and logs).
#[derive(Debug)]
pub struct Named<T> {
    /// The grant's name in the config.
    pub name: &'static str,
    /// The capability, region or range.
    pub cap: T,
}

/// The most arguments one family binds (a component has at most
/// [`start_info::MAX_CAPS`](basalt_abi::start_info::MAX_CAPS) grants to
/// name).
pub const FAMILY_MAX: usize = basalt_abi::start_info::MAX_CAPS;

/// A family's arguments (`quota-<region>`): each one's hole (`resp-net`)
/// and value, in the order of `[args]`. Fixed-size, as libcap needs no
/// allocator.
#[derive(Debug)]
pub struct Family<T> {
    entries: [Option<(&'static str, T)>; FAMILY_MAX],
    len: usize,
}

impl<T> Family<T> {
    /// The (hole, value) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &T)> {
        self.entries[..self.len]
            .iter()
            .flatten()
            .map(|(hole, v)| (*hole, v))
    }

    /// How many arguments the family has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T> IntoIterator for Family<T> {
    type Item = (&'static str, T);
    type IntoIter =
        core::iter::Flatten<core::array::IntoIter<Option<(&'static str, T)>, FAMILY_MAX>>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter().flatten()
    }
}

/// How one argument's value is read: from the start page (for grants),
/// the key (for messages) and the text.
pub type Reader<T> = fn(&Start, &'static str, &'static str) -> Result<T, ArgError>;

/// Why the arguments do not bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// A wiring argument names nothing of its kind that the component was
    /// granted (or a region that was taken before).
    NotGranted {
        /// The argument.
        key: &'static str,
        /// The grant it names.
        name: &'static str,
        /// What it should be (`region`, `channel`, …).
        kind: &'static str,
    },
    /// A value does not read as its kind.
    Malformed {
        /// The argument.
        key: &'static str,
        /// Its value.
        value: &'static str,
        /// What it should be (`a count`, `"yes" or "no"`, …).
        kind: &'static str,
    },
    /// More than [`FAMILY_MAX`] arguments of one family.
    TooMany {
        /// The family's fixed part before the hole.
        prefix: &'static str,
    },
    /// A count larger than the component's type for it holds
    /// ([`fit`]).
    TooLarge {
        /// The argument.
        key: &'static str,
        /// Its value.
        value: u64,
    },
}

impl fmt::Display for ArgError {
    /// ```
    /// let e = libcap::bind::ArgError::Malformed { key: "port", value: "x", kind: "a port, 1-65535" };
    /// assert_eq!(e.to_string(), "argument port = \"x\": not a port, 1-65535");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGranted { key, name, kind } => {
                write!(f, "argument {key}: no {kind} `{name}` is granted")
            }
            Self::Malformed { key, value, kind } => {
                write!(f, "argument {key} = \"{value}\": not {kind}")
            }
            Self::TooLarge { key, value } => write!(f, "argument {key} = {value}: too large"),
            Self::TooMany { prefix } => {
                write!(f, "more than {FAMILY_MAX} arguments {prefix}<name>")
            }
        }
    }
}

/// A value argument: `None` when `[args]` does not give it.
pub fn value<T>(start: &Start, key: &'static str, read: Reader<T>) -> Result<Option<T>, ArgError> {
    start.arg(key).map(|v| read(start, key, v)).transpose()
}

/// A wiring argument: the grant its value names, or the one named like
/// the key when `[args]` is silent.
pub fn wired<T>(start: &Start, key: &'static str, read: Reader<T>) -> Result<T, ArgError> {
    read(start, key, start.arg(key).unwrap_or(key))
}

/// An optional wiring argument: the grant its value names; when `[args]`
/// is silent, the one named like the key if there is one.
pub fn wired_optional<T>(
    start: &Start,
    key: &'static str,
    read: Reader<T>,
) -> Result<Option<T>, ArgError> {
    match start.arg(key) {
        Some(v) => read(start, key, v).map(Some),
        None => Ok(read(start, key, key).ok()),
    }
}

/// A family: every argument `prefix<hole>suffix`, each read as a `T`.
pub fn family<T>(
    start: &Start,
    prefix: &'static str,
    suffix: &'static str,
    read: Reader<T>,
) -> Result<Family<T>, ArgError> {
    let mut out = Family {
        entries: [const { None }; FAMILY_MAX],
        len: 0,
    };
    for (key, value) in start.args() {
        let Some(hole) = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .filter(|hole| !hole.is_empty())
        else {
            continue;
        };
        // A key given twice: the last line wins, as for `Start::arg`.
        let v = read(start, key, value)?;
        let entries = &mut out.entries[..out.len];
        match entries.iter_mut().flatten().find(|(h, _)| *h == hole) {
            Some(slot) => slot.1 = v,
            None => {
                let slot = out
                    .entries
                    .get_mut(out.len)
                    .ok_or(ArgError::TooMany { prefix })?;
                *slot = Some((hole, v));
                out.len += 1;
            }
        }
    }
    Ok(out)
}

/// Text, as it is.
pub fn text(_: &Start, _: &'static str, value: &'static str) -> Result<&'static str, ArgError> {
    Ok(value)
}

/// A whole number, 0 or more.
///
/// ```
/// # let start = libcap::start::testing::start();
/// assert_eq!(libcap::bind::count(start, "n", "42"), Ok(42));
/// assert!(libcap::bind::count(start, "n", "-1").is_err());
/// ```
pub fn count(_: &Start, key: &'static str, value: &'static str) -> Result<u64, ArgError> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    value
        .parse()
        .ok()
        .filter(|_| digits)
        .ok_or(ArgError::Malformed {
            key,
            value,
            kind: "a count",
        })
}

/// A TCP or UDP port, 1-65535.
///
/// ```
/// # let start = libcap::start::testing::start();
/// assert_eq!(libcap::bind::port(start, "port", "6379"), Ok(6379));
/// assert!(libcap::bind::port(start, "port", "0").is_err());
/// assert!(libcap::bind::port(start, "port", "65536").is_err());
/// ```
pub fn port(start: &Start, key: &'static str, value: &'static str) -> Result<u16, ArgError> {
    count(start, key, value)
        .ok()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p != 0)
        .ok_or(ArgError::Malformed {
            key,
            value,
            kind: "a port, 1-65535",
        })
}

/// A size in bytes, as configs write them ([`basalt_abi::size`]).
///
/// ```
/// # let start = libcap::start::testing::start();
/// assert_eq!(libcap::bind::size(start, "rx", "8 KiB"), Ok(8192));
/// assert!(libcap::bind::size(start, "rx", "8 KB").is_err());
/// ```
pub fn size(_: &Start, key: &'static str, value: &'static str) -> Result<u64, ArgError> {
    basalt_abi::size::parse(value).map_err(|_| ArgError::Malformed {
        key,
        value,
        kind: "a size (bytes, KiB, MiB or GiB)",
    })
}

/// Count `value` of argument `key` as the type the component keeps it
/// in (a backlog as a `u16`, say).
///
/// ```
/// use libcap::bind::{ArgError, fit};
/// assert_eq!(fit::<u16>("backlog", 128), Ok(128));
/// assert_eq!(fit::<u16>("backlog", 70_000), Err(ArgError::TooLarge { key: "backlog", value: 70_000 }));
/// ```
pub fn fit<T: TryFrom<u64>>(key: &'static str, value: u64) -> Result<T, ArgError> {
    T::try_from(value).map_err(|_| ArgError::TooLarge { key, value })
}

/// `value` as a grant of `kind` that `find` returns.
fn granted<T>(
    key: &'static str,
    value: &'static str,
    kind: &'static str,
    found: Option<T>,
) -> Result<Named<T>, ArgError> {
    found
        .map(|cap| Named { name: value, cap })
        .ok_or(ArgError::NotGranted {
            key,
            name: value,
            kind,
        })
}

/// A shared region (handed out once: see [`Start::shared_region`]).
pub fn region(
    start: &Start,
    key: &'static str,
    value: &'static str,
) -> Result<Named<SharedRegion>, ArgError> {
    granted(key, value, "region", start.shared_region(value))
}

/// A notification the component waits on.
pub fn notification(
    start: &Start,
    key: &'static str,
    value: &'static str,
) -> Result<Named<Notification>, ArgError> {
    granted(key, value, "notification", start.notification(value))
}

/// A notification of another component, which this one signals.
pub fn signal(
    start: &Start,
    key: &'static str,
    value: &'static str,
) -> Result<Named<Notification>, ArgError> {
    granted(key, value, "notification to signal", start.signal(value))
}

/// A channel the component serves or uses.
pub fn channel(
    start: &Start,
    key: &'static str,
    value: &'static str,
) -> Result<Named<Endpoint>, ArgError> {
    let found = start.served(value).or_else(|| start.channel(value));
    granted(key, value, "channel", found)
}

/// An IRQ handler.
pub fn irq(start: &Start, key: &'static str, value: &'static str) -> Result<Named<Irq>, ArgError> {
    granted(key, value, "IRQ", start.irq(value))
}

/// An I/O-port range.
pub fn io_ports(
    start: &Start,
    key: &'static str,
    value: &'static str,
) -> Result<Named<PortRange>, ArgError> {
    granted(key, value, "I/O-port range", start.io_ports(value))
}

/// A device's name: the prefix of its grants (`<name>.bar0`,
/// `<name>.config`, …), or a `kind = "irq"` or `"io-ports"` device's
/// own grant.
pub fn device(
    start: &Start,
    key: &'static str,
    value: &'static str,
) -> Result<&'static str, ArgError> {
    let own = |name: &str| {
        name == value
            || name
                .strip_prefix(value)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    start
        .grants()
        .any(|g| own(g.name))
        .then_some(value)
        .ok_or(ArgError::NotGranted {
            key,
            name: value,
            kind: "device",
        })
}

/// Includes the typed view of the program's arguments that its build
/// script (`libcap_link::user_program`) generated from the crate's
/// `[package.metadata.basalt.args]`: a struct `Args` with a field per
/// argument and `Args::bind(start)`.
///
/// ```ignore
/// mod args {
///     libcap::include_args!();
/// }
/// fn run(start: &'static libcap::Start) -> Result<(), libcap::bind::ArgError> {
///     let args = args::Args::bind(start)?;
///     let port = args.port.unwrap_or(6379);
///     # Ok(())
/// }
/// ```
#[macro_export]
macro_rules! include_args {
    () => {
        include!(concat!(env!("OUT_DIR"), "/basalt_args.rs"));
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::start::testing;
    use basalt_abi::start_info::CapKind;

    fn start(args: &str) -> &'static Start {
        let info = testing::info(
            "t",
            &[
                (CapKind::Notification, "wake", 0, 0),
                (CapKind::Signal, "peer-ev", 0, 0),
                (CapKind::ServedChannel, "kvs", 0, 0),
                (CapKind::DeviceMemory, "nic.bar0", 0, 0),
            ],
            args,
        );
        Box::leak(Box::new(Start::new(Box::leak(Box::new(info))).unwrap()))
    }

    #[test]
    fn wiring_binds_by_value_else_by_key() {
        let s = start("event = peer-ev\n");
        assert_eq!(wired(s, "event", signal).unwrap().name, "peer-ev");
        assert_eq!(wired(s, "wake", notification).unwrap().name, "wake");
        // A notification it owns is not one it may signal.
        assert_eq!(
            wired(s, "wake", signal).unwrap_err(),
            ArgError::NotGranted {
                key: "wake",
                name: "wake",
                kind: "notification to signal"
            }
        );
        assert_eq!(wired(s, "kvs", channel).unwrap().name, "kvs");
        assert_eq!(wired(s, "nic", device), Ok("nic"));
        assert!(wired(s, "ni", device).is_err());
        assert_eq!(wired_optional(s, "other", device), Ok(None));
        let s = start("other = gone\n");
        assert!(wired_optional(s, "other", device).is_err());
    }

    #[test]
    fn values_and_families() {
        let s = start("a = 7\nquota-x = 1\nquota-y = 2\nquota-x = 3\nquota- = 9\nb = no\n");
        assert_eq!(value(s, "a", count), Ok(Some(7)));
        assert_eq!(value(s, "z", count), Ok(None));
        assert_eq!(
            value(s, "b", count),
            Err(ArgError::Malformed {
                key: "b",
                value: "no",
                kind: "a count"
            })
        );
        let quotas = family(s, "quota-", "", count).unwrap();
        assert_eq!(quotas.len(), 2);
        assert_eq!(quotas.into_iter().collect::<Vec<_>>(), [("x", 3), ("y", 2)]);
    }
}
