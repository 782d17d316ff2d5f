//! The server's config arguments, parsed and checked (see `docs/net.md`
//! for the table).

use crate::service::Limits;
use crate::stack::Addressing;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;
use smoltcp::time::Duration;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// Everything the arguments decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings<'a> {
    /// DHCP, or the static `address` (and `gateway`).
    pub addressing: Addressing,
    /// Socket limits and sizes.
    pub limits: Limits,
    /// The DMA region's name (`dma`, default `net-dma`).
    pub dma: &'a str,
    /// The PCI device's name (`device`, default `nic`).
    pub device: &'a str,
    /// The notification apps signal (`wake`, default `net-wake`); the
    /// device's interrupt signals it too.
    pub wake: &'a str,
}

/// A bad argument: its name and what is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgError {
    /// The argument.
    pub key: &'static str,
    /// Its value.
    pub value: Option<&'static str>,
    /// What it must be.
    pub wanted: &'static str,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Some(v) => write!(f, "argument {} = \"{v}\": {}", self.key, self.wanted),
            None => write!(f, "argument {}: {}", self.key, self.wanted),
        }
    }
}

/// A size in bytes: a number, optionally with `KiB` or `MiB` (`"8 KiB"`).
///
/// ```
/// use net::settings::parse_size;
/// assert_eq!(parse_size("4096"), Some(4096));
/// assert_eq!(parse_size("8 KiB"), Some(8192));
/// assert_eq!(parse_size("2MiB"), Some(2 << 20));
/// assert_eq!(parse_size("8 KB"), None);
/// ```
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let n: usize = digits.parse().ok()?;
    let scale = match unit {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        _ => return None,
    };
    n.checked_mul(scale)
}

impl Settings<'static> {
    /// The settings the arguments (`arg(key)`) give.
    ///
    /// # Errors
    ///
    /// The first argument that does not parse or is out of range.
    ///
    /// ```
    /// use net::settings::Settings;
    /// use net::stack::Addressing;
    /// let s = Settings::from_args(|k| match k {
    ///     "address" => Some("192.168.7.2/24"),
    ///     "max-sockets" => Some("64"),
    ///     _ => None,
    /// })
    /// .unwrap();
    /// assert!(matches!(s.addressing, Addressing::Static { gateway: None, .. }));
    /// assert_eq!(s.limits.max_sockets, 64);
    /// assert!(Settings::from_args(|k| (k == "rx-buffer").then_some("lots")).is_err());
    /// ```
    pub fn from_args(arg: impl Fn(&str) -> Option<&'static str>) -> Result<Self, ArgError> {
        let d = Limits::default();
        let size = |key: &'static str, default: usize, min: usize, max: usize| {
            arg(key).map_or(Ok(default), |v| {
                parse_size(v)
                    .filter(|n| (min..=max).contains(n))
                    .ok_or(ArgError {
                        key,
                        value: Some(v),
                        wanted: "a size within the documented range (docs/net.md)",
                    })
            })
        };
        let seconds = |key: &'static str, default: Duration| {
            arg(key).map_or(Ok(default), |v| {
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|&s| (1..=3600).contains(&s))
                    .map(Duration::from_secs)
                    .ok_or(ArgError {
                        key,
                        value: Some(v),
                        wanted: "whole seconds, 1 to 3600",
                    })
            })
        };
        let limits = Limits {
            max_sockets: size("max-sockets", d.max_sockets, 1, 65_536)?,
            rx_buffer: size("rx-buffer", d.rx_buffer, 1024, 1 << 20)?,
            tx_buffer: size("tx-buffer", d.tx_buffer, 1024, 1 << 20)?,
            rx_window: size("rx-window", d.rx_window, 1024, 1 << 20)?,
            max_backlog: size("backlog", d.max_backlog, 1, 1024)?,
            syn_timeout: seconds("syn-timeout", d.syn_timeout)?,
            tcp_timeout: seconds("tcp-timeout", d.tcp_timeout)?,
            max_udp: size("max-udp", d.max_udp, 0, 1024)?,
            udp_buffer: size("udp-buffer", d.udp_buffer, 2048, 1 << 20)?,
        };
        let addressing = match arg("address") {
            None | Some("dhcp") => Addressing::Dhcp,
            Some(v) => {
                let address = Ipv4Cidr::from_str(v.trim()).map_err(|()| ArgError {
                    key: "address",
                    value: Some(v),
                    wanted: "\"dhcp\" or an IPv4 address with prefix length, e.g. \"10.0.2.15/24\"",
                })?;
                let gateway = arg("gateway")
                    .map(|g| {
                        Ipv4Address::from_str(g.trim()).map_err(|_| ArgError {
                            key: "gateway",
                            value: Some(g),
                            wanted: "an IPv4 address, e.g. \"10.0.2.2\"",
                        })
                    })
                    .transpose()?;
                Addressing::Static { address, gateway }
            }
        };
        if matches!(addressing, Addressing::Dhcp) && arg("gateway").is_some() {
            return Err(ArgError {
                key: "gateway",
                value: arg("gateway"),
                wanted: "only with a static `address` (DHCP gives the gateway)",
            });
        }
        Ok(Self {
            addressing,
            limits,
            dma: arg("dma").unwrap_or("net-dma"),
            device: arg("device").unwrap_or("nic"),
            wake: arg("wake").unwrap_or("net-wake"),
        })
    }
}

