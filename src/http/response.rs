//! Response bytes: status line, the fixed headers every answer carries, the caller's headers,
//! the body. Pure: appends to a buffer the connection owns.

use std::borrow::Cow;
use std::ops::Deref;
use std::rc::Rc;

/// A response body: static bytes, bytes written for this request, or bytes cached across
/// requests (`/health`'s, rebuilt only when the state changes) that a response shares
/// instead of copying.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Static(&'static [u8]),
    Owned(Vec<u8>),
    Shared(Rc<[u8]>),
}

impl Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Body::Static(b) => b,
            Body::Owned(b) => b,
            Body::Shared(b) => b,
        }
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Self {
        Body::Static(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::Owned(b)
    }
}

impl From<Rc<[u8]>> for Body {
    fn from(b: Rc<[u8]>) -> Self {
        Body::Shared(b)
    }
}

/// A response about to be serialized.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Fixed values (most are) are borrowed, not copied into a `String` per request.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// `Cache-Control: no-store`, the one header most answers carry, without a `headers` entry.
    pub no_store: bool,
    pub body: Body,
    /// Close the connection after this response (errors that leave the stream unsynchronized).
    pub close: bool,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Body>) -> Self {
        Response::of(status, content_type, body.into())
    }
    /// Not inlined: a response is built at some twenty sites.
    #[inline(never)]
    fn of(status: u16, content_type: &'static str, body: Body) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            no_store: false,
            body,
            close: false,
        }
    }
    /// A JSON body written with `crate::json`; the line ends here.
    pub fn json(status: u16, mut body: Vec<u8>) -> Self {
        body.push(b'\n');
        Response::new(status, "application/json", body)
    }
    /// `{"error": message}` with the given status.
    pub fn error(status: u16, message: &str) -> Self {
        let mut body = Vec::with_capacity(16 + message.len());
        crate::json::Obj::new(&mut body).str("error", message).end();
        Response::json(status, body)
    }
    pub fn header(self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.with_header(name, value.into())
    }
    /// One copy for every header added, whatever the value's type.
    #[inline(never)]
    fn with_header(mut self, name: &'static str, value: Cow<'static, str>) -> Self {
        self.headers.push((name, value));
        self
    }
    pub fn no_store(mut self) -> Self {
        self.no_store = true;
        self
    }
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// Append the response bytes to `out`. `date` is the preformatted IMF-fixdate.
    pub fn write_to(
        &self,
        out: &mut Vec<u8>,
        head_only: bool,
        keep_alive: bool,
        minor_version: u8,
        date: &str,
    ) {
        let keep_alive = keep_alive && !self.close;
        // Plain byte pushes, no `core::fmt`: this runs once per request.
        out.reserve(192 + self.body.len());
        out.extend_from_slice(b"HTTP/1.1 ");
        crate::json::uint(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        for part in [
            "\r\nDate: ",
            date,
            "\r\nServer: banwatch\r\nContent-Type: ",
            self.content_type,
            "\r\n",
        ] {
            out.extend_from_slice(part.as_bytes());
        }
        // A 304 has no body and no Content-Length (RFC 9110 8.6 lets it repeat the 200's
        // length, which we do not know here; sending 0 would be wrong).
        if self.status != 304 {
            out.extend_from_slice(b"Content-Length: ");
            crate::json::uint(out, self.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if minor_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        if self.no_store {
            out.extend_from_slice(b"Cache-Control: no-store\r\n");
        }
        for (name, value) in &self.headers {
            for part in [*name, ": ", value.as_ref(), "\r\n"] {
                out.extend_from_slice(part.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
        if !head_only && self.status != 304 {
            out.extend_from_slice(&self.body);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(r: &Response, head_only: bool, keep_alive: bool, minor: u8) -> String {
        let mut out = Vec::new();
        r.write_to(&mut out, head_only, keep_alive, minor, "D");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn response_bytes_are_exact() {
        let hi = Response::new(200, "text/plain", &b"hi"[..]);
        assert_eq!(
            bytes(&hi, false, true, 1),
            "HTTP/1.1 200 OK\r\nDate: D\r\nServer: banwatch\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        );
        assert_eq!(
            bytes(&hi, true, false, 0),
            "HTTP/1.1 200 OK\r\nDate: D\r\nServer: banwatch\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            bytes(&hi.clone().header("ETag", "\"x\""), false, true, 0),
            "HTTP/1.1 200 OK\r\nDate: D\r\nServer: banwatch\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\nETag: \"x\"\r\n\r\nhi"
        );
    }

    #[test]
    fn a_fixed_header_value_is_borrowed_not_copied_per_request() {
        let r = Response::new(200, "text/plain", &b""[..])
            .header("Referrer-Policy", "no-referrer")
            .header("Retry-After", 5.to_string());
        assert!(matches!(r.headers[0].1, Cow::Borrowed("no-referrer")));
        assert_eq!(
            bytes(&r, true, true, 1)
                .matches("Retry-After: 5\r\n")
                .count(),
            1
        );
    }

    #[test]
    fn no_store_is_a_flag_written_before_the_other_headers() {
        let r = Response::new(200, "text/plain", &b""[..])
            .header("Retry-After", "5")
            .no_store();
        assert!(r.headers.len() == 1);
        assert!(bytes(&r, true, true, 1)
            .ends_with("Content-Length: 0\r\nCache-Control: no-store\r\nRetry-After: 5\r\n\r\n"));
    }

    #[test]
    fn a_304_carries_no_content_length() {
        let r = Response::new(304, "text/css", &b""[..]).header("ETag", "\"e\"");
        assert_eq!(
            bytes(&r, false, true, 1),
            "HTTP/1.1 304 Not Modified\r\nDate: D\r\nServer: banwatch\r\nContent-Type: text/css\r\nETag: \"e\"\r\n\r\n"
        );
    }
}
