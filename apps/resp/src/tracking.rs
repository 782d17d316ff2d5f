//! Client-side caching: `CLIENT TRACKING`, `CACHING`, `GETREDIR` and
//! `TRACKINGINFO` with Redis 7.0's options and errors, and the delivery
//! of the store's invalidations.
//!
//! The store keeps what each session read and owes it
//! ([`Store::track`](crate::Store::track), `kvs_core::caching`); the
//! front end keeps each connection's options (for `TRACKINGINFO`, `CLIENT
//! LIST` and the checks) and turns an invalidation into what the client
//! hears: a push `[invalidate, keys]` to a RESP3 connection, or, for a
//! connection that redirects, to the redirection: a push again if it
//! speaks RESP3, else a message on `__redis__:invalidate` if it is
//! subscribed to anything. A RESP2 connection that tracks without a
//! redirection hears nothing, as in Redis. `None` for keys (a flush) is
//! a null.

use crate::reply;
use alloc::vec::Vec;
use kvs_core::caching::Mode;
use kvs_core::num::parse_i64;

/// The channel RESP2 redirections hear invalidations on.
pub(crate) const CHANNEL: &[u8] = b"__redis__:invalidate";

/// One connection's tracking, as it asked.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tracking {
    /// Where its invalidations go (0: to itself).
    pub(crate) redirect: u64,
    pub(crate) mode: Mode,
    /// `CLIENT CACHING yes|no` was said for its next command.
    pub(crate) caching: bool,
    /// Its redirection went away.
    pub(crate) broken: bool,
}

/// What `CLIENT TRACKING` asks.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Request<'a> {
    Off,
    On {
        redirect: u64,
        mode: Mode,
        /// The prefixes as given (checked against each other).
        prefixes: Vec<&'a [u8]>,
    },
}

