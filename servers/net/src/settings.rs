//! The server's config arguments, parsed and checked (see `docs/net.md`
//! for the table).

use crate::service::Limits;
use crate::stack::Addressing;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;
use smoltcp::time::Duration;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// Everything the arguments decide (the wiring ones, `dma`, `device`,
/// `wake` and `app-<region>`, are bound to their grants by the
/// component's generated view, not here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// DHCP, or the static `address` (and `gateway`).
    pub addressing: Addressing,
    /// Socket limits and sizes.
    pub limits: Limits,
}

/// The value arguments as given (`None`: not in `[args]`), typed as the
/// server declares them (sizes in bytes, seconds and counts as numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Given {
    /// `address`: `dhcp` or an IPv4 address with its prefix length.
    pub address: Option<&'static str>,
    /// `gateway`: an IPv4 address (with a static `address` only).
    pub gateway: Option<&'static str>,
    /// `max-sockets`: TCP sockets in all, 1-65536.
    pub max_sockets: Option<u64>,
    /// `rx-buffer`: bytes of a TCP socket's receive buffer.
    pub rx_buffer: Option<u64>,
    /// `tx-buffer`: bytes of a TCP socket's send buffer.
    pub tx_buffer: Option<u64>,
    /// `rx-window`: bytes an app's connection may hold unread.
    pub rx_window: Option<u64>,
    /// `backlog`: the most listening sockets one listener keeps.
    pub backlog: Option<u64>,
    /// `syn-timeout`: seconds a half-open connection lives.
    pub syn_timeout: Option<u64>,
    /// `tcp-timeout`: seconds an idle connection lives without an answer.
    pub tcp_timeout: Option<u64>,
    /// `max-udp`: UDP sockets in all.
    pub max_udp: Option<u64>,
    /// `udp-buffer`: bytes of a UDP socket's buffers.
    pub udp_buffer: Option<u64>,
}

/// A bad argument: its name, its value and what it must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgError {
    /// The argument.
    pub key: &'static str,
    /// Its value.
    pub value: Shown,
    /// What it must be.
    pub wanted: &'static str,
}

/// An argument's value in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Text as given.
    Text(&'static str),
    /// A number (a size in bytes, a count).
    Number(u64),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Shown::Text(v) => write!(f, "argument {} = \"{v}\": {}", self.key, self.wanted),
            Shown::Number(n) => write!(f, "argument {} = {n}: {}", self.key, self.wanted),
        }
    }
}

