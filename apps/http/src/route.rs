//! Which resource a request target names, and the key's percent-decoding.

use alloc::vec::Vec;

/// What a request target names.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Route {
    /// `/kv/{key}`, the key decoded.
    Kv(Vec<u8>),
    /// `/kv/{key}` with a key that does not decode.
    BadKey(KeyError),
    /// `/health`.
    Health,
    /// `/metrics`.
    Metrics,
    /// Anything else.
    NotFound,
}

/// Why the key of `/kv/{key}` was refused (400).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum KeyError {
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// `/kv/` with nothing after it.
    Empty,
}

impl KeyError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            KeyError::BadEscape => "invalid percent-escape in the key",
            KeyError::Empty => "the key is empty",
        }
    }
}

impl Route {
    /// The route of request target `target` (origin form `/path?query`, or
    /// absolute form `http://host/path?query`); `None` if it is neither.
    /// The query is ignored.
    pub(crate) fn resolve(target: &[u8]) -> Option<Route> {
        let path = if target.first() == Some(&b'/') {
            target
        } else {
            absolute_path(target)?
        };
        let path = match path.iter().position(|&b| b == b'?') {
            Some(q) => &path[..q],
            None => path,
        };
        Some(match path {
            b"/health" => Route::Health,
            b"/metrics" => Route::Metrics,
            _ => match path.strip_prefix(b"/kv/") {
                Some(b"") => Route::BadKey(KeyError::Empty),
                Some(key) => percent_decode(key).map_or_else(Route::BadKey, Route::Kv),
                None => Route::NotFound,
            },
        })
    }

    /// The methods the route takes, as `Allow` lists them.
    pub(crate) fn allow(&self) -> &'static str {
        match self {
            Route::Kv(_) | Route::BadKey(_) => "GET, HEAD, PUT, DELETE",
            Route::Health | Route::Metrics | Route::NotFound => "GET, HEAD",
        }
    }
}

/// The path of an absolute-form target (`http://authority/path`), `/` when
/// it has none.
fn absolute_path(target: &[u8]) -> Option<&[u8]> {
    let colon = target.iter().position(|&b| b == b':')?;
    let scheme = &target[..colon];
    if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
        return None;
    }
    let rest = target[colon + 1..].strip_prefix(b"//")?;
    let path = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .map_or(&b"/"[..], |p| &rest[p..]);
    // "http://host?q" has an empty path: the root, with the query.
    Some(if path.first() == Some(&b'?') {
        b"/"
    } else {
        path
    })
}

/// `bytes` with every `%XX` replaced by the byte it encodes (nothing else
/// changes: `+` stays `+`, as in any path).
pub(crate) fn percent_decode(bytes: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|&b| hex(b));
            let lo = bytes.get(i + 2).and_then(|&b| hex(b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(KeyError::BadEscape),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The value of hexadecimal digit `b`.
pub(crate) fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