/// `CLIENT TRACKING on|off [options]`: the request, or Redis's error.
/// `exists` says whether a client id is connected (REDIRECT's check).
pub(crate) fn parse<'a>(
    args: &[&'a [u8]],
    current: Option<&Tracking>,
    exists: impl Fn(u64) -> bool,
) -> Result<Request<'a>, alloc::string::String> {
    use alloc::string::{String, ToString};
    let syntax = || "ERR syntax error".to_string();
    let on = match args.first() {
        Some(a) if a.eq_ignore_ascii_case(b"on") => true,
        Some(a) if a.eq_ignore_ascii_case(b"off") => false,
        _ => return Err(syntax()),
    };
    let mut redirect = 0;
    let mut mode = Mode::default();
    let mut prefixes = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let more = i + 1 < args.len();
        let option = args[i];
        if option.eq_ignore_ascii_case(b"redirect") && more {
            i += 1;
            if redirect != 0 {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            let id = parse_i64(args[i])
                .ok_or_else(|| "ERR value is not an integer or out of range".to_string())?;
            match u64::try_from(id) {
                Ok(id) if exists(id) => redirect = id,
                _ => return Err("ERR The client ID you want redirect to does not exist".into()),
            }
        } else if option.eq_ignore_ascii_case(b"bcast") {
            mode.bcast = true;
        } else if option.eq_ignore_ascii_case(b"optin") {
            mode.optin = true;
        } else if option.eq_ignore_ascii_case(b"optout") {
            mode.optout = true;
        } else if option.eq_ignore_ascii_case(b"noloop") {
            mode.noloop = true;
        } else if option.eq_ignore_ascii_case(b"prefix") && more {
            i += 1;
            prefixes.push(args[i]);
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    if !on {
        return Ok(Request::Off);
    }
    if !mode.bcast && !prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if let Some(t) = current
        && t.mode.bcast != mode.bcast
    {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if mode.bcast && (mode.optin || mode.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if mode.optin && mode.optout {
        return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if let Some(t) = current
        && ((mode.optin && t.mode.optout) || (mode.optout && t.mode.optin))
    {
        return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, &p) in prefixes.iter().enumerate() {
        let existing = current
            .map(|t| t.mode.prefixes.as_slice())
            .unwrap_or_default();
        if let Some(old) = existing.iter().find(|old| overlap(old, p)) {
            return Err(alloc::format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(old)
            ));
        }
        if let Some(other) = prefixes[i + 1..].iter().find(|other| overlap(other, p)) {
            return Err(alloc::format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(other)
            ));
        }
    }
    mode.prefixes = prefixes.iter().map(|p| p.to_vec()).collect();
    Ok(Request::On {
        redirect,
        mode,
        prefixes,
    })
}

impl Tracking {
    /// Tracking as `CLIENT TRACKING on` leaves it, after `self` (`None`:
    /// it was off): the options replaced, BCAST's prefixes added (the
    /// empty one when BCAST names none).
    pub(crate) fn enable(old: Option<&Tracking>, redirect: u64, mut mode: Mode) -> Tracking {
        if mode.bcast {
            let mut all = old.map(|t| t.mode.prefixes.clone()).unwrap_or_default();
            if mode.prefixes.is_empty() {
                mode.prefixes.push(Vec::new());
            }
            for p in core::mem::take(&mut mode.prefixes) {
                if !all.contains(&p) {
                    all.push(p);
                }
            }
            all.sort();
            mode.prefixes = all;
        }
        Tracking {
            redirect,
            mode,
            caching: old.is_some_and(|t| t.caching),
            broken: false,
        }
    }

    /// `CLIENT TRACKINGINFO`'s flags, in Redis's order.
    fn flags(&self) -> Vec<&'static str> {
        let m = &self.mode;
        [
            (true, "on"),
            (m.bcast, "bcast"),
            (m.optin, "optin"),
            (m.optout, "optout"),
            (m.optin && self.caching, "caching-yes"),
            (m.optout && self.caching, "caching-no"),
            (m.noloop, "noloop"),
            (self.broken, "broken_redirect"),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect()
    }
}

/// `CLIENT TRACKINGINFO`.
pub(crate) fn info(out: &mut Vec<u8>, tracking: Option<&Tracking>, resp3: bool) {
    reply::map(out, 3, resp3);
    reply::bulk(out, b"flags");
    let flags = tracking.map_or_else(|| alloc::vec!["off"], Tracking::flags);
    reply::set(out, flags.len(), resp3);
    for f in flags {
        reply::bulk(out, f.as_bytes());
    }
    reply::bulk(out, b"redirect");
    reply::int(out, tracking.map_or(-1, |t| t.redirect as i64));
    reply::bulk(out, b"prefixes");
    let prefixes = tracking.map_or(&[][..], |t| t.mode.prefixes.as_slice());
    reply::array(out, prefixes.len());
    for p in prefixes {
        reply::bulk(out, p);
    }
}

/// The invalidation of `keys` (`None`: everything) as a connection
/// hears it: a push `[invalidate, keys]` in RESP3, a message on
/// [`CHANNEL`] in RESP2.
pub(crate) fn message(keys: Option<&[Vec<u8>]>, resp3: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if resp3 {
        reply::push(&mut out, 2, true);
        reply::bulk(&mut out, b"invalidate");
    } else {
        reply::array(&mut out, 3);
        reply::bulk(&mut out, b"message");
        reply::bulk(&mut out, CHANNEL);
    }
    match keys {
        Some(keys) => {
            reply::array(&mut out, keys.len());
            for k in keys {
                reply::bulk(&mut out, k);
            }
        }
        None => reply::null(&mut out, resp3),
    }
    out
}

/// The push a RESP3 connection gets, for each invalidation it is owed,
/// while its redirection `id` is gone.
pub(crate) fn broken(id: u64) -> Vec<u8> {
    let mut out = Vec::new();
    reply::push(&mut out, 2, true);
    reply::bulk(&mut out, b"tracking-redir-broken");
    reply::int(&mut out, id as i64);
    out
}