impl Settings {
    /// The settings the arguments give.
    ///
    /// # Errors
    ///
    /// The first argument that does not parse or is out of range.
    ///
    /// ```
    /// use net::settings::{Given, Settings};
    /// use net::stack::Addressing;
    /// let s = Settings::new(Given {
    ///     address: Some("192.168.7.2/24"),
    ///     max_sockets: Some(64),
    ///     ..Given::default()
    /// })
    /// .unwrap();
    /// assert!(matches!(s.addressing, Addressing::Static { gateway: None, .. }));
    /// assert_eq!(s.limits.max_sockets, 64);
    /// assert!(Settings::new(Given { rx_buffer: Some(10), ..Given::default() }).is_err());
    /// ```
    pub fn new(given: Given) -> Result<Self, ArgError> {
        let d = Limits::default();
        let within = |key: &'static str, value: Option<u64>, default: usize, min: u64, max: u64| {
            value.map_or(Ok(default), |n| {
                if (min..=max).contains(&n) {
                    Ok(n as usize)
                } else {
                    Err(ArgError {
                        key,
                        value: Shown::Number(n),
                        wanted: "within the documented range (docs/net.md)",
                    })
                }
            })
        };
        let seconds = |key: &'static str, value: Option<u64>, default: Duration| {
            value.map_or(Ok(default), |s| {
                if (1..=3600).contains(&s) {
                    Ok(Duration::from_secs(s))
                } else {
                    Err(ArgError {
                        key,
                        value: Shown::Number(s),
                        wanted: "whole seconds, 1 to 3600",
                    })
                }
            })
        };
        let g = given;
        let limits = Limits {
            max_sockets: within("max-sockets", g.max_sockets, d.max_sockets, 1, 65_536)?,
            rx_buffer: within("rx-buffer", g.rx_buffer, d.rx_buffer, 1024, 1 << 20)?,
            tx_buffer: within("tx-buffer", g.tx_buffer, d.tx_buffer, 1024, 1 << 20)?,
            rx_window: within("rx-window", g.rx_window, d.rx_window, 1024, 1 << 20)?,
            max_backlog: within("backlog", g.backlog, d.max_backlog, 1, 1024)?,
            syn_timeout: seconds("syn-timeout", g.syn_timeout, d.syn_timeout)?,
            tcp_timeout: seconds("tcp-timeout", g.tcp_timeout, d.tcp_timeout)?,
            max_udp: within("max-udp", g.max_udp, d.max_udp, 0, 1024)?,
            udp_buffer: within("udp-buffer", g.udp_buffer, d.udp_buffer, 2048, 1 << 20)?,
        };
        let addressing = match g.address {
            None | Some("dhcp") => Addressing::Dhcp,
            Some(v) => {
                let address = Ipv4Cidr::from_str(v.trim()).map_err(|()| ArgError {
                    key: "address",
                    value: Shown::Text(v),
                    wanted: "\"dhcp\" or an IPv4 address with prefix length, e.g. \"10.0.2.15/24\"",
                })?;
                let gateway = g
                    .gateway
                    .map(|gw| {
                        Ipv4Address::from_str(gw.trim()).map_err(|_| ArgError {
                            key: "gateway",
                            value: Shown::Text(gw),
                            wanted: "an IPv4 address, e.g. \"10.0.2.2\"",
                        })
                    })
                    .transpose()?;
                Addressing::Static { address, gateway }
            }
        };
        if let (Addressing::Dhcp, Some(gw)) = (addressing, g.gateway) {
            return Err(ArgError {
                key: "gateway",
                value: Shown::Text(gw),
                wanted: "only with a static `address` (DHCP gives the gateway)",
            });
        }
        Ok(Self { addressing, limits })
    }
}

/// A bad socket quota (`quota-<region>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaError {
    /// `quota-<region>` is not from 1 to `max-sockets`.
    Malformed {
        /// The app's region.
        region: &'static str,
        /// The argument's value.
        value: u64,
    },
    /// `quota-<region>` names a region that is no app's (no
    /// `app-<region>`).
    NoSuchApp {
        /// The region.
        region: &'static str,
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

/// Each app's socket quota, in the order of `regions` (the apps'
/// regions): its `quota-<region>` argument where `given`, else an even
/// share of what the given ones leave of `max_sockets` (the argument).
/// If the heap holds only `served` sockets, every quota shrinks in
/// proportion (to one socket at least), so that they still add up to at
/// most the pool.
///
/// # Errors
///
/// A quota that is not from 1 to `max_sockets`, or for a region that is
/// no app's, quotas that add up to more than `max_sockets`, or nothing
/// left for an app without one.
///
/// ```
/// use net::settings::{QuotaError, quotas};
/// let given = [("http-net", 100)];
/// let apps = ["resp-net", "http-net", "echo-net"];
/// assert_eq!(quotas(&given, &apps, 1100, 1100), Ok(vec![500, 100, 500]));
/// // A heap that holds half the sockets halves every quota.
/// assert_eq!(quotas(&given, &apps, 1100, 550), Ok(vec![250, 50, 250]));
/// assert_eq!(quotas(&[], &apps[..2], 1100, 1100), Ok(vec![550, 550]));
/// assert_eq!(
///     quotas(&[("resp-net", 600), ("http-net", 600)], &apps[..2], 1100, 1100),
///     Err(QuotaError::Oversubscribed { given: 1200, max_sockets: 1100 })
/// );
/// ```
pub fn quotas(
    given: &[(&'static str, u64)],
    regions: &[&'static str],
    max_sockets: usize,
    served: usize,
) -> Result<Vec<usize>, QuotaError> {
    if let Some(&(region, _)) = given.iter().find(|(r, _)| !regions.contains(r)) {
        return Err(QuotaError::NoSuchApp { region });
    }
    let given = regions
        .iter()
        .map(|&region| {
            given
                .iter()
                .find(|(r, _)| *r == region)
                .map(|&(_, value)| {
                    usize::try_from(value)
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
