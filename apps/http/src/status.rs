//! The request methods and response statuses the server tells apart (also
//! the labels of its metrics).

/// A request method, as far as the routes care.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: `GET` without the body.
    Head,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// Any other method, or none (the request line could not be read).
    Other,
}

impl Method {
    /// Every method, in the order the metrics list them.
    pub const ALL: [Method; 5] = [
        Method::Get,
        Method::Head,
        Method::Put,
        Method::Delete,
        Method::Other,
    ];

    /// The method named `token` (case-sensitive, as HTTP's methods are).
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }

    /// The label the metrics give it.
    pub fn label(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Other => "other",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A response status the server sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// 100: the client may send the body it announced with
    /// `Expect: 100-continue`.
    Continue,
    /// 200.
    Ok,
    /// 201: `PUT` created the key.
    Created,
    /// 204: `PUT` replaced the key's value, or `DELETE` removed it.
    NoContent,
    /// 400: the request is malformed (or the key's escapes are).
    BadRequest,
    /// 404: no such key, or no such route.
    NotFound,
    /// 405: the route does not take that method (`Allow` lists those it
    /// takes).
    MethodNotAllowed,
    /// 409: the key holds a value that is not a string (a list, a hash, …).
    Conflict,
    /// 413: the body is larger than the configured limit (or than the
    /// store's connection carries).
    ContentTooLarge,
    /// 414: the request line is longer than the head limit.
    UriTooLong,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: the head is larger than its limit, or has too many fields.
    HeaderFieldsTooLarge,
    /// 500: the store's reply could not be understood, or a value is too
    /// large to fetch.
    InternalServerError,
    /// 501: a transfer coding other than `chunked`.
    NotImplemented,
    /// 503: the store is unreachable, or refused the operation.
    ServiceUnavailable,
    /// 505: an HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
}

impl Status {
    /// Every final (non-1xx) status, in the order the metrics list them.
    pub const FINAL: [Status; 15] = [
        Status::Ok,
        Status::Created,
        Status::NoContent,
        Status::BadRequest,
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::Conflict,
        Status::ContentTooLarge,
        Status::UriTooLong,
        Status::ExpectationFailed,
        Status::HeaderFieldsTooLarge,
        Status::InternalServerError,
        Status::NotImplemented,
        Status::ServiceUnavailable,
        Status::VersionNotSupported,
    ];

    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            Status::Continue => 100,
            Status::Ok => 200,
            Status::Created => 201,
            Status::NoContent => 204,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::Conflict => 409,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::ExpectationFailed => 417,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::VersionNotSupported => 505,
        }
    }

    /// The reason phrase of the status line (RFC 9110's).
    pub fn reason(self) -> &'static str {
        match self {
            Status::Continue => "Continue",
            Status::Ok => "OK",
            Status::Created => "Created",
            Status::NoContent => "No Content",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::Conflict => "Conflict",
            Status::ContentTooLarge => "Content Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::ExpectationFailed => "Expectation Failed",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// Its index in [`Status::FINAL`]; `None` for 100.
    pub(crate) fn final_index(self) -> Option<usize> {
        Status::FINAL.iter().position(|&s| s == self)
    }
}