/// A bad socket quota (`quota-<region>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaError {
    /// `quota-<region>` is not a whole number from 1 to `max-sockets`.
    Malformed {
        /// The app's region.
        region: &'static str,
        /// The argument's value.
        value: &'static str,
    },
    /// The quotas given add up to more than `max-sockets`.
    Oversubscribed {
        /// Their sum.
        given: usize,
        /// `max-sockets`.
        max_sockets: usize,
    },
    /// The quotas given leave nothing to share for the app on `region`,
    /// which has none.
    NoneLeft {
        /// The app's region.
        region: &'static str,
    },
}

/// The argument that sets the socket quota of the app on `region`.
pub fn quota_key(region: &str) -> String {
    alloc::format!("quota-{region}")
}

/// Each app's socket quota, in the order of `regions` (the apps'
/// regions): its `quota-<region>` argument where given, else an even
/// share of what the given ones leave of `max_sockets` (the argument).
/// If the heap holds only `served` sockets, every quota shrinks in
/// proportion (to one socket at least), so that they still add up to at
/// most the pool.
///
/// # Errors
///
/// A quota that is not a number from 1 to `max_sockets`, quotas that add
/// up to more than `max_sockets`, or nothing left for an app without one.
///
/// ```
/// use net::settings::{QuotaError, quotas};
/// let arg = |k: &str| (k == "quota-http-net").then_some("100");
/// let apps = ["resp-net", "http-net", "echo-net"];
/// assert_eq!(quotas(arg, &apps, 1100, 1100), Ok(vec![500, 100, 500]));
/// // A heap that holds half the sockets halves every quota.
/// assert_eq!(quotas(arg, &apps, 1100, 550), Ok(vec![250, 50, 250]));
/// assert_eq!(quotas(|_| None, &apps[..2], 1100, 1100), Ok(vec![550, 550]));
/// assert_eq!(
///     quotas(|_| Some("600"), &apps[..2], 1100, 1100),
///     Err(QuotaError::Oversubscribed { given: 1200, max_sockets: 1100 })
/// );
/// ```
pub fn quotas(
    arg: impl Fn(&str) -> Option<&'static str>,
    regions: &[&'static str],
    max_sockets: usize,
    served: usize,
) -> Result<Vec<usize>, QuotaError> {
    let given = regions
        .iter()
        .map(|&region| {
            arg(&quota_key(region))
                .map(|value| {
                    value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=max_sockets).contains(n))
                        .ok_or(QuotaError::Malformed { region, value })
                })
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sum: usize = given.iter().flatten().sum();
    if sum > max_sockets {
        return Err(QuotaError::Oversubscribed {
            given: sum,
            max_sockets,
        });
    }
    let unset = given.iter().filter(|q| q.is_none()).count();
    let share = (max_sockets - sum) / unset.max(1);
    regions
        .iter()
        .zip(given)
        .map(|(&region, quota)| match quota.unwrap_or(share) {
            0 => Err(QuotaError::NoneLeft { region }),
            // At most `max_sockets` * 65536 (the arguments' ranges): no
            // overflow.
            q => Ok((q * served.min(max_sockets) / max_sockets).max(1)),
        })
        .collect()
}

impl Limits {
    /// These limits with as many sockets as `heap` bytes hold after
    /// `reserve` bytes for everything else (never more than asked for);
    /// `None` if not even one socket fits.
    ///
    /// ```
    /// use net::service::Limits;
    /// let asked = Limits { max_sockets: 1000, ..Limits::default() };
    /// let fitted = asked.fit(4 << 20, 1 << 20).unwrap();
    /// assert!(fitted.max_sockets < 1000);
    /// assert!(fitted.tcp_bytes() + fitted.udp_bytes() <= 3 << 20);
    /// assert_eq!(asked.fit(64 << 20, 1 << 20), Some(asked));
    /// ```
    pub fn fit(self, heap: usize, reserve: usize) -> Option<Self> {
        let room = heap.checked_sub(reserve + self.udp_bytes())?;
        let per = self.rx_buffer + self.tx_buffer + crate::service::SOCKET_OVERHEAD;
        let max_sockets = (room / per).min(self.max_sockets);
        (max_sockets > 0).then_some(Self {
            max_sockets,
            ..self
        })
    }
}
