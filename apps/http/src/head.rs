//! Parsing a request's head (the request line and the header fields) and
//! deciding how its body is framed.

use crate::Limits;
use crate::route::Route;
use crate::status::{Method, Status};

/// Why a request was refused in a way that leaves the stream unusable: the
/// server answers and closes the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reject {
    /// The request line is not `method SP target SP HTTP/x.y`.
    RequestLine,
    /// The target is neither `/path` nor `http://host/path`.
    Target,
    /// A header field is not `name: value` (or its value holds control
    /// characters, or a bare CR ends a line).
    HeaderLine,
    /// A header line starts with whitespace (obsolete line folding).
    Folded,
    /// `Content-Length` is not a number, or two of them differ.
    ContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`.
    LengthAndEncoding,
    /// `Transfer-Encoding` whose last coding is not `chunked` (or it is
    /// `chunked` twice), or any `Transfer-Encoding` in HTTP/1.0.
    TransferEncoding,
    /// A transfer coding other than `chunked` (`gzip, chunked`).
    UnsupportedCoding,
    /// An HTTP/1.1 request without exactly one `Host`, or an HTTP/1.0 one
    /// with several.
    Host,
    /// An `Expect` other than `100-continue`.
    Expectation,
    /// An HTTP version other than 1.0 and 1.1.
    Version,
    /// No end of the request line within [`Limits::max_head`] bytes.
    LineTooLong,
    /// No end of the head within [`Limits::max_head`] bytes (or of the
    /// trailer section of a chunked body).
    HeadTooLarge,
    /// More header fields than [`Limits::max_fields`].
    TooManyFields,
    /// A body (or its announced length) over [`Limits::max_body`].
    BodyTooLarge,
    /// A chunked body whose framing is malformed.
    Chunk,
    /// The request's bytes do not fit what the other connections leave of
    /// [`Limits::max_buffered`] (or the heap refused the allocation): it
    /// is not buffered.
    Busy,
}

impl Reject {
    /// The status answered.
    pub fn status(self) -> Status {
        match self {
            Reject::RequestLine
            | Reject::Target
            | Reject::HeaderLine
            | Reject::Folded
            | Reject::ContentLength
            | Reject::LengthAndEncoding
            | Reject::TransferEncoding
            | Reject::Host
            | Reject::Chunk => Status::BadRequest,
            Reject::UnsupportedCoding => Status::NotImplemented,
            Reject::Expectation => Status::ExpectationFailed,
            Reject::Version => Status::VersionNotSupported,
            Reject::LineTooLong => Status::UriTooLong,
            Reject::HeadTooLarge | Reject::TooManyFields => Status::HeaderFieldsTooLarge,
            Reject::BodyTooLarge => Status::ContentTooLarge,
            Reject::Busy => Status::ServiceUnavailable,
        }
    }

    /// The message of the JSON error body.
    pub fn message(self) -> &'static str {
        match self {
            Reject::RequestLine => "malformed request line",
            Reject::Target => "malformed request target",
            Reject::HeaderLine => "malformed header field",
            Reject::Folded => "folded header lines are not accepted",
            Reject::ContentLength => "invalid Content-Length",
            Reject::LengthAndEncoding => "both Content-Length and Transfer-Encoding",
            Reject::TransferEncoding => "invalid Transfer-Encoding",
            Reject::UnsupportedCoding => "only the chunked transfer coding is supported",
            Reject::Host => "an HTTP/1.1 request needs exactly one Host header",
            Reject::Expectation => "only Expect: 100-continue is supported",
            Reject::Version => "only HTTP/1.0 and HTTP/1.1 are supported",
            Reject::LineTooLong => "request line too long",
            Reject::HeadTooLarge => "request header fields too large",
            Reject::TooManyFields => "too many header fields",
            Reject::BodyTooLarge => "request body too large",
            Reject::Chunk => "malformed chunked body",
            Reject::Busy => "too many request bytes waiting in the server: retry later",
        }
    }
}

/// A refused request, with its method when the request line said it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Rejected {
    pub(crate) reject: Reject,
    pub(crate) method: Method,
}

/// How the body is delimited.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes (more than 0).
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What the server needs to know of a request's head.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) route: Route,
    /// The connection stays open after the response.
    pub(crate) keep_alive: bool,
    /// HTTP/1.0 (which keeps the connection only when asked to).
    pub(crate) http10: bool,
    pub(crate) framing: Framing,
    /// `Expect: 100-continue` in an HTTP/1.1 request.
    pub(crate) expect_continue: bool,
}

/// Parses `head`: the request line and the header lines, each ended by LF
/// (an optional CR before it), up to and including the empty line that
/// ends the head.
pub(crate) fn parse(head: &[u8], limits: &Limits) -> Result<Head, Rejected> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = lines.next().unwrap_or_default();
    let (method, target, http10) = request_line_parts(request_line)?;
    let reject = |reject| Rejected { reject, method };

    let mut fields = Fields::default();
    let mut count = 0;
    // The head's only empty lines are its last two pieces: the line that
    // ends it, and what follows that line's LF.
    for line in lines.filter(|l| !l.is_empty()) {
        count += 1;
        if count > limits.max_fields {
            return Err(reject(Reject::TooManyFields));
        }
        fields.add(line).map_err(reject)?;
    }
    let route = Route::resolve(target).ok_or(reject(Reject::Target))?;
    let framing = fields.framing(http10, limits).map_err(reject)?;
    if (!http10 && fields.hosts != 1) || fields.hosts > 1 {
        return Err(reject(Reject::Host));
    }
    let keep_alive = !fields.close && (!http10 || fields.keep_alive);
    Ok(Head {
        method,
        route,
        keep_alive,
        http10,
        framing,
        // RFC 9110 §10.1.1: a server ignores 100-continue from HTTP/1.0.
        expect_continue: fields.expect_continue && !http10,
    })
}

/// The method, target and version (`true` for 1.0) of the request line.
fn request_line_parts(line: &[u8]) -> Result<(Method, &[u8], bool), Rejected> {
    let bad = |method| Rejected {
        reject: Reject::RequestLine,
        method,
    };
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(Method::Other));
    };
    if !is_token(method) {
        return Err(bad(Method::Other));
    }
    let m = Method::from_token(method);
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(Rejected {
                reject: Reject::Version,
                method: m,
            });
        }
        _ => return Err(bad(m)),
    };
    if target.is_empty() || !target.iter().all(|&b| b > b' ' && b != 0x7f) {
        return Err(Rejected {
            reject: Reject::Target,
            method: m,
        });
    }
    Ok((m, target, http10))
}

/// The header fields that matter, gathered line by line.
#[derive(Default)]
struct Fields {
    content_length: Option<u64>,
    /// Transfer codings seen, and whether the last was `chunked`.
    codings: usize,
    chunked: usize,
    last_chunked: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    hosts: usize,
}

impl Fields {
    fn add(&mut self, line: &[u8]) -> Result<(), Reject> {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return Err(Reject::Folded);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Reject::HeaderLine)?;
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if !is_token(name)
            || !value
                .iter()
                .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f))
        {
            return Err(Reject::HeaderLine);
        }
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("content-length") {
            let mut elements = 0;
            for element in list(value) {
                let n = parse_length(element).ok_or(Reject::ContentLength)?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(Reject::ContentLength);
                }
                self.content_length = Some(n);
                elements += 1;
            }
            if elements == 0 {
                return Err(Reject::ContentLength);
            }
        } else if is("transfer-encoding") {
            for coding in list(value) {
                self.codings += 1;
                self.last_chunked = coding.eq_ignore_ascii_case(b"chunked");
                if self.last_chunked {
                    self.chunked += 1;
                }
            }
        } else if is("connection") {
            for option in list(value) {
                if option.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                }
            }
        } else if is("expect") {
            for expectation in list(value) {
                if expectation.eq_ignore_ascii_case(b"100-continue") {
                    self.expect_continue = true;
                } else {
                    return Err(Reject::Expectation);
                }
            }
        } else if is("host") {
            self.hosts += 1;
        }
        Ok(())
    }

    fn framing(&self, http10: bool, limits: &Limits) -> Result<Framing, Reject> {
        if self.codings > 0 {
            if http10 {
                return Err(Reject::TransferEncoding);
            }
            if self.content_length.is_some() {
                return Err(Reject::LengthAndEncoding);
            }
            if !self.last_chunked || self.chunked > 1 {
                return Err(Reject::TransferEncoding);
            }
            if self.codings > 1 {
                return Err(Reject::UnsupportedCoding);
            }
            return Ok(Framing::Chunked);
        }
        match self.content_length {
            None | Some(0) => Ok(Framing::Empty),
            Some(n) => match usize::try_from(n) {
                Ok(n) if n <= limits.max_body => Ok(Framing::Length(n)),
                _ => Err(Reject::BodyTooLarge),
            },
        }
    }
}

/// A `Content-Length` value: decimal digits only. Values beyond what a
/// `u64` holds saturate (they are over any body limit anyway).
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// The non-empty elements of a comma-separated list, trimmed.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|e| !e.is_empty())
}

/// `bytes` without leading and trailing spaces and tabs.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// RFC 9110's `token`: one or more of the visible characters that are not
/// delimiters.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}
